"""Labelled turns for fitting and measuring the learned classifier.

An `Example` is a human-side `Turn` in context with a hand label and its author (the
source repository, for leave-one-author-out). Examples come from a vault: the labelled
files are ingested into it, their turns read as `vault mine` reads them, and each turn
whose msg_id carries a hand label becomes an example. Only the files a label names are
ingested, so no other session's turn can leak into training.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from miner.classify.base import AFTER_CHARS, NOT_HUMAN, Turn

# The hand-label files of the shared corpora the shipped model is fitted on (paths under the corpora).
DEV_LABEL_FILES = ("labels-dev.jsonl", "labels-wild-dev.jsonl")
_ROW = re.compile(r"^\|(.+)\|\s*$")


@dataclass(slots=True)
class Example:
    turn: Turn
    label: str
    author: str  # source repository (owner/name), or "you" for a vault's own labels
    file: str = ""


def authors_from_sources(corpora: Path) -> dict[str, str]:
    """{file under the corpora: repository}, read from the SOURCES.md tables (corpora and wild/)."""
    out: dict[str, str] = {}
    for sources, prefix in ((corpora / "SOURCES.md", ""), (corpora / "wild" / "SOURCES.md", "wild/")):
        if not sources.exists():
            continue
        file_col = repo_col = None
        for line in sources.read_text(encoding="utf-8").splitlines():
            m = _ROW.match(line.strip())
            if not m:
                file_col = repo_col = None if not line.strip() else file_col
                continue
            cells = [c.strip() for c in m.group(1).split("|")]
            if "repo" in cells:
                file_col, repo_col = 0, cells.index("repo")
                continue
            if repo_col is None or set(cells[0]) <= set("-: "):
                continue
            out[prefix + cells[file_col]] = cells[repo_col]
    return out


def read_label_rows(path: Path) -> list[dict[str, Any]]:
    from miner.evaluate import read_gold_rows

    return read_gold_rows(path)


def examples_from_vault(con: duckdb.DuckDBPyConnection, rows: Iterable[Mapping[str, Any]],
                        author_of: Mapping[str, str] | None = None, default_author: str = "you") -> list[Example]:
    """Examples for the labelled rows (`msg_id`, `label`, optional `file`) whose message is a human-side turn."""
    from miner.evaluate import resolve_ids
    from miner.turns import iter_turns

    rows = [r for r in rows if r["label"] != NOT_HUMAN]
    alias = resolve_ids(con, rows)
    by_id = {alias.get(r["msg_id"], r["msg_id"]): r for r in rows}
    if not by_id:
        return []
    sessions = [s for (s,) in con.execute(
        "SELECT DISTINCT session_id FROM messages WHERE msg_id IN (SELECT unnest(?))", [list(by_id)]).fetchall()]
    out = []
    for turn in iter_turns(con, sorted(sessions)):
        row = by_id.get(turn.msg_id)
        if row is None:
            continue
        file = row.get("file") or ""
        out.append(Example(turn, row["label"], (author_of or {}).get(file, default_author), file))
    return out


def corpus_examples(corpora: Path, work: Path, label_files: Iterable[str] = DEV_LABEL_FILES) -> list[Example]:
    """Examples of the shared corpora's dev labels: their files ingested into a fresh vault under `work`."""
    from vault.ingest import ingest
    from vault.store import open_vault

    rows = [r for name in label_files for r in read_label_rows(corpora / name)]
    files = sorted({r["file"] for r in rows if r.get("file")})
    db = work / "training.duckdb"
    if db.exists():
        db.unlink()
    con = open_vault(db)
    try:
        ingest(con, [corpora / f for f in files])
        return examples_from_vault(con, rows, authors_from_sources(corpora))
    finally:
        con.close()


# -- labelled turns kept in the repository (data/labels/external-*.jsonl) ------------------------------

EXTERNAL_DIR = Path(__file__).resolve().parents[2] / "data" / "labels"
EXTERNAL_GLOB = "external-*.jsonl"
# The folders of a labels tree a scored label file sits in: the model's training files, the licensed files kept out
# of learned-8's fit (not-in-model/), the files holding hashes only (pointers-only/). sealed*/ folders are not read.
LABEL_FOLDERS = ("", "not-in-model", "pointers-only")
_TURN_FIELDS = ("author", "session", "n", "kind", "text", "label")


