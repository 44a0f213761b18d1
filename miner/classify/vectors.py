"""Sentence embeddings of human turns for the learned classifier, cached in the vault.

Two texts per turn: the turn itself, and the turn with the end of the assistant's answer it
replies to. Both are embedded with MiniLM (the model the classifier was fitted with, whatever
model search uses), each distinct text once: `miner_vectors` keeps one vector per content
hash, so a re-run, or the same text in another session, costs nothing. Only human turns are
embedded, never assistant answers on their own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import duckdb
import numpy as np

from miner.classify.base import Turn
from vault.index.embeddings import content_hash, encode, load_model
from vault.index.settings import DEFAULT_MODEL
from vault.bulk import insert_rows
from vault.store import transaction

TURN_CHARS = 1000  # MiniLM reads about 256 tokens: the start of a long turn is what it sees
ANSWER_CHARS = 500  # the end of the assistant's answer (its claim or question) for the pair text
GROUP = 256  # texts per encode call and commit
DIM = 384


def turn_texts(t: Turn) -> tuple[str, str]:
    """(the turn, the turn with the assistant's last message): the two texts embedded per turn."""
    text = t.text.strip()[:TURN_CHARS]
    answer = (t.prev_assistant or "").strip()[-ANSWER_CHARS:]
    return text, f"{text[:TURN_CHARS - ANSWER_CHARS]}\n\nin reply to: {answer}" if answer else text


def embed(con: duckdb.DuckDBPyConnection | None, turns: Sequence[Turn],
          on_progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, dict]:
    """(n x 2*DIM matrix: turn vector then pair vector, report), reading and filling the vault's cache.

    With `con` None nothing is cached (a throwaway fit).
    """
    t0 = time.perf_counter()
    pairs = [turn_texts(t) for t in turns]
    texts = sorted({x for p in pairs for x in p})
    hashes = {x: content_hash(x) for x in texts}
    cached: dict[str, np.ndarray] = {}
    if con is not None and texts:
        rows = con.execute("SELECT content_hash, vector FROM miner_vectors WHERE model = ? AND content_hash IN "
                           "(SELECT unnest(?))", [DEFAULT_MODEL, list(hashes.values())]).fetchall()
        cached = {h: np.asarray(v, dtype=np.float32) for h, v in rows}
    todo = [x for x in texts if hashes[x] not in cached]
    encode_s = 0.0
    if todo:
        model = load_model(DEFAULT_MODEL)
        for i in range(0, len(todo), GROUP):
            group = todo[i:i + GROUP]
            t1 = time.perf_counter()
            vecs = encode(model, group)
            encode_s += time.perf_counter() - t1
            for x, v in zip(group, vecs, strict=True):
                cached[hashes[x]] = v
            if con is not None:
                with transaction(con):
                    insert_rows(con, "miner_vectors", ["content_hash", "model", "vector"],
                                [(hashes[x], DEFAULT_MODEL, v.tolist()) for x, v in zip(group, vecs, strict=True)],
                                conflict="OR IGNORE")
            if on_progress:
                on_progress(min(i + GROUP, len(todo)), len(todo))
    out = np.zeros((len(turns), 2 * DIM), dtype=np.float32)
    for i, (a, b) in enumerate(pairs):
        if a:
            out[i, :DIM] = cached[hashes[a]]
        if b:
            out[i, DIM:] = cached[hashes[b]]
    return out, {"texts": len(texts), "embedded": len(todo), "reused": len(texts) - len(todo),
                 "encode_seconds": round(encode_s, 3), "seconds": round(time.perf_counter() - t0, 3)}
