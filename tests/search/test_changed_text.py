"""A message read again with the same id but a changed text is indexed by its new text, not its old one.

A rewritten file (an edited transcript, a Gemini session saved again, a neutral export regenerated) is
read again whole; its messages keep their ids. Embedding chunks are keyed by message id: they must not
keep describing the old text. The session is a real one in neutral JSONL (`tests/corpus`, licensed), so
this runs on a bare clone.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from support import ROOT, run_cli, vault_process
from vault.faults import EXIT_CODE as FAULT_EXIT

SESSION = ROOT / "tests" / "corpus" / "conversations" / "cctrace-js.jsonl"
FIRST = "cctrace-f33cdb42#0"  # the first prompt, replaced whole
LONG = "cctrace-f33cdb42#232"  # the longest answer (several chunks): only its last words change
NEW_PROMPT = ("Bake a sourdough loaf with rye flour and caraway seeds; the starter needs feeding "
              "twice a day and the dough proves overnight in the fridge.")
OLD_WORD, NEW_WORD = "ultrathink", "sourdough"  # each in one text only: the old and the new first prompt


def _edit(path: Path) -> None:
    """The session as it reads after its person edited two messages (same ids, new texts)."""
    conv = json.loads(SESSION.read_text(encoding="utf-8"))
    conv["messages"][0]["content"] = NEW_PROMPT
    long = conv["messages"][232]
    assert len(long["content"]) > 2000 and long["content"].endswith("Claude Code community!")
    long["content"] = long["content"].removesuffix("Claude Code community!") + "bakers of rye bread."
    path.write_text(json.dumps(conv, ensure_ascii=False) + "\n", encoding="utf-8")


def _chunks(db: Path) -> dict[str, list[tuple[int, str]]]:
    from vault.store import connect

    con = connect(db, read_only=True)
    try:
        out: dict[str, list[tuple[int, str]]] = {}
        for msg_id, no, h in con.execute("SELECT msg_id, chunk_no, content_hash FROM chunks ORDER BY 1, 2").fetchall():
            out.setdefault(msg_id, []).append((no, h))
        return out
    finally:
        con.close()


def _expected(db: Path) -> dict[str, list[tuple[int, str]]]:
    """The chunks each indexed message's stored text makes (what a vault embedded from scratch holds)."""
    from vault.index.embeddings import chunk_text, content_hash
    from vault.index.settings import indexed_kinds, searchable_sql
    from vault.store import connect

    con = connect(db, read_only=True)
    try:
        rows = con.execute(f"SELECT msg_id, text FROM messages m WHERE {searchable_sql(indexed_kinds(con))}").fetchall()
    finally:
        con.close()
    return {msg_id: [(no, content_hash(c)) for no, c in enumerate(chunk_text(text))] for msg_id, text in rows}


def _ingest(db: Path, folder: Path) -> dict:
    code, out, err = run_cli("ingest", str(folder), "--json", db=db)
    assert code == 0, err
    return json.loads(out)


def _keyword(db: Path, word: str) -> set[str]:
    code, out, err = run_cli("search", word, "--mode", "keyword", "--json", "--limit", "50", db=db)
    assert code == 0, err
    return {h["msg_id"] for h in json.loads(out)}


@pytest.fixture(scope="module")
def embedded_once(tmp_path_factory) -> tuple[Path, Path]:
    """The session ingested and embedded once for the module (an ingest and an embedding per test was the slow
    part): (vault, session file). Tests work on a copy of the vault (`embedded`)."""
    base = tmp_path_factory.mktemp("changed-text")
    (base / "sessions").mkdir()
    session = Path(shutil.copy(SESSION, base / "sessions" / SESSION.name))
    db = base / "v.duckdb"
    _ingest(db, session.parent)
    chunks = _chunks(db)
    assert chunks == _expected(db) and len(chunks[LONG]) >= 3  # (before the edit, all is well)
    assert FIRST in _keyword(db, OLD_WORD) and not _keyword(db, NEW_WORD)
    return db, session


@pytest.fixture
def embedded(embedded_once, tmp_path) -> tuple[Path, Path]:
    """A copy of the embedded vault, and its session file as it was ingested (an earlier test's edit undone: the
    same bytes at the same path, which the vault then reads as unchanged)."""
    pristine, session = embedded_once
    shutil.copy(SESSION, session)
    return Path(shutil.copy(pristine, tmp_path / "v.duckdb")), session


def test_edited_messages_are_indexed_by_their_new_text(embedded):
    db, session = embedded
    before = _chunks(db)
    _edit(session)
    rep = _ingest(db, session.parent)
    assert rep["files"] == 1 and rep["index"]["embed"]["messages"] == 2  # the two edited messages, no more
    got, want = _chunks(db), _expected(db)
    assert want[FIRST] != before[FIRST] and want[LONG] != before[LONG]  # (the edit reached the messages)
    assert want[LONG][0] == before[LONG][0]  # the long answer changed in its last chunk only
    assert got[FIRST] == want[FIRST] and got[LONG] == want[LONG]
    assert got == want
    # Semantic and keyword search find each message by what it says now.
    code, out, err = run_cli("search", "baking bread with a sourdough starter", "--mode", "semantic", "--json", db=db)
    assert code == 0, err
    assert json.loads(out)[0]["msg_id"] == FIRST
    assert FIRST in _keyword(db, NEW_WORD) and FIRST not in _keyword(db, OLD_WORD)
    assert LONG in _keyword(db, "bakers")


def _crashing_ingest(db: Path, folder: Path, crash_at: str) -> None:
    proc = vault_process(db, "ingest", str(folder), "--json", crash_at=crash_at)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == FAULT_EXIT, (crash_at, proc.returncode, err.decode()[-2000:])


@pytest.mark.parametrize("phase", ["replaced-rows-deleted", "in-file-commit", "file-commit", "fts-done"])
def test_a_crash_after_the_edit_is_read_leaves_no_old_chunk(embedded, phase):
    """Killed inside the file's commit, after it, or before embedding: the next run indexes the new texts
    (semantic and keyword)."""
    db, session = embedded
    _edit(session)
    _crashing_ingest(db, session.parent, phase)
    got = _chunks(db)
    assert all(got.get(m) in (None, want) for m, want in _expected(db).items())  # never the old text's chunks
    _ingest(db, session.parent)
    assert _chunks(db) == _expected(db)
    assert FIRST in _keyword(db, NEW_WORD) and FIRST not in _keyword(db, OLD_WORD)