def _answer(tail: str, chars: int) -> str:
    """The assistant answer as a `Turn` holds it, from the record's tail and full length: the tail
    (what the cue, claim and question features read) after blank padding standing for the part not
    kept (so the answer-length feature sees the real length). The padding holds no text or tool line."""
    chars = min(max(chars, len(tail)), 4000)  # miner.turns.ANSWER_CHARS
    return " " * (chars - len(tail)) + tail if chars > len(tail) else tail


def read_external(path: Path) -> list[Example]:
    """Examples of one external label file: one line per human-side turn, a session's turns in order.

    Each line carries the turn, its label and what the features need of its context (the tail of the
    assistant's answer before it, that answer's length, a tool error in it); the previous turns of the
    session give the rest (previous request, context). Nothing is fetched: see data/labels/README.md.
    """
    return examples_from_rows(_rows(path), path.name)


def _rows(path: Path, fields: tuple[str, ...] = _TURN_FIELDS) -> list[dict[str, Any]]:
    return [row for _, row in numbered_rows(path, fields)]


def numbered_rows(path: Path, fields: tuple[str, ...] = _TURN_FIELDS) -> list[tuple[int, dict[str, Any]]]:
    """(line number in the file, row) of each non-blank line, every one checked to be JSON holding `fields`."""
    rows = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            missing = [f for f in fields if f not in row]
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{i}: not JSON ({e.msg})") from None
        if missing:
            raise ValueError(f"{path}:{i}: missing {', '.join(missing)}")
        rows.append((i, row))
    return rows


def external_session_id(row: Mapping[str, Any]) -> str:
    """The session id a label-file row's turn gets: one per author and session of the file."""
    return f"ext:{row['author']}:{row['session']}"


def external_msg_id(row: Mapping[str, Any]) -> str:
    """The msg_id a label-file row's turn gets (examples_from_rows), by which a bench's predictions name it."""
    return f"{external_session_id(row)}:{row['n']}"


def examples_from_rows(rows: list[dict[str, Any]], name: str) -> list[Example]:
    """Examples of external-format rows (one file's, `name`), rebuilt in session order (see read_external)."""
    from vault.model import Kind

    out: list[Example] = []
    rows.sort(key=lambda r: (r["author"], str(r["session"]), int(r["n"])))
    prev: dict[str, Any] | None = None
    context: list[tuple[str, str]] = []
    position = 0
    typed: tuple[str, str] | None = None
    for r in rows:
        sid = external_session_id(r)
        if prev is None or external_session_id(prev) != sid:
            prev, context, position, typed = None, [], 0, None
        tail = r.get("answer_before") or ""
        if tail:
            context.append(("assistant", tail[-1000:]))
        kind = r["kind"]
        text = r["text"] if kind != Kind.INTERRUPT else ""
        msg_id = external_msg_id(r)
        turn = Turn(msg_id=msg_id, session_id=sid, kind=kind, text=text, position=position,
                    prev_assistant=_answer(tail, int(r.get("answer_chars") or 0)) if tail else None,
                    prev_human=prev["text"] if prev else None, prev_kind=prev["kind"] if prev else None,
                    prev_assistant_error=bool(r.get("answer_error")),
                    prev_typed=typed[1] if typed else None, prev_typed_id=typed[0] if typed else None,
                    context=list(context[-6:]),  # miner.turns.CONTEXT_TURNS
                    # the next answer's prose head: absent when the labeller could not read it (unknown, not
                    # "said nothing"); its tool calls are not in label files
                    next_assistant=_after(r.get("answer_after")))
        out.append(Example(turn, r["label"], r["author"], f"{name}:{r['session']}"))
        context.append(("user", text if text else "[interrupted]"))
        if text:
            typed = (msg_id, text)
        prev, position = r, position + 1
    return out


def _after(value: Any) -> str | None:
    """A label line's `answer_after` as `Turn.next_assistant` holds it: None (absent: unknown) or its head."""
    return None if value is None else str(value)[:AFTER_CHARS]


def label_file(name: str, labels: Path = EXTERNAL_DIR) -> Path | None:
    """The label file called `name` in one of the LABEL_FOLDERS of `labels` (None: in none of them)."""
    return next((labels / d / name for d in LABEL_FOLDERS if (labels / d / name).exists()), None)


