"""bench/pointers_text.py: which pointers-only lines have their text (every hash matching) and where to read the
others again, on a planted folder; it never prints the text."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "pointers_text.py"
SRC = {"repo": "someone/repo", "path": "logs/PROMPTIT.md", "commit": "0123456789abcdef0123456789abcdef01234567",
       "licence": "unknown (no LICENSE file)", "format": "planted"}
# Distinctive strings: none of them may appear in what the script prints.
TEXTS = [("zqx planted request alpha", "", "zqx planted answer head one"),
         ("zqx planted correction beta", "zqx planted answer tail one", "zqx planted answer head two"),
         ("zqx planted thanks gamma", "zqx planted answer tail two", None)]


def sha(s: str) -> str:
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


def write(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def plant(tmp_path: Path, name: str, text: bool = True, wrong: tuple[int, str] | None = None) -> None:
    """A pointers file `name` (three lines, the last without answer_after) and, if `text`, its full rows; `wrong`
    = (n, field) edits that field's text so its hash no longer matches."""
    pointers, full = [], []
    for n, (t, before, after) in enumerate(TEXTS):
        base = {"author": "someone/repo", "session": "s 1", "n": n, "kind": "human_prompt", "label": "new_request"}
        p = {**base, "text_sha256": sha(t), "text_chars": len(t), "answer_before_sha256": sha(before),
             "answer_before_chars": len(before), "answer_chars": 0, "source": SRC}
        row = {**base, "text": t, "answer_before": before}
        if after is not None:
            p |= {"answer_after_sha256": sha(after), "answer_after_chars": len(after)}
            row["answer_after"] = after
        if wrong and wrong[0] == n:
            row[wrong[1]] += " (edited)"
        pointers.append(p)
        full.append(row)
    write(tmp_path / "labels" / name, pointers)
    if text:
        write(tmp_path / "text" / name, full)


def run(tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--labels", str(tmp_path / "labels"),
                           "--text", str(tmp_path / "text")], capture_output=True, text=True, timeout=120)


def folders(tmp_path: Path) -> None:
    (tmp_path / "labels").mkdir()
    (tmp_path / "text").mkdir()


def test_a_complete_folder_exits_0_with_a_count_per_file(tmp_path):
    folders(tmp_path)
    plant(tmp_path, "external-a.jsonl")
    plant(tmp_path, "external-b.jsonl")
    r = run(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[:2] == ["external-a.jsonl: 3/3 lines with their text, every hash matching",
                         "external-b.jsonl: 3/3 lines with their text, every hash matching"]
    assert len(lines) == 3 and lines[-1].startswith("complete: 6/6 lines of 2 pointers files")
    assert "zqx" not in r.stdout + r.stderr


def test_missing_and_mismatching_text_is_named_by_file_line_field_and_source_never_shown(tmp_path):
    folders(tmp_path)
    plant(tmp_path, "external-a.jsonl")                                 # complete
    plant(tmp_path, "external-b.jsonl", text=False)                     # no text file
    plant(tmp_path, "external-c.jsonl", wrong=(1, "answer_before"))    # one hash differs
    r = run(tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    out = r.stdout.splitlines()
    src = f"<- someone/repo logs/PROMPTIT.md @ {SRC['commit']}"
    assert out == [
        "external-a.jsonl: 3/3 lines with their text, every hash matching",
        "external-b.jsonl: 0/3 lines with their text, every hash matching"
        f" (no external-b.jsonl in {tmp_path / 'text'})",
        f'  external-b.jsonl:1 text=missing,answer_before=missing,answer_after=missing session "s 1" n 0 {src}',
        f'  external-b.jsonl:2 text=missing,answer_before=missing,answer_after=missing session "s 1" n 1 {src}',
        f'  external-b.jsonl:3 text=missing,answer_before=missing session "s 1" n 2 {src}',
        "external-c.jsonl: 2/3 lines with their text, every hash matching",
        f'  external-c.jsonl:2 answer_before=mismatch session "s 1" n 1 {src}',
        f"INCOMPLETE: 5/9 lines of 3 pointers files have their text in {tmp_path / 'text'}, every hash matching; "
        f"3 lines with text missing, 1 mismatching; 2 files incomplete ({tmp_path / 'labels'})",
    ]
    assert "zqx" not in r.stdout + r.stderr


def test_a_row_absent_from_the_text_file_and_a_wrong_answer_after_are_each_one_line(tmp_path):
    folders(tmp_path)
    plant(tmp_path, "external-d.jsonl", wrong=(0, "answer_after"))
    text = tmp_path / "text" / "external-d.jsonl"
    text.write_text("".join(text.read_text(encoding="utf-8").splitlines(keepends=True)[:2]), encoding="utf-8")
    r = run(tmp_path)
    assert r.returncode == 1
    problems = [line for line in r.stdout.splitlines() if line.startswith("  ")]
    assert [p.split(" session")[0].strip() for p in problems] == [
        "external-d.jsonl:1 answer_after=mismatch", "external-d.jsonl:3 text=missing,answer_before=missing"]
    assert "zqx" not in r.stdout + r.stderr


def test_a_file_that_keeps_its_text_is_skipped_and_a_broken_one_counts_as_incomplete(tmp_path):
    folders(tmp_path)
    plant(tmp_path, "external-a.jsonl")
    write(tmp_path / "labels" / "external-licensed.jsonl",
          [{"author": "x/y", "session": "s", "n": 0, "kind": "human_prompt", "label": "new_request",
            "text": "zqx kept in the file", "answer_before": ""}])
    r = run(tmp_path)
    assert r.returncode == 0 and "external-licensed.jsonl: keeps its text (not a pointers file), skipped" in r.stdout
    (tmp_path / "labels" / "external-broken.jsonl").write_text("{not json\n", encoding="utf-8")
    r = run(tmp_path)
    assert r.returncode == 1 and "external-broken.jsonl: cannot be checked:" in r.stdout
    assert "zqx" not in r.stdout + r.stderr
