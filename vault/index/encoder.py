"""A light text encoder: sentence-transformers BERT models (all-MiniLM-L6-v2 and its kin) run in numpy.

    enc = load("/path/to/model/folder")      # None when this module cannot run that model
    vecs = enc.encode(["did you run the tests"])   # (1, 384) float32, L2-normalised

Why: `vault search --mode semantic` as a command spent 5.7-6.2 s importing sentence_transformers (torch,
transformers) to encode one short query. The same weights run here with `tokenizers` (Rust, ~0.05 s to
import) and a numpy forward pass; the weights are memory-mapped from the model's safetensors file, so
loading reads only the embedding rows a query touches.

What it runs: a sentence-transformers folder whose modules.json is Transformer -> Pooling (mean or CLS)
[-> Normalize], with a BERT config (absolute positions, GELU) and float32/float16 weights in
model.safetensors. It computes what those modules compute (tokenizer truncation at max_seq_length, mean
over the attention mask, L2 normalisation); the tests compare it with sentence-transformers on real text.
For anything else `load` returns None and `why_not` says why: the caller falls back to sentence-transformers.
"""

from __future__ import annotations

import json
import math
import mmap
import struct
from pathlib import Path

import numpy as np

# Attention scores of one forward pass are batch x heads x tokens x tokens floats: cap them (about
# 64 MB) so that a document batch of long chunks is run in slices rather than allocating gigabytes.
MAX_SCORE_FLOATS = 16 * 1024 * 1024
_DTYPES = {"F32": np.float32, "F16": np.float16}
_POOLING = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}


class Unsupported(Exception):
    """The folder is not a model this encoder runs (the message says what differs)."""


def load(folder: str | Path) -> BertEncoder | None:
    """The encoder for a model folder, or None when it is not one this module runs."""
    try:
        return BertEncoder(Path(folder))
    except Unsupported:
        return None


def why_not(folder: str | Path) -> str | None:
    """Why this module cannot run the model in `folder` (None when it can), from its small config files
    alone: a few milliseconds, so a caller can choose before loading anything."""
    try:
        _check(Path(folder))
    except Unsupported as e:
        return str(e)
    return None


def _check(folder: Path) -> tuple[str, bool, dict, dict]:
    """(pooling, normalise, BERT config, sentence-transformers config) if the folder is a model this
    module runs; else Unsupported. Weights are looked at only by their file's presence."""
    pooling, normalize = _pipeline(folder)
    cfg = _bert_config(folder)
    for name in ("tokenizer.json", "model.safetensors"):
        if not (folder / name).exists():
            raise Unsupported(f"no {name} in {folder}")
    st = _json(folder / "sentence_bert_config.json") if (folder / "sentence_bert_config.json").exists() else {}
    return pooling, normalize, cfg, st


def _json(path: Path) -> dict | list:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise Unsupported(f"no {path.name} in {path.parent}") from None
    except (OSError, ValueError) as e:
        raise Unsupported(f"unreadable {path}: {e}") from None


def _pipeline(folder: Path) -> tuple[str, bool]:
    """(pooling, normalise) from modules.json, if it is Transformer -> Pooling [-> Normalize]."""
    if not folder.is_dir():
        raise Unsupported(f"{folder} is not a local folder")
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in _json(folder / "modules.json")]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise Unsupported(f"modules {kinds}, not Transformer -> Pooling [-> Normalize]")
    pool_dir = next(m.get("path", "") for m in _json(folder / "modules.json") if m["type"].endswith("Pooling"))
    pool = _json(folder / pool_dir / "config.json")
    modes = [mode for key, mode in _POOLING.items() if pool.get(key)]
    others = [k for k, v in pool.items() if k.startswith("pooling_mode") and v and k not in _POOLING]
    if len(modes) != 1 or others:
        raise Unsupported(f"pooling {[k for k, v in pool.items() if k.startswith('pooling_mode') and v]}")
    return modes[0], kinds[-1] == "Normalize"


def _bert_config(folder: Path) -> dict:
    cfg = _json(folder / "config.json")
    if cfg.get("model_type") != "bert":
        raise Unsupported(f"model_type {cfg.get('model_type')!r}, not bert")
    if cfg.get("position_embedding_type", "absolute") != "absolute" or cfg.get("hidden_act") != "gelu":
        raise Unsupported("not absolute positions with exact GELU")
    return cfg


