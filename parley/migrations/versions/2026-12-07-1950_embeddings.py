"""Dense vectors of knowledge-base chunks for hybrid retrieval (optional extra parley[embeddings]).

Revision ID: 0012_embeddings
Revises: 0006_widget
Create Date: 2026-12-07 19:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parley.kit.db
from parley.kit.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "0012_embeddings"
down_revision: str | None = "0011_dashboard"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chunk_embeddings",
        sa.Column("chunk_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("knowledge_base_id", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chunk_id"], ["chunks.id"], name=op.f("fk_chunk_embeddings_chunk_id_chunks"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_chunk_embeddings_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("chunk_id", name=op.f("pk_chunk_embeddings")),
    )
    with op.batch_alter_table("chunk_embeddings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chunk_embeddings_knowledge_base_id"), ["knowledge_base_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_chunk_embeddings_org_id"), ["org_id"], unique=False)
    enable_tenant_rls("chunk_embeddings")


def downgrade() -> None:
    disable_tenant_rls("chunk_embeddings")
    with op.batch_alter_table("chunk_embeddings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chunk_embeddings_org_id"))
        batch_op.drop_index(batch_op.f("ix_chunk_embeddings_knowledge_base_id"))
    op.drop_table("chunk_embeddings")
