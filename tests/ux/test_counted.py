"""Counts in the text summaries read as English: "1 file read", not "1 files read" (vault.render.counted)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from support import run_cli
from vault.render import counted

KINDS = Path(__file__).parents[1] / "fixtures" / "claude_code" / "kinds" / "11111111-1111-4111-8111-111111111111.jsonl"


@pytest.mark.parametrize("n, args, shown", [
    (0, ("file",), "0 files"), (1, ("file",), "1 file"), (2, ("file",), "2 files"),
    (1, ("new message",), "1 new message"), (3, ("entry", "entries"), "3 entries"), (1, ("entry", "entries"), "1 entry"),
])
def test_counted(n, args, shown):
    assert counted(n, *args) == shown
    assert counted(n, *args, style="bold") == shown.replace(str(n), f"[bold]{n}[/]", 1)


def test_one_file_ingest_and_stats_say_file_and_line_in_the_singular(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(KINDS, src / "s.jsonl")
    with (src / "s.jsonl").open("a") as f:
        f.write('{"type": "user", "message": \n')  # one broken line: skipped and reported
    db = tmp_path / "v.duckdb"
    code, out, err = run_cli("ingest", "--no-embed", str(src), db=db)
    assert code == 0, err
    first = " ".join(out.split())
    assert first.startswith("1 file read, 0 unchanged; ") and "; 1 line skipped" in first, out
    assert "claude_code: 1 file\n" in out and "1 files" not in out, out
    code, out, err = run_cli("stats", db=db)
    assert code == 0, err
    line = " ".join(out.split())
    assert line.startswith("1 session (0 subagent), ") and "; 1 file, " in line and ", 1 line skipped" in line, out
    code, js, err = run_cli("ingest", "--no-embed", "--json", str(src), db=tmp_path / "w.duckdb")
    assert code == 0, err
    rep = json.loads(js)
    assert (rep["files"], rep["skipped_lines"]) == (1, 1)  # --json unchanged: numbers, no nouns
