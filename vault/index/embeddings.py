"""Embeddings: chunk the indexed messages, embed each distinct chunk text once, remember which model.

- Chunks are windows of about 800 characters, and a window holding more tokens than the model reads is cut into
  pieces that fit (`chunk_spans_many`): the model would drop the rest in silence. A vault chunked otherwise
  (meta `chunked_by`) is re-chunked once, only where a window was cut (`_rechunked`).
- `vector_store` holds one vector per (model, content hash), as int8 (`vault.index.vectors`):
  identical texts are embedded once.
- `chunks` maps (message, chunk number, model) to a content hash; a message without chunk
  rows for the current model is pending, so runs are incremental.
- Vectors are committed group by group and chunk rows at the end: an interrupted run
  loses nothing, and the next run recomputes hashes (cheap) and embeds only what is missing.
- Search uses the model named in meta `embed_model`. A run with another model embeds
  everything for it and switches only once complete, then drops the old model's rows:
  results never mix vectors of two models.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb

from vault.faults import crash_point
from vault.index import vectors
from vault.index.settings import DEFAULT_MODEL, META_MODEL, WHITESPACE, indexed_kinds, model_location, model_name, searchable_sql
from vault.errors import VaultError
from vault.sqlstring import sql_string
from vault.store import get_meta, set_meta, transaction, with_roomy_retry


class ModelLoadError(VaultError):
    """The embedding model cannot be loaded (one line naming it)."""

CHUNK_CHARS = 800  # a window of text: about MiniLM's 256 tokens in English prose (not in code, logs or CJK)
CHUNK_OVERLAP = 100
MAX_CHUNKS = 24  # windows: a 19k-character message is embedded in full; longer ones by their start
OVERLAP_TOKENS = 32  # shared by the pieces of a window cut to the model's window in tokens
CHUNKER = "tokens-1"  # how chunks are cut (meta `chunked_by`): a vault chunked otherwise is re-checked once
META_CHUNKER = "chunked_by"
GROUP = 512  # texts per encode call and commit: progress granularity and what an interrupt can lose
BATCH_SIZE = 64
# DuckDB's cap while embedding. The run reads the text of every indexed message once (the pending query), and under
# DuckDB's default cap (80% of RAM) every block read stays cached in the process to the end. A run that still runs
# out of memory under it is done again under DuckDB's default (what it had before: runs are incremental, the
# vectors already stored are kept).
EMBED_MEMORY = "256MB"

ProgressFn = Callable[[int, int], None]  # (texts done, texts total)
StageFn = Callable[[str], None]  # what is happening now ("loading the embedding model ...")


@dataclass
class EmbedReport:
    model: str
    messages: int = 0  # messages that were pending
    chunks: int = 0  # chunk texts they make
    distinct: int = 0  # distinct chunk texts among them
    reused: int = 0  # distinct texts already embedded earlier (same model)
    embedded: int = 0  # texts actually sent to the model
    seconds: float = 0.0
    encode_seconds: float = 0.0
    load_seconds: float = 0.0  # loading the model (0 when it was already loaded in this process)
    switched_from: list[str] = field(default_factory=list)
    rechunked: int = 0  # messages chunked by an earlier chunker whose chunks changed (re-embedded in this run)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Window:
    """What bounds a chunk: the model's tokenizer (`tokenizers.Tokenizer`, neither truncating nor padding; None when
    the model has none to ask: chunks are then the character windows alone) and how many tokens the model reads of
    a text, its special tokens included (`max_seq_length`: 256 for MiniLM). The model silently drops the rest."""

    tokenizer: Any
    max_tokens: int = 0
    specials: int = 0
    lower: bool = False

    @property
    def limit(self) -> int:
        """Content tokens a chunk may hold."""
        return self.max_tokens - self.specials


CHARS_ONLY = Window(None)


@functools.lru_cache(maxsize=8)
def window(name: str, load: bool = True) -> Window:
    """The window of model `name`: from its folder's tokenizer.json and sentence_bert_config.json when it has them
    (the shipped default: about 0.05 s, no torch), else from the loaded model (`load_model`); `load=False` gives
    CHARS_ONLY rather than load a model (what the ingest's `drop_changed_chunks` can afford)."""
    import json
    import os
    from pathlib import Path

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    folder = Path(model_location(name))
    try:
        st = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
        cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        if (folder / "tokenizer.json").is_file() and st.get("max_seq_length"):
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
            most = int(st["max_seq_length"])
            if cfg.get("max_position_embeddings"):
                most = min(most, int(cfg["max_position_embeddings"]))
            return _window(tok, most, bool(st.get("do_lower_case")))
    except (OSError, ValueError, TypeError):
        pass
    if not load:
        return CHARS_ONLY
    model = load_model(name)
    backend = getattr(getattr(model, "tokenizer", None), "backend_tokenizer", None)
    most = getattr(model, "max_seq_length", None)
    if backend is None or not most:
        return CHARS_ONLY
    from tokenizers import Tokenizer

    lower = bool(getattr(model[0], "do_lower_case", False)) if hasattr(model, "__getitem__") else False
    return _window(Tokenizer.from_str(backend.to_str()), int(most), lower)


def _window(tok, most: int, lower: bool) -> Window:
    tok.no_truncation()
    tok.no_padding()
    return Window(tok, most, len(tok.encode("").ids), lower)


def _char_windows(text: str) -> list[tuple[int, int]]:
    """Overlapping windows of about CHUNK_CHARS, cut at whitespace where possible, as (start, end) in `text`
    (each window stripped of whitespace; at most MAX_CHUNKS)."""
    lo = len(text) - len(text.lstrip(WHITESPACE))
    hi = len(text.rstrip(WHITESPACE))
    if hi - lo <= CHUNK_CHARS:
        return [(lo, hi)] if hi > lo else []
    out, start = [], lo
    while start < hi and len(out) < MAX_CHUNKS:
        end = min(hi, start + CHUNK_CHARS)
        if end < hi:
            cut = text.rfind(" ", start + CHUNK_CHARS // 2, end)
            end = cut if cut > 0 else end
        seg = text[start:end]
        a, b = start + len(seg) - len(seg.lstrip(WHITESPACE)), start + len(seg.rstrip(WHITESPACE))
        if b > a:
            out.append((a, b))
        if end >= hi:
            break
        start = max(end - CHUNK_OVERLAP, start + 1)
    return out


TOKENIZE_SLICE = 2048  # texts tokenised at once (their encodings are dropped after each slice)


def chunk_spans_many(texts: list[str], win: Window | None = None) -> list[list[tuple[int, int]]]:
    """Each text's chunks as (start, end) in it: the character windows, and a window the model would cut (more tokens
    than `win.limit`) cut into pieces that fit, cut between words where it can, sharing OVERLAP_TOKENS. A window that
    fits stays as it is (so does its vector). `win`: the default model's window when not given."""
    win = window(DEFAULT_MODEL) if win is None else win
    spans = [_char_windows(t or "") for t in texts]
    if win.tokenizer is None:
        return spans
    pieces = _pieces(sorted({t[a:b] for t, sp in zip(texts, spans, strict=True) for a, b in sp}), win)
    return [[(a + x, a + y) for a, b in sp for x, y in pieces.get(t[a:b], ((0, b - a),))]
            for t, sp in zip(texts, spans, strict=True)]


def _pieces(windows: list[str], win: Window) -> dict[str, list[tuple[int, int]]]:
    """The windows too long for the model, each with its pieces as (start, end) within it."""
    out: dict[str, list[tuple[int, int]]] = {}
    for start in range(0, len(windows), TOKENIZE_SLICE):
        part = windows[start:start + TOKENIZE_SLICE]
        encs = win.tokenizer.encode_batch([_lowered(w, win) for w in part])
        for w, enc in zip(part, encs, strict=True):
            if len(enc.ids) > win.max_tokens:
                out[w] = _cut(w, enc, win)
    return out


def _lowered(text: str, win: Window) -> str:
    """What sentence-transformers gives the tokenizer (lowercased if the model says so, when offsets still hold)."""
    if win.lower:
        low = text.lower()
        if len(low) == len(text):
            return low
    return text


def _cut(text: str, enc, win: Window) -> list[tuple[int, int]]:
    """Pieces of `text` of at most `win.limit` tokens each, about equal, overlapping by OVERLAP_TOKENS."""
    all_offs, all_words = enc.offsets, enc.word_ids  # (each a list built anew at every access)
    keep = [i for i, m in enumerate(enc.special_tokens_mask) if not m]
    offs = [all_offs[i] for i in keep]
    words = [all_words[i] for i in keep]
    n, limit = len(offs), win.limit
    ov = min(OVERLAP_TOKENS, limit // 4)
    count = -(-(n - ov) // (limit - ov))
    size = min(limit, -(-(n + (count - 1) * ov) // count))
    out, i = [], 0
    while True:
        j = min(n, i + size)
        if j < n:
            j = _boundary(offs, words, i + max(1, size // 2), j)
        a, b = offs[i][0], offs[j - 1][1]
        while _tokens(text[a:b], win) > limit:  # a cut inside a word may tokenize otherwise: take less
            j -= 1
            a, b = offs[i][0], offs[j - 1][1]
        out.append((a, b))
        if j >= n:
            return out
        nxt = max(j - ov, i + 1)
        while nxt < j and words[nxt] is not None and words[nxt] == words[nxt - 1]:
            nxt += 1  # a piece starts at the start of a word
        i = nxt


def _boundary(offs, words, lo: int, hi: int) -> int:
    """Where to end a piece at token `hi` or before (not before `lo`): before a token that follows whitespace, else
    before one that starts a word (punctuation, a path's parts), else at `hi`."""
    for k in range(hi, lo - 1, -1):
        if offs[k][0] > offs[k - 1][1]:
            return k
    for k in range(hi, lo - 1, -1):
        if words[k] != words[k - 1]:
            return k
    return hi


def _tokens(text: str, win: Window) -> int:
    return len(win.tokenizer.encode(_lowered(text, win)).ids) - win.specials


def chunk_text(text: str, win: Window | None = None) -> list[str]:
    """The chunk texts of `text` (`chunk_spans_many`)."""
    return [text[a:b] for a, b in chunk_spans_many([text], win)[0]]


def chunk_offset(text: str, chunk_no: int, win: Window | None = None) -> int:
    """Where chunk `chunk_no` starts in `text` (for snippets of semantic hits)."""
    if chunk_no <= 0:
        return 0
    spans = chunk_spans_many([text], win)[0]
    return spans[chunk_no][0] if chunk_no < len(spans) else 0


def content_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


@functools.lru_cache(maxsize=4)
def load_model(name: str):
    """A SentenceTransformer, loaded once per process and name (offline for the shipped default)."""
    import os

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # "Loading weights" bars would clutter stderr on every search
    try:
        return SentenceTransformer(model_location(name), device="cpu")
    except (OSError, ValueError) as e:  # not a folder, not in the offline cache, not a valid name
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ModelLoadError(f"cannot load the embedding model {name!r}: {first}") from None


def dimension(model) -> int:
    get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(get())


def encode(model, texts: list[str], batch_size: int = BATCH_SIZE):
    return model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                        show_progress_bar=False).astype("float32", copy=False)


def load_query_model(name: str):
    """What encodes a search's query: the light encoder (vault.index.encoder: numpy, no torch, about 0.1 s
    to load) when it runs the model, else the SentenceTransformer of `load_model` (5-6 s to import)."""
    return _light_model(name) or load_model(name)


@functools.lru_cache(maxsize=4)
def _light_model(name: str):
    from vault.index import encoder

    return encoder.load(model_location(name))


def is_light(model) -> bool:
    """True for the light encoder, False for a SentenceTransformer (or anything else)."""
    from vault.index.encoder import BertEncoder

    return isinstance(model, BertEncoder)


def encode_query(model, text: str):
    """One short query: a single thread is as fast alone and far steadier on a busy machine."""
    if is_light(model):
        # OpenBLAS's threads make the small products of one query several times slower under load.
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, user_api="blas"):
            return model.encode([text], normalize_embeddings=True)[0]
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return encode(model, [text])[0]
    finally:
        torch.set_num_threads(before)


def model_id(con: duckdb.DuckDBPyConnection, name: str) -> int | None:
    row = con.execute("SELECT model_id FROM embed_models WHERE name = ?", [name]).fetchone()
    return row[0] if row else None


def active_model(con: duckdb.DuckDBPyConnection) -> tuple[int, str, int] | None:
    """(model_id, name, dim) of the model whose vectors search uses, if any vectors exist."""
    row = con.execute("SELECT model_id, name, dim FROM embed_models "  # one statement: every search asks
                      f"WHERE name = (SELECT value FROM meta WHERE key = {sql_string(META_MODEL)})").fetchone()
    return tuple(row) if row else None


def _pending_sql(con: duckdb.DuckDBPyConnection, only: bool) -> str:
    return f"""
        FROM messages m
        WHERE {searchable_sql(indexed_kinds(con))}
          AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.model_id = ? AND c.msg_id = m.msg_id)
          {"AND m.msg_id IN (SELECT msg_id FROM _only)" if only else ""}
    """


META_DONE = "embedded_through"  # "<model> <kinds> <content version>" of the last complete run


def _done_mark(con: duckdb.DuckDBPyConnection, name: str) -> str:
    return f"{name} {','.join(indexed_kinds(con))} {get_meta(con, 'content_version', '0')} {CHUNKER}"


def up_to_date(con: duckdb.DuckDBPyConnection, name: str | None = None) -> bool:
    """True when a complete run saw this very content, kinds and model: no query over messages."""
    return get_meta(con, META_DONE) == _done_mark(con, model_name(con, name))


def pending_count(con: duckdb.DuckDBPyConnection, name: str | None = None) -> int:
    """Messages the model has not embedded yet: loads no model (but reads every indexed message)."""
    mid = model_id(con, model_name(con, name))
    return con.execute(f"SELECT count(*) {_pending_sql(con, False)}", [mid if mid is not None else -1]).fetchone()[0]


def embed_pending(
    con: duckdb.DuckDBPyConnection,
    name: str | None = None,
    *,
    only: Iterable[str] | None = None,
    on_progress: ProgressFn | None = None,
    batch_size: int = BATCH_SIZE,
    on_stage: StageFn | None = None,
) -> EmbedReport:
    """Embed every indexed message that has no vectors for the model yet. `only` restricts to some ids.

    The texts to embed are counted before the model loads, so progress has a known total from the start;
    `on_stage` hears when the (slow) model load starts and when the embedding does. DuckDB runs under EMBED_MEMORY.
    """
    ids = None if only is None else list(only)  # (read again if the run starts over)
    return with_roomy_retry(con, lambda: _embed_pending(con, name, ids, on_progress, batch_size, on_stage), None,
                            cap=EMBED_MEMORY)


def _embed_pending(con: duckdb.DuckDBPyConnection, name: str | None, only: Iterable[str] | None,
                   on_progress: ProgressFn | None, batch_size: int, on_stage: StageFn | None) -> EmbedReport:
    import pyarrow as pa

    t0 = time.perf_counter()
    name = model_name(con, name)
    rep = EmbedReport(model=name)
    mid = model_id(con, name)
    if only is not None:
        con.register("_only", pa.table({"msg_id": list(only)}))
    try:
        rows = con.execute(f"SELECT m.msg_id, m.text {_pending_sql(con, only is not None)} ORDER BY m.seq",
                           [mid if mid is not None else -1]).fetchall()
    finally:
        if only is not None:
            con.unregister("_only")
    rep.messages = len(rows)
    stale: dict[str, list[str]] = {}  # re-chunked messages: their old chunk hashes
    if only is None and mid is not None and get_meta(con, META_CHUNKER) != CHUNKER:
        stale = _rechunked(con, mid, name)
        rows += [(msg_id, text) for msg_id, (text, _) in stale.items()]
        stale = {msg_id: old for msg_id, (_, old) in stale.items()}
        rep.rechunked = len(stale)
    wrote = bool(rows)
    if rows:
        chunk_rows, texts = _chunk(rows, window(name))
        del rows  # the messages' texts: not held while the model loads and encodes (0.2 GB at 5 GB)
        rep.chunks, rep.distinct = chunk_rows.num_rows, len(texts)
        todo = _missing(con, mid, texts) if mid is not None else sorted(texts.items(), key=lambda ht: -len(ht[1]))
        rep.reused = len(texts) - len(todo)
        del texts
        rep.embedded = len(todo)
        if on_progress:
            on_progress(0, len(todo))
        if on_stage:
            on_stage(f"loading the embedding model {name}")
        t_load = time.perf_counter()
        model = load_model(name)
        rep.load_seconds = round(time.perf_counter() - t_load, 3)
        if mid is None:
            dim = dimension(model)
            mid = con.execute(
                "INSERT INTO embed_models (model_id, name, dim) "
                "SELECT coalesce(max(model_id), 0) + 1, ?, ? FROM embed_models RETURNING model_id", [name, dim]
            ).fetchone()[0]
        if on_stage:
            on_stage("embedding")
        rep.encode_seconds = _embed_groups(con, model, mid, todo, on_progress, batch_size)
        with transaction(con):  # a re-chunked message's old chunks give way to its new ones at once
            _replace_chunks(con, mid, stale, chunk_rows)
            vectors.touch(con)
    crash_point("embed-chunks")  # every chunk stored, the run not yet marked complete
    if only is None and mid is not None and get_meta(con, META_MODEL) != name:
        rep.switched_from = _switch_model(con, mid, name)
    if only is None and get_meta(con, META_MODEL) == name:
        set_meta(con, META_CHUNKER, CHUNKER)
        set_meta(con, META_DONE, _done_mark(con, name))
    if wrote:
        con.execute("CHECKPOINT")
    rep.seconds = round(time.perf_counter() - t0, 3)
    rep.encode_seconds = round(rep.encode_seconds, 3)
    return rep


def _chunk(rows: list[tuple[str, str]], win: Window):
    """The chunk rows of messages (msg_id, text) as an Arrow table (msg_id, chunk_no, content_hash): a third of the
    bytes of Python tuples, held until the vectors are stored; and each distinct chunk text by its hash."""
    import pyarrow as pa

    ids, nos, hashes, texts = [], [], [], {}
    for (msg_id, text), spans in zip(rows, chunk_spans_many([t or "" for _, t in rows], win), strict=True):
        for no, (a, b) in enumerate(spans):
            chunk = text[a:b]
            h = content_hash(chunk)
            texts.setdefault(h, chunk)
            ids.append(msg_id)
            nos.append(no)
            hashes.append(h)
    table = pa.table({"msg_id": pa.array(ids, pa.string()), "chunk_no": pa.array(nos, pa.int32()),
                      "content_hash": pa.array(hashes, pa.string())})
    return table, texts


def _rechunked(con: duckdb.DuckDBPyConnection, mid: int, name: str) -> dict[str, tuple[str, list[str]]]:
    """The model's chunked messages whose text the chunker cuts otherwise now: {msg_id: (text, old hashes)}.

    A vault chunked by an earlier chunker (meta `chunked_by` not CHUNKER) is compared once: the messages whose
    chunks are the same (every window that fitted the model) keep them and their vectors; the others (a window the
    model cut) are chunked and embedded again in the same run, their old chunks kept until the new ones replace them
    in one transaction. An interrupted run leaves the old chunks, and the next compares again (reusing the vectors
    stored): search never loses a message on the way."""
    rows = con.execute(
        """SELECT c.msg_id, list(c.content_hash ORDER BY c.chunk_no), any_value(m.text)
           FROM chunks c JOIN messages m USING (msg_id) WHERE c.model_id = ? GROUP BY c.msg_id ORDER BY c.msg_id""",
        [mid]).fetchall()
    changed = _rechunks([(text, old) for _, old, text in rows], window(name))
    return {msg_id: (text, old) for (msg_id, old, text), ch in zip(rows, changed, strict=True) if ch}


def _rechunks(texts_hashes: list[tuple[str | None, list[str]]], win: Window) -> list[bool]:
    """Per (text, its stored chunk hashes): whether the text is chunked otherwise now (the hashes differ)."""
    spans = chunk_spans_many([t or "" for t, _ in texts_hashes], win)
    return [old != [content_hash((text or "")[a:b]) for a, b in sp]
            for (text, old), sp in zip(texts_hashes, spans, strict=True)]


def _replace_chunks(con: duckdb.DuckDBPyConnection, mid: int, stale: dict[str, list[str]], chunk_rows) -> None:
    """Store `chunk_rows` (`_chunk`'s table) as model `mid`'s chunks instead of those of the re-chunked messages
    (`stale`), and drop those of their old vectors that no chunk names any more (the caller holds a transaction)."""
    if not stale:
        _insert_chunks(con, mid, chunk_rows)
        return
    import pyarrow as pa

    con.register("_stale", pa.table({"msg_id": list(stale)}))
    con.register("_old", pa.table({"h": sorted({h for hs in stale.values() for h in hs})}))
    try:
        con.execute("DELETE FROM chunks WHERE model_id = ? AND msg_id IN (SELECT msg_id FROM _stale)", [mid])
        _insert_chunks(con, mid, chunk_rows)
        con.execute(f"""DELETE FROM {vectors.TABLE} WHERE model_id = $mid AND content_hash IN (SELECT h FROM _old)
                        AND content_hash NOT IN (SELECT content_hash FROM chunks WHERE model_id = $mid)""",
                    {"mid": mid})
    finally:
        con.unregister("_stale")
        con.unregister("_old")


def _missing(con: duckdb.DuckDBPyConnection, mid: int, texts: dict[str, str]) -> list[tuple[str, str]]:
    """(hash, text) not embedded yet by this model, longest first: batches of similar length pad least."""
    import pyarrow as pa

    con.register("_hashes", pa.table({"h": list(texts)}))
    try:
        done = {r[0] for r in con.execute(
            f"SELECT content_hash FROM {vectors.TABLE} WHERE model_id = ? AND content_hash IN (SELECT h FROM _hashes)",
            [mid]
        ).fetchall()}
    finally:
        con.unregister("_hashes")
    todo = [(h, t) for h, t in texts.items() if h not in done]
    todo.sort(key=lambda ht: len(ht[1]), reverse=True)
    return todo


def token_lengths(model, texts: list[str]) -> list[int]:
    """How many tokens the model will read of each text (its tokenizer, special tokens included, cut at the
    model's window); characters when the model has no tokenizer to ask."""
    tok = getattr(model, "tokenizer", None)
    if not callable(tok):
        return [len(t) for t in texts]
    most = getattr(model, "max_seq_length", None) or 512
    out: list[int] = []
    for start in range(0, len(texts), TOKENIZE_SLICE):
        ids = tok(texts[start:start + TOKENIZE_SLICE], add_special_tokens=True, truncation=True, max_length=most,
                  return_attention_mask=False, return_token_type_ids=False)["input_ids"]
        out.extend(len(i) for i in ids)
    return out


def by_tokens(model, todo: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """`todo` (longest first in characters) reordered longest first in tokens, equal counts keeping their order.

    A batch costs its size times its longest text: `encode` sorts by characters, a poor measure of tokens when
    prose, code and logs mix (on the 1 GB bench sample 24% of the tokens the batches computed were padding; in token
    order 11%). A text's vector does not depend on the others in its batch (their padding is masked), but for
    float rounding in the longer or shorter products: the stored int8 vectors are the same but for rare steps.
    """
    lengths = token_lengths(model, [t for _, t in todo])
    order = sorted(range(len(todo)), key=lambda i: -lengths[i])
    return [todo[i] for i in order]


def _embed_groups(con, model, mid: int, todo: list[tuple[str, str]], on_progress: ProgressFn | None,
                  batch_size: int) -> float:
    import numpy as np

    spent = 0.0  # (embed_pending reported (0, total) before loading the model)
    t = time.perf_counter()
    todo = by_tokens(model, todo)  # counted as encoding: it is the model's tokenizer at work
    spent += time.perf_counter() - t
    for start in range(0, len(todo), GROUP):
        group = todo[start:start + GROUP]
        t = time.perf_counter()
        parts = []
        for b in range(0, len(group), batch_size):  # progress per batch: the bar moves, the rate shows
            parts.append(encode(model, [text for _, text in group[b:b + batch_size]], batch_size))
            if on_progress and b + batch_size < len(group):
                on_progress(start + b + batch_size, len(todo))
        spent += time.perf_counter() - t
        vectors.store(con, mid, [h for h, _ in group], np.concatenate(parts))
        crash_point("embed-group")  # vectors stored, their chunks not yet: the next run reuses them
        if on_progress:
            on_progress(min(start + GROUP, len(todo)), len(todo))
    return spent


def drop_changed_chunks(con: duckdb.DuckDBPyConnection, file_ids: Iterable[int]) -> int:
    """Drop the chunk rows of these files' messages that no longer match their text; returns how many
    messages lost them (they are pending again: the next `embed_pending` chunks their new text).

    Chunks are keyed by message id, and a file read again whole (rewritten, edited) keeps its messages'
    ids, so their chunks would go on describing the old text. The ingest calls this in the transaction
    that replaces the messages: a crash leaves either the old text with its chunks or the new text
    without stale ones. Unchanged texts keep their chunks (comparing the hashes of the chunks the text
    makes now, for every model, costs a pass over the files' chunked texts and the model's tokenizer, no model;
    a model whose tokenizer is not in a folder is not loaded here: a message its window would cut is dropped
    and chunked again by the next `embed_pending`).
    """
    ids = ", ".join(str(int(f)) for f in file_ids)
    if not ids:
        return 0
    rows = con.execute(
        f"""SELECT c.msg_id, list(c.content_hash ORDER BY c.chunk_no), any_value(m.text), any_value(e.name)
            FROM chunks c JOIN messages m USING (msg_id) JOIN embed_models e USING (model_id)
            WHERE m.file_id IN ({ids}) GROUP BY c.msg_id, c.model_id"""
    ).fetchall()
    stale_set: set[str] = set()
    for name in {r[3] for r in rows}:
        mine = [r for r in rows if r[3] == name]
        changed = _rechunks([(text, hashes) for _, hashes, text, _ in mine], window(name, load=False))
        stale_set.update(r[0] for r, ch in zip(mine, changed, strict=True) if ch)
    stale = sorted(stale_set)
    for start in range(0, len(stale), 1000):
        part = stale[start:start + 1000]
        con.execute(f"DELETE FROM chunks WHERE msg_id IN ({', '.join('?' * len(part))})", part)
    if stale:
        vectors.touch(con)  # searches in other processes reload their copy of the chunks
    return len(stale)


def drop_orphan_chunks(con: duckdb.DuckDBPyConnection) -> int:
    """Chunk rows of messages that a re-read file no longer has (their vectors may serve other texts)."""
    if not con.execute("SELECT count(*) FROM (SELECT 1 FROM chunks LIMIT 1)").fetchone()[0]:
        return 0  # nothing embedded (`--no-embed`): no scan of every message id
    n = con.execute(
        "DELETE FROM chunks WHERE msg_id NOT IN (SELECT msg_id FROM messages)"
    ).fetchone()[0]
    if n:
        vectors.touch(con)  # searches in other processes reload their copy of the chunks
    return int(n)


def _insert_chunks(con, mid: int, chunk_rows) -> None:
    """`_chunk`'s table as chunk rows of model `mid`."""
    import pyarrow as pa

    from vault.bulk import insert_arrow

    if not chunk_rows.num_rows:
        return
    table = chunk_rows.append_column("model_id", pa.array([mid] * chunk_rows.num_rows, pa.int32()))
    insert_arrow(con, "chunks", ("msg_id", "chunk_no", "model_id", "content_hash"), table, conflict="OR IGNORE")


def _switch_model(con, mid: int, name: str) -> list[str]:
    """Make `name` the model search uses, and drop every other model's vectors (never mix)."""
    old = [r[0] for r in con.execute("SELECT name FROM embed_models WHERE model_id <> ?", [mid]).fetchall()]
    with transaction(con):
        vectors.keep_only(con, mid)
        for table in ("chunks", "embed_models"):
            con.execute(f"DELETE FROM {table} WHERE model_id <> ?", [mid])
        set_meta(con, META_MODEL, name)
        vectors.touch(con)
    return old
