"""Only the auth layer (and the platform operations that create or join an organisation) mint tenant scopes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import parley
from parley.kit.context import Actor
from parley.tenancy.permissions import Role
from parley.tenancy.scope import OrgScope

MINTERS = {"parley/auth/dependencies.py", "parley/tenancy/platform.py", "parley/tenancy/scope.py"}


def test_a_scope_cannot_be_constructed_directly():
    with pytest.raises(TypeError):
        OrgScope("org_x", Role.OWNER, Actor.system(), _key=object())


def test_only_the_auth_layer_mints_scopes():
    root = Path(parley.__file__).parent.parent
    users = {
        str(path.relative_to(root))
        for path in (root / "parley").rglob("*.py")
        if re.search(r"\b_mint\b|_MINT_KEY", path.read_text())
    }
    assert users <= MINTERS, users - MINTERS
