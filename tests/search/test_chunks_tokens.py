"""Chunks fit the model's window in tokens (issue 14, "search finds what people remember").

MiniLM reads 256 tokens of a text and drops the rest in silence; a chunk of 800 characters of code, a log, paths or
CJK holds more. Chunks are the character windows as before, and a window the model would cut is cut into pieces
that fit (`embeddings.chunk_spans_many`). A vault chunked before is re-chunked once, only where a window was cut
(`embeddings._rechunked`), crash-safe. Mechanisms on generated sessions with a stub model (a bare clone runs them),
the bounds on the real lines of the corpora, and a semantic hit in a tail with the shipped model.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from search_support import CLAUDE_CORPUS, CORPORA
from support import EXAMPLES, ROOT, vault_env

from vault.faults import EXIT_CODE as FAULT_EXIT
from vault.index import embeddings
from vault.index.settings import DEFAULT_MODEL, indexed_kinds, searchable_sql, set_extras
from vault.ingest import ingest
from vault.store import get_meta, open_vault, set_meta

SID = "66666666-6666-4666-8666-666666666666"
# About 700 characters that MiniLM reads as about 400 tokens (hex pairs split into pieces), then a sentence.
LOG = " ".join(f"0x{i * 40503 % 65536:04x}:{i * 7919 % 65536:04x}" for i in range(58))
TAIL = "The deploy failed because the database migration timed out while locking the orders table."
PROSE = [
    "I baked a sourdough loaf with rye flour; the starter needs feeding twice a day.",
    "The cat sleeps on the sofa all afternoon and wakes up for dinner.",
    "We hiked up the mountain trail and watched the sunset over the lake.",
    "Paint the fence blue before the rain comes on Saturday morning.",
    "My guitar needs new strings; the old ones sound dull and buzz on the third fret.",
]


def _line(n: int, type_: str, text: str) -> str:
    rec = {"parentUuid": f"00000000-0000-4000-8000-{n - 1:012d}" if n > 1 else None, "isSidechain": False,
           "userType": "external", "cwd": "/home/USER/projects/demo", "sessionId": SID, "version": "2.1.39",
           "gitBranch": "main", "type": type_,
           "message": {"role": "user", "content": text} if type_ == "user" else
           {"model": "claude-opus-4-6", "id": f"msg_{n}", "type": "message", "role": "assistant",
            "content": [{"type": "text", "text": text}]},
           "uuid": f"00000000-0000-4000-8000-{n:012d}", "timestamp": f"2026-02-01T10:00:{n:02d}.000Z"}
    return json.dumps(rec)


def msg(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


LONG_MSGS = (msg(2), msg(4))  # the two texts with a window the model cuts


def _session(root: Path) -> Path:
    texts = [PROSE[0], LOG + "\n\n" + TAIL, PROSE[1], "x = " + LOG.replace(" ", ", ") + "\n" + PROSE[4] * 8,
             PROSE[2], PROSE[3]]
    lines = [_line(i + 1, "assistant" if i % 2 else "user", t) for i, t in enumerate(texts)]
    path = root / "-home-USER-projects-demo" / f"{SID}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + "\n")
    return path.parent


def stub_encode(model, texts, batch_size=64):
    """Vectors from a hash of the text: the same in every process."""
    out = np.array([np.frombuffer(embeddings.content_hash(t).encode()[:8], np.uint8) for t in texts], np.float32) - 80
    return out / np.linalg.norm(out, axis=1, keepdims=True)


class StubModel:
    """No tokenizer: batches go by characters."""

    def get_embedding_dimension(self) -> int:
        return 8


def _stub(monkeypatch, sent: list | None = None) -> None:
    def encode(model, texts, batch_size=embeddings.BATCH_SIZE):
        if sent is not None:
            sent.extend(texts)
        return stub_encode(model, texts, batch_size)

    monkeypatch.setattr(embeddings, "load_model", lambda name: StubModel())
    monkeypatch.setattr(embeddings, "encode", encode)


def _old_vault(db: Path, root: Path, monkeypatch) -> None:
    """A vault as the version before left it: chunks of 800-character windows, marked complete in its words."""
    con = open_vault(db)
    ingest(con, [_session(root)])
    with monkeypatch.context() as m:
        _stub(m)
        m.setattr(embeddings, "window", lambda name, load=True: embeddings.CHARS_ONLY)
        embeddings.embed_pending(con)
    con.execute(f"DELETE FROM meta WHERE key = '{embeddings.META_CHUNKER}'")
    set_meta(con, embeddings.META_DONE, embeddings._done_mark(con, DEFAULT_MODEL).rsplit(" ", 1)[0])
    assert not embeddings.up_to_date(con)
    con.close()


def _state(db: Path) -> dict:
    con = open_vault(db, read_only=True)
    try:
        return {"chunks": sorted(con.execute("SELECT msg_id, chunk_no, content_hash FROM chunks").fetchall()),
                "vectors": sorted(r[0] for r in con.execute("SELECT content_hash FROM vector_store").fetchall()),
                "up_to_date": embeddings.up_to_date(con), "chunked_by": get_meta(con, embeddings.META_CHUNKER)}
    finally:
        con.close()


def _expected(db: Path) -> list[tuple]:
    """The chunks a vault embedded from scratch holds (every indexed text cut by the model's window)."""
    con = open_vault(db, read_only=True)
    try:
        rows = con.execute(f"SELECT msg_id, text FROM messages m WHERE {searchable_sql(indexed_kinds(con))}").fetchall()
    finally:
        con.close()
    spans = embeddings.chunk_spans_many([t for _, t in rows])
    return sorted((m, no, embeddings.content_hash(t[a:b])) for (m, t), sp in zip(rows, spans) for no, (a, b) in
                  enumerate(sp))


# -- the bounds ----------------------------------------------------------------------------------------------------

def _check_bounds(texts: list[str]) -> int:
    """Every chunk fits the window; a window that fits is a chunk as it was; the pieces of a cut window hold all of
    its words; chunk_offset finds each chunk (of the first texts). Returns how many windows were cut."""
    win = embeddings.window(DEFAULT_MODEL)
    tokens = lambda xs: [len(e.ids) for e in win.tokenizer.encode_batch(xs)]  # noqa: E731
    all_spans = embeddings.chunk_spans_many(texts, win)
    chunks = [t[a:b] for t, sp in zip(texts, all_spans, strict=True) for a, b in sp]
    assert max(tokens(chunks)) <= win.max_tokens == 256
    cut = offsets_checked = 0
    for text, spans in zip(texts, all_spans, strict=True):
        windows = embeddings._char_windows(text)
        for (wa, wb), n in zip(windows, tokens([text[a:b] for a, b in windows]), strict=True):
            inside = [(a, b) for a, b in spans if wa <= a < b <= wb]
            assert inside, (wa, wb)
            if n <= win.max_tokens:
                assert (wa, wb) in spans
                continue
            cut += 1
            seen = bytearray(wb - wa)
            for a, b in inside:
                seen[a - wa:b - wa] = b"\x01" * (b - a)
            missed = [text[wa + i] for i in range(wb - wa) if not seen[i] and not text[wa + i].isspace()
                      and len(win.tokenizer.encode(text[wa + i]).ids) > win.specials]  # (control characters: none)
            assert not missed, (missed[:20], text[wa:wb][:120])
        if len(spans) > len(windows) and offsets_checked < 20:  # (each chunk_offset cuts the whole text again)
            offsets_checked += 1
            assert [embeddings.chunk_offset(text, no, win) for no in range(len(spans))] == \
                [a if no else 0 for no, (a, _) in enumerate(spans)]
            assert embeddings.chunk_text(text, win) == [text[a:b] for a, b in spans]
    return cut


def test_chunks_fit_the_window_on_real_lines(tmp_path):
    """Every indexed text of the corpora (tool calls and results too: code, logs, paths) or, on a bare clone, of the
    bundled examples."""
    con = open_vault(tmp_path / "v.duckdb")
    try:
        ingest(con, [CLAUDE_CORPUS if CORPORA.is_dir() else EXAMPLES / "claude-code"])
        set_extras(con, ["tools"])
        texts = [t for (t,) in con.execute(
            f"SELECT DISTINCT text FROM messages m WHERE {searchable_sql(indexed_kinds(con))}").fetchall()]
    finally:
        con.close()
    assert len(texts) > (300 if CORPORA.is_dir() else 200)  # the bundled examples hold 231 distinct texts
    cut = _check_bounds(texts)  # asserts every window that fits is kept and every cut one is covered
    if CORPORA.is_dir():  # (the bundled examples have no window past the model's: there every window is kept)
        assert cut >= 500


@pytest.mark.parametrize("text", ids=["cjk", "korean", "path", "hashes", "shell", "log"], argvalues=[
    "漢字のテキストは一文字ごとに一つのトークンになります。" * 30,  # CJK: a token per character
    "한국어 문장은 자모로 나뉘어 여러 토큰이 됩니다. " * 30,
    "/home/USER/projects/demo/src/components/widgets/a_b_c/" * 15,  # a path: no whitespace at all
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 " * 12,  # hashes
    "ls -la | grep -E '^d' && echo $((1+2)) ; " * 20,
    LOG + "\n\n" + TAIL,
])
def test_hard_windows_are_cut_to_fit(text):
    assert _check_bounds([text]) >= 1


def test_prose_keeps_its_chunks():
    prose = " ".join(PROSE * 30)
    win = embeddings.window(DEFAULT_MODEL)
    assert embeddings.chunk_spans_many([prose], win) == [embeddings._char_windows(prose)]
    assert len(embeddings._char_windows(prose)) > 3


# -- the re-chunk of a vault chunked before ------------------------------------------------------------------------

def test_only_messages_with_a_cut_window_are_rechunked_and_embedded(tmp_path, monkeypatch):
    db = tmp_path / "v.duckdb"
    _old_vault(db, tmp_path / "archive", monkeypatch)
    before = _state(db)
    sent: list[str] = []
    _stub(monkeypatch, sent)
    con = open_vault(db)
    rep = embeddings.embed_pending(con)
    con.close()
    after = _state(db)
    assert rep.messages == 0 and rep.rechunked == 2
    # only the pieces of the two cut windows were embedded; the windows that fit kept their vectors
    new = set(after["chunks"]) - set(before["chunks"])
    assert {m for m, _, _ in new} == set(LONG_MSGS)
    assert len(sent) == len(set(sent)) == rep.embedded
    assert {embeddings.content_hash(t) for t in sent} == {h for _, _, h in new} - set(before["vectors"])
    unchanged = [c for c in before["chunks"] if c[0] not in LONG_MSGS]
    assert all(c in after["chunks"] for c in unchanged)
    assert after["chunks"] == _expected(db)
    # the old vectors no chunk names are gone; every chunk has its vector
    assert set(after["vectors"]) == {h for _, _, h in after["chunks"]}
    assert after["up_to_date"] and after["chunked_by"] == embeddings.CHUNKER
    con = open_vault(db)
    again = embeddings.embed_pending(con)
    con.close()
    assert again.rechunked == again.embedded == 0 and _state(db) == after


CHILD = "import numpy as np\nfrom vault.index import embeddings\n" + inspect.getsource(stub_encode) + \
    inspect.getsource(StubModel) + """
import sys
from pathlib import Path
from vault.store import open_vault
embeddings.load_model = lambda name: StubModel()
embeddings.encode = stub_encode
embeddings.GROUP = 1  # a group per text: a crash between two of them
con = open_vault(Path(sys.argv[1]))
embeddings.embed_pending(con)
con.close()
"""


@pytest.mark.parametrize("phase", ["embed-group", "embed-group#2", "embed-chunks"])
def test_a_rechunk_killed_leaves_the_vault_consistent_and_the_next_run_finishes(tmp_path, monkeypatch, phase):
    db = tmp_path / "v.duckdb"
    _old_vault(db, tmp_path / "archive", monkeypatch)
    before = _state(db)
    ref = tmp_path / "ref.duckdb"
    ref.write_bytes(db.read_bytes())
    _stub(monkeypatch)
    con = open_vault(ref)
    embeddings.embed_pending(con)
    con.close()
    want = _state(ref)

    proc = subprocess.run([sys.executable, "-c", CHILD, str(db)], capture_output=True,
                          env=vault_env({"VAULT_CRASH_AT": phase}), cwd=ROOT, timeout=300)
    assert proc.returncode == FAULT_EXIT, proc.stderr.decode()[-2000:]
    mid = _state(db)
    # consistent: every message keeps all its old chunks or has all its new ones, each with its vector
    by_msg = lambda chunks: {m: [(n, h) for mm, n, h in chunks if mm == m] for m, _, _ in chunks}  # noqa: E731
    old, new, now = by_msg(before["chunks"]), by_msg(want["chunks"]), by_msg(mid["chunks"])
    assert set(now) == set(old) and all(now[m] in (old[m], new[m]) for m in now)
    assert {h for _, _, h in mid["chunks"]} <= set(mid["vectors"])
    assert not mid["up_to_date"]
    assert mid != want
    con = open_vault(db)
    embeddings.embed_pending(con)
    con.close()
    assert _state(db) == want


def test_a_rewritten_file_drops_only_chunks_its_text_no_longer_makes(tmp_path, monkeypatch):
    """The ingest's check of a re-read file cuts windows as the embedder does: a cut window's pieces are not stale."""
    db = tmp_path / "v.duckdb"
    con = open_vault(db)
    ingest(con, [_session(tmp_path / "archive")])
    _stub(monkeypatch)
    embeddings.embed_pending(con)
    files = [r[0] for r in con.execute("SELECT file_id FROM files").fetchall()]
    assert embeddings.drop_changed_chunks(con, files) == 0
    con.execute("UPDATE messages SET text = text || ' more' WHERE msg_id = ?", [msg(2)])
    assert embeddings.drop_changed_chunks(con, files) == 1
    con.close()


# -- a semantic hit in a tail, with the shipped model ----------------------------------------------------------------

def test_semantic_search_finds_words_in_a_window_the_model_used_to_cut(tmp_path, monkeypatch):
    from vault.index.search import semantic_search

    query = "why did the deploy fail: the database migration timed out locking the orders table"
    ranks, snippets = {}, {}
    for side in ("before", "after"):
        db = tmp_path / f"{side}.duckdb"
        con = open_vault(db)
        ingest(con, [_session(tmp_path / side)])
        with monkeypatch.context() as m:
            if side == "before":
                m.setattr(embeddings, "window", lambda name, load=True: embeddings.CHARS_ONLY)
            embeddings.embed_pending(con)
        hits = semantic_search(con, query, 10)
        con.close()
        ids = [h.msg_id for h in hits]
        ranks[side] = ids.index(msg(2)) + 1
        snippets[side] = hits[ids.index(msg(2))].snippet
    assert ranks["after"] == 1, ranks
    assert ranks["before"] > 1, ranks  # the sentence was past the window: only the hex was embedded
    assert "migration" in snippets["after"]  # the snippet starts at the piece that matched
