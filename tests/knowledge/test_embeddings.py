"""Dense embeddings: the numpy MiniLM forward pass against an independent float64 reference, the worker's
reconciler, hybrid retrieval by reciprocal rank fusion, deletion with the document, and scoping."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from parley.kit.clock import FrozenClock
from parley.kit.context import Actor
from parley.kit.db import unit_of_work
from parley.knowledge import embeddings
from parley.knowledge import search as knowledge_search
from parley.knowledge.service import do_delete_document
from parley.knowledge.vectors import embed_missing
from parley.models import Chunk, ChunkEmbedding
from parley.runtime import Runtime, create_runtime
from parley.settings import Settings
from parley.tenancy import platform
from tests.factories import make_org
from tests.knowledge.test_search import _knowledge_base

ACTOR = Actor.system()


def _reference(sentence: str) -> np.ndarray:
    """all-MiniLM-L6-v2 written out again, separately: float64, one token and one head at a time, math.erf."""
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    model_dir = Path(embeddings.MiniLM.model_dir())
    w = {k: v.astype(np.float64) for k, v in load_file(str(model_dir / "model.safetensors")).items()}
    config = json.loads((model_dir / "config.json").read_text())
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()  # the file pads to 128 tokens; the model pools over real tokens only
    ids = tokenizer.encode(sentence).ids

    def norm(v: np.ndarray, name: str) -> np.ndarray:
        mu, var = v.mean(), v.var()
        return (v - mu) / math.sqrt(var + 1e-12) * w[name + ".weight"] + w[name + ".bias"]

    def dense(v: np.ndarray, name: str) -> np.ndarray:
        return w[name + ".weight"] @ v + w[name + ".bias"]

    e = "embeddings."
    h = [
        norm(
            w[e + "word_embeddings.weight"][t]
            + w[e + "position_embeddings.weight"][i]
            + w[e + "token_type_embeddings.weight"][0],
            e + "LayerNorm",
        )
        for i, t in enumerate(ids)
    ]
    heads, size = config["num_attention_heads"], config["hidden_size"] // config["num_attention_heads"]
    for layer in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{layer}."
        q = [dense(x, p + "attention.self.query") for x in h]
        k = [dense(x, p + "attention.self.key") for x in h]
        v = [dense(x, p + "attention.self.value") for x in h]
        out = []
        for i in range(len(h)):
            context = np.zeros(config["hidden_size"])
            for head in range(heads):
                part = slice(head * size, (head + 1) * size)
                logits = [float(q[i][part] @ k[j][part]) / math.sqrt(size) for j in range(len(h))]
                top = max(logits)
                weights = [math.exp(x - top) for x in logits]
                total = sum(weights)
                context[part] = sum(wt / total * v[j][part] for j, wt in enumerate(weights))
            a = norm(h[i] + dense(context, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            up = np.array([x * 0.5 * (1 + math.erf(x / math.sqrt(2))) for x in dense(a, p + "intermediate.dense")])
            out.append(norm(a + dense(up, p + "output.dense"), p + "output.LayerNorm"))
        h = out
    pooled = np.mean(h, axis=0)
    return pooled / np.linalg.norm(pooled)


def test_the_numpy_forward_pass_matches_an_independent_reference():
    sentences = ["How do I reset my password?", "Nous livrons le mardi.", "a"]
    fast = embeddings.model().encode(sentences)
    assert fast.shape == (3, embeddings.DIMENSIONS) and fast.dtype == np.float32
    for vector, sentence in zip(fast, sentences, strict=True):
        reference = _reference(sentence)
        assert float(vector @ reference) > 0.99999, sentence
        assert np.abs(vector - reference).max() < 1e-4, sentence


def test_paraphrases_are_closer_than_unrelated_sentences():
    a, b, c, d = embeddings.model().encode(
        [
            "How do I reset my password?",
            "I forgot my login password, how can I change it?",
            "The restaurant terrace opens in May.",
            "Our patio is open from the spring.",
        ]
    )
    assert a @ b > 0.7 and c @ d > 0.4
    assert max(a @ c, a @ d, b @ c, b @ d) < 0.25
    # Batching and padding do not change a sentence's vector.
    alone = embeddings.model().encode(["The restaurant terrace opens in May."])[0]
    assert np.abs(alone - c).max() < 1e-5


@pytest.fixture
async def dense_runtime(settings: Settings, clock: FrozenClock) -> AsyncIterator[Runtime]:
    rt = create_runtime(settings.model_copy(update={"embeddings": "minilm"}), clock=clock)
    yield rt
    await rt.close()


PETS = "Dogs and cats are welcome inside the shop as long as they are on a lead."
TEXTS = [
    "We open at nine on weekdays and at ten on Saturdays.",
    "Free parking is available behind the building.",
    PETS,
    "Gift cards can be used online and in store.",
    "Refunds are made within fourteen days of a return.",
]


async def test_the_worker_embeds_chunks_and_hybrid_search_finds_meaning_without_shared_words(
    dense_runtime: Runtime, runtime: Runtime
):
    org = await make_org(dense_runtime)
    kb = await _knowledge_base(dense_runtime, org.id, TEXTS)
    other = await make_org(dense_runtime)
    their_kb = await _knowledge_base(dense_runtime, other.id, [PETS, "Animals may come in."])
    assert await embed_missing(runtime) == {}  # embeddings off: nothing done
    assert await embed_missing(dense_runtime) == {"embedded": len(TEXTS) + 2}
    assert await embed_missing(dense_runtime) == {"embedded": 0}  # idempotent
    async with unit_of_work(dense_runtime.sessionmaker, write=False) as db:
        scope = await platform.system_scope(db, org.id, ACTOR)
        question = "Can I bring my puppy?"  # no word in common with the pets passage
        assert await knowledge_search.search(db, scope, [kb], question, limit=3) == []
        found = await knowledge_search.search(db, scope, [kb], question, limit=3, dense=True)
        assert found[0].text == PETS
        # Keyword and dense agree on a keyword query: its passage stays first, the fused score is RRF's.
        parking = await knowledge_search.search(db, scope, [kb], "where is the parking", limit=2, dense=True)
        assert parking[0].text.startswith("Free parking")
        assert parking[0].score == pytest.approx(2 / 61)
        # Scoping: another organisation's vectors are never scored, even for its knowledge base's id.
        assert await knowledge_search.search(db, scope, [their_kb], question, limit=3, dense=True) == []


async def test_vectors_are_deleted_with_their_document_and_reembedded_on_reingest(dense_runtime: Runtime):
    org = await make_org(dense_runtime)
    kb = await _knowledge_base(dense_runtime, org.id, TEXTS)
    await embed_missing(dense_runtime)
    async with unit_of_work(dense_runtime.sessionmaker) as db:
        scope = await platform.system_scope(db, org.id, ACTOR)
        document_id = await db.scalar(select(Chunk.document_id).where(Chunk.knowledge_base_id == kb).limit(1))
        assert document_id is not None
        assert await db.scalar(select(func.count()).select_from(ChunkEmbedding)) == len(TEXTS)
        await do_delete_document(db, dense_runtime, scope, document_id)
    async with unit_of_work(dense_runtime.sessionmaker, write=False) as db:
        await platform.system_scope(db, org.id, ACTOR)
        assert await db.scalar(select(func.count()).select_from(ChunkEmbedding)) == 0
