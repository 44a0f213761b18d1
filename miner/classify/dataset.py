"""Labelled turns for fitting and measuring the learned classifier.

An `Example` is a human-side `Turn` in context with a hand label and its author (the
source repository, for leave-one-author-out). Examples come from a vault: the labelled
files are ingested into it, their turns read as `vault mine` reads them, and each turn
whose msg_id carries a hand label becomes an example. Only the files a label names are
ingested, so no other session's turn can leak into training.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from miner.classify.base import NOT_HUMAN, Turn

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