def _tensors(path: Path) -> dict[str, np.ndarray]:
    """The safetensors file's tensors as read-only arrays over a memory map (nothing read until used)."""
    try:
        with open(path, "rb") as f:
            buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError) as e:
        raise Unsupported(f"cannot map {path}: {e}") from None
    try:
        (n,) = struct.unpack("<Q", buf[:8])
        header = json.loads(buf[8:8 + n])
        out = {}
        for name, t in header.items():
            if name == "__metadata__" or t["dtype"] not in _DTYPES:
                continue
            a, b = t["data_offsets"]
            dtype = _DTYPES[t["dtype"]]
            count = (b - a) // np.dtype(dtype).itemsize
            out[name] = np.frombuffer(buf, dtype, count, 8 + n + a).reshape(t["shape"])
    except (struct.error, ValueError, KeyError, TypeError) as e:  # truncated or not a safetensors file
        raise Unsupported(f"unreadable {path}: {e}") from None
    return out


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to 1.5e-7 (Abramowitz and Stegun 7.1.26), in place where it can: scipy.special takes 0.5 s to import."""
    z = np.abs(x)
    t = 1.0 + np.float32(0.3275911) * z
    np.reciprocal(t, out=t)
    poly = np.float32(1.061405429) * t
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += np.float32(c)
        poly *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z
    np.subtract(1.0, poly, out=poly)
    return np.copysign(poly, x, out=poly)


def _gelu(x: np.ndarray) -> np.ndarray:
    """The exact (erf) GELU of BERT, in place."""
    e = _erf(x * np.float32(1 / math.sqrt(2)))
    e += 1.0
    x *= e
    x *= 0.5
    return x


def _layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    xc = x - mu
    var = (xc * xc).mean(-1, keepdims=True)
    return xc / np.sqrt(var + eps) * g + b


class BertEncoder:
    """A sentence-transformers BERT model in numpy; `encode` mirrors SentenceTransformer.encode's basics."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.pooling, self.normalize, cfg, st = _check(folder)
        self.max_len = min(int(st.get("max_seq_length") or 512), int(cfg["max_position_embeddings"]))
        self.lower = bool(st.get("do_lower_case"))  # sentence-transformers lowercases before its tokenizer then
        self.heads, self.eps = int(cfg["num_attention_heads"]), float(cfg.get("layer_norm_eps", 1e-12))
        self.dim = int(cfg["hidden_size"])
        self.tokenizer = self._tokenizer(folder)
        w = self._weights(folder, int(cfg["num_hidden_layers"]))
        self.word, self.pos, self.type0 = w["embeddings.word_embeddings.weight"], \
            w["embeddings.position_embeddings.weight"], w["embeddings.token_type_embeddings.weight"][0]
        self.ln0 = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers = [self._layer(w, f"encoder.layer.{i}.") for i in range(int(cfg["num_hidden_layers"]))]

    def _tokenizer(self, folder: Path):
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # The file's own truncation/padding (128, fixed, for MiniLM) are not what sentence-transformers
        # uses: it truncates at max_seq_length and pads each batch to its longest text.
        tok.enable_truncation(self.max_len)
        tok.no_padding()
        return tok

    @staticmethod
    def _weights(folder: Path, layers: int) -> dict[str, np.ndarray]:
        path = folder / "model.safetensors"
        raw = _tensors(path)
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in raw else ""
        w = {k[len(prefix):]: v for k, v in raw.items() if k.startswith(prefix)}
        need = ["embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
                "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight",
                f"encoder.layer.{layers - 1}.output.LayerNorm.bias"]
        missing = [k for k in need if k not in w]
        if missing:
            raise Unsupported(f"weights missing from {path}: {', '.join(missing)}")
        return w

    @staticmethod
    def _layer(w: dict[str, np.ndarray], p: str) -> dict[str, np.ndarray]:
        """One layer's (out, in) matrices as transposed views (BLAS reads them so: nothing copied but Q, K and
        V, joined into one product) and float32 biases."""
        def lin(name):
            return (w[p + name + ".weight"].astype(np.float32, copy=False).T,
                    np.asarray(w[p + name + ".bias"], np.float32))
        q, k, v = (lin(f"attention.self.{n}") for n in ("query", "key", "value"))
        f32 = lambda name: np.asarray(w[p + name], np.float32)  # noqa: E731
        return {"qkv": (np.concatenate([q[0], k[0], v[0]], 1), np.concatenate([q[1], k[1], v[1]])),
                "out": lin("attention.output.dense"), "ln1": (f32("attention.output.LayerNorm.weight"),
                                                               f32("attention.output.LayerNorm.bias")),
                "up": lin("intermediate.dense"), "down": lin("output.dense"),
                "ln2": (f32("output.LayerNorm.weight"), f32("output.LayerNorm.bias"))}

    # -- the sentence-transformers surface that vault uses -----------------------------------

    def get_embedding_dimension(self) -> int:
        return self.dim

    get_sentence_embedding_dimension = get_embedding_dimension

    def encode(self, texts: list[str], batch_size: int = 64, normalize_embeddings: bool = False,
               **_ignored) -> np.ndarray:
        """(len(texts), dim) float32. Normalised when the model's modules say so or when asked."""
        if isinstance(texts, str):
            texts = [texts]
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        encs = self.tokenizer.encode_batch([t.lower() if self.lower else t for t in texts])
        order = sorted(range(len(encs)), key=lambda i: -len(encs[i].ids))  # similar lengths pad least
        out = np.empty((len(texts), self.dim), np.float32)
        start = 0
        while start < len(order):
            longest = len(encs[order[start]].ids)
            n = max(1, min(batch_size, MAX_SCORE_FLOATS // (self.heads * longest * longest)))
            idx = order[start:start + n]
            out[idx] = self._forward([encs[i].ids for i in idx], longest)
            start += n
        if self.normalize or normalize_embeddings:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def _forward(self, ids: list[list[int]], length: int) -> np.ndarray:
        b = len(ids)
        tok = np.zeros((b, length), np.int64)
        mask = np.zeros((b, length), np.float32)
        for row, seq in enumerate(ids):
            tok[row, :len(seq)] = seq
            mask[row, :len(seq)] = 1.0
        x = (self.word[tok].astype(np.float32) + self.pos[:length].astype(np.float32)
             + self.type0.astype(np.float32))
        x = _layer_norm(x, *(np.asarray(a, np.float32) for a in self.ln0), self.eps).reshape(b * length, -1)
        bias = ((1.0 - mask) * np.float32(np.finfo(np.float32).min))[:, None, None, :]
        for layer in self.layers:
            x = self._layer_forward(x, layer, bias)
        x = x.reshape(b, length, -1)
        if self.pooling == "cls":
            return x[:, 0]
        return (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)

    def _layer_forward(self, x: np.ndarray, layer: dict, bias: np.ndarray) -> np.ndarray:
        """x is (batch * tokens, hidden): the dense products run as one 2-D BLAS call each."""
        b, t = bias.shape[0], bias.shape[-1]
        d = x.shape[1]
        h, hd = self.heads, d // self.heads
        qkv = (x @ layer["qkv"][0] + layer["qkv"][1]).reshape(b, t, 3, h, hd)
        # einsum's own loops, not BLAS: numpy's batched matmul runs a BLAS call per (text, head), and
        # OpenBLAS's threads make those tiny products up to 15x slower on a busy two-core machine.
        scores = np.einsum("bqhd,bkhd->bhqk", qkv[:, :, 0], qkv[:, :, 1]) * np.float32(1 / math.sqrt(hd)) + bias
        scores -= scores.max(-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(-1, keepdims=True)
        ctx = np.einsum("bhqk,bkhd->bqhd", scores, qkv[:, :, 2]).reshape(b * t, d)
        x = _layer_norm(ctx @ layer["out"][0] + layer["out"][1] + x, *layer["ln1"], self.eps)
        up = _gelu(x @ layer["up"][0] + layer["up"][1])
        return _layer_norm(up @ layer["down"][0] + layer["down"][1] + x, *layer["ln2"], self.eps)