def external_examples(folder: Path = EXTERNAL_DIR) -> list[Example]:
    """Every external label file's examples (sorted by file name: deterministic)."""
    return [e for p in sorted(folder.glob(EXTERNAL_GLOB)) for e in read_external(p)]


# -- pointer files (data/labels/pointers-only/): judgements whose text is not in the repository -------------

POINTERS_DIR = EXTERNAL_DIR / "pointers-only"
# Where the text of pointers-only files (sources without a licence: only hashes in the repository) is kept on the
# machines the team measures on, outside the repository; read_pointers' usual `text_dir` (benches, tests that skip
# without it)
POINTERS_TEXT = Path("/work/bench-data/model/pointers-text")
_POINTER_FIELDS = ("author", "session", "n", "kind", "label", "text_sha256", "answer_before_sha256")


# The fields a pointer line names by SHA-256 (`<field>_sha256`) instead of holding them; answer_after only in the lines
# that record one
POINTER_HASHED = ("text", "answer_before", "answer_after")


@dataclass(slots=True)
class PointerCheck:
    """One line of a pointers-only file checked against the text kept for it (see check_pointers)."""

    line: int  # line number in the pointers-only file
    pointer: dict[str, Any]
    text: dict[str, Any] | None  # the row of the same (session, n) in the text file; None when it has none
    bad: tuple[str, ...]  # the POINTER_HASHED fields the pointer names whose text is absent or hashes otherwise


def pointer_fields(pointer: Mapping[str, Any]) -> tuple[str, ...]:
    """The fields a pointer line names by hash: text and answer_before always, answer_after where recorded."""
    return tuple(f for f in POINTER_HASHED if f != "answer_after" or "answer_after_sha256" in pointer)


def text_sha256(s: str) -> str:
    """The hash a pointer line names a field by (check_pointers; bench/pointers_match.py finds text by it)."""
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


def check_pointers(path: Path, text_dir: Path) -> list[PointerCheck]:
    """Every line of a pointers-only label file against the file of the same name in `text_dir` (full rows,
    matched on session and n): which of its hashed fields have text whose SHA-256 is the pointer's. A missing
    text file leaves every field of every line bad; an absent `answer_before` counts as "" (as the labels write
    an answer that was not there), an absent `text` or `answer_after` as missing. Raises ValueError when either
    file is not JSON lines of the expected fields."""
    source = text_dir / path.name
    full = {(str(r["session"]), int(r["n"])): r for r in _rows(source, ("session", "n"))} if source.exists() else {}
    out = []
    for i, r in numbered_rows(path, _POINTER_FIELDS):
        t = full.get((str(r["session"]), int(r["n"])))
        bad = []
        for field in pointer_fields(r):
            value = None if t is None else t.get(field)
            if field == "answer_before" and t is not None:
                value = value or ""
            if not isinstance(value, str) or text_sha256(value) != r[f"{field}_sha256"]:
                bad.append(field)
        out.append(PointerCheck(i, r, t, tuple(bad)))
    return out


def read_pointers(path: Path, text_dir: Path) -> list[Example]:
    """Examples of a pointers-only label file, the text of each line taken from the file of the same name in
    `text_dir` (outside the repository: the text read again at the recorded commit) and kept only if its
    SHA-256 (typed turn, answer tail, and the next answer's head where the pointer records one) equals the
    pointer's (check_pointers). A line without matching text is an error naming the file and line: a figure on
    part of an author's turns would not be the figure it claims. `python bench/pointers_text.py` lists every
    line whose text is missing or does not match, with the source to read it again from."""
    source = text_dir / path.name
    if not source.exists():
        raise ValueError(f"{path}: no text for it in {text_dir}")
    rows = []
    for c in check_pointers(path, text_dir):
        if c.bad:
            raise ValueError(f"{path}:{c.line}: the {', '.join(c.bad)} in {source} "
                             "does not match the pointer's SHA-256")
        t = c.text
        after = t.get("answer_after") if "answer_after" in pointer_fields(c.pointer) else None
        rows.append({**c.pointer, "text": t["text"], "answer_before": t.get("answer_before") or "",
                     "answer_after": after})
    return examples_from_rows(rows, path.name)
