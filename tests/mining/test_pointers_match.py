"""bench/pointers_match.py: a pointers-only file's text rebuilt from its source read again, each field found by SHA-256
as a window of its recorded length under a labeller's reading; what no window matches is listed, never guessed; the
rows already matching are kept; no text is printed. Planted files (tests/mining/test_pointers_text.py's)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.mining.test_pointers_text import TEXTS, folders, plant, sha

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import pointers_match  # noqa: E402
import pointers_text  # noqa: E402

NAME = "external-someone-repo.jsonl"


def source(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "src.txt"
    path.write_text(body, encoding="utf-8")
    return path


def quoted_console(drop: int | None = None) -> str:
    """The planted session as a console copy: typed turns behind `> ` markers, answers with trailing padding, CRLF
    line ends, console output lines between; `drop`: the index of a typed turn left out."""
    parts = []
    for i, (turn, before, after) in enumerate(TEXTS):
        if before:
            parts.append(before + "   ")
        if i != drop:
            parts.append("> " + turn)
        parts.append("  ⎿ ran a tool")
        if after:
            parts.append(after + "  ")
    return "\r\n".join(["header line"] + parts + ["footer"])


def test_every_field_found_under_the_readings_and_the_folder_then_checks_complete(tmp_path, capsys):
    folders(tmp_path)
    plant(tmp_path, NAME, text=False)
    src = source(tmp_path, quoted_console())
    code = pointers_match.main([str(tmp_path / "labels" / NAME), str(src), "--out", str(tmp_path / "text")])
    out = capsys.readouterr().out
    assert code == 0 and f"{NAME}: 3/3 lines complete" in out and "missing" not in out
    assert pointers_text.report(tmp_path / "labels", tmp_path / "text")
    rows = [json.loads(x) for x in (tmp_path / "text" / NAME).read_text(encoding="utf-8").splitlines()]
    assert [r["text"] for r in rows] == [t for t, _, _ in TEXTS]
    assert "answer_after" not in rows[2]  # the last line records none


def test_a_field_no_window_matches_is_listed_not_guessed_and_no_text_is_printed(tmp_path):
    folders(tmp_path)
    plant(tmp_path, NAME, text=False)
    src = source(tmp_path, quoted_console(drop=1))
    res = subprocess.run([sys.executable, str(ROOT / "bench" / "pointers_match.py"), str(tmp_path / "labels" / NAME),
                          str(src), "--out", str(tmp_path / "text")], capture_output=True, text=True, timeout=120)
    assert res.returncode == 1
    assert f"{NAME}: 2/3 lines complete" in res.stdout
    assert f'missing: session "s 1" n 1 text ({len(TEXTS[1][0])} chars)' in res.stdout
    assert "zqx" not in res.stdout + res.stderr
    rows = {r["n"]: r for r in map(json.loads, (tmp_path / "text" / NAME).read_text(encoding="utf-8").splitlines())}
    assert "text" not in rows[1] and rows[1]["answer_before"] == TEXTS[1][1]


def test_a_second_run_keeps_what_matches_and_adds_what_the_new_source_holds(tmp_path, capsys):
    folders(tmp_path)
    plant(tmp_path, NAME, text=False)
    label = str(tmp_path / "labels" / NAME)
    assert pointers_match.main([label, str(source(tmp_path, quoted_console(drop=1))), "--out",
                                str(tmp_path / "text")]) == 1
    # the missing turn alone, in a page read later: the earlier fields are not searched again and stay
    page = tmp_path / "page-2.txt"
    page.write_text("> " + TEXTS[1][0] + "\n", encoding="utf-8")
    assert pointers_match.main([label, str(page), "--out", str(tmp_path / "text")]) == 0
    assert "3/3 lines complete" in capsys.readouterr().out
    assert pointers_text.report(tmp_path / "labels", tmp_path / "text")


def test_an_unreadable_label_file_is_one_line_naming_it(tmp_path, capsys):
    bad = tmp_path / NAME
    bad.write_text('{"session": "s"\n', encoding="utf-8")
    assert pointers_match.main([str(bad), str(source(tmp_path, "x")), "--out", str(tmp_path / "text")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{bad}:1: not JSON" in err


def test_a_field_running_over_a_page_boundary_is_found_in_the_pages_joined(tmp_path, capsys):
    folders(tmp_path)
    plant(tmp_path, NAME, text=False)
    whole = quoted_console()
    cut = whole.index(TEXTS[1][0]) + 5  # inside the second typed turn
    first, second = tmp_path / "page-0.txt", tmp_path / "page-1.txt"
    first.write_text(whole[:cut], encoding="utf-8")
    second.write_text(whole[cut:], encoding="utf-8")
    label = str(tmp_path / "labels" / NAME)
    assert pointers_match.main([label, str(first), "--out", str(tmp_path / "alone")]) == 1
    assert pointers_match.main([label, str(first), str(second), "--out", str(tmp_path / "text")]) == 0
    assert "3/3 lines complete" in capsys.readouterr().out.splitlines()[-1]


def test_a_terminal_copy_with_its_soft_wraps_is_read_with_them_joined(tmp_path, capsys):
    """A console copy wraps every line at 80 columns and pads it; the labeller joined the wraps with one space."""
    long_turn = "zqx planted request " + " ".join(f"word{i}" for i in range(40))  # about 290 characters
    folders(tmp_path)
    row = {"author": "someone/repo", "session": "s 1", "n": 0, "kind": "human_prompt", "label": "new_request",
           "text_sha256": sha(long_turn), "text_chars": len(long_turn),
           "answer_before_sha256": sha(""), "answer_before_chars": 0, "answer_chars": 0}
    (tmp_path / "labels" / NAME).write_text(json.dumps(row) + "\n", encoding="utf-8")
    lines, line = [], "❯ "
    for word in long_turn.split(" "):
        if len(line) + len(word) + 1 > 80:
            lines.append(line.rstrip().ljust(80))
            line = "  "
        line += word + " "
    lines.append(line.rstrip())
    src = source(tmp_path, "\n".join(["⏺ an answer", "  ⎿ ran a tool", *lines, "✻ Thinking"]))
    assert pointers_match.main([str(tmp_path / "labels" / NAME), str(src), "--out", str(tmp_path / "text")]) == 0
    assert "1/1 lines complete" in capsys.readouterr().out


def test_soft_wraps_are_joined_only_where_the_next_word_would_not_fit_and_never_before_a_marker():
    wrapped = "x" * 76 + " abc\n" + "defgh rest"  # 'defgh' would not fit after 80 columns: a soft wrap
    assert pointers_match.soft_wraps_joined(wrapped) == "x" * 76 + " abc defgh rest"
    short = "a short line\nnext line"  # room left on the line: the person's own break
    assert pointers_match.soft_wraps_joined(short) == short
    listed = "y" * 79 + "\n- an item\n⎿ output"
    assert pointers_match.soft_wraps_joined(listed) == listed
    assert pointers_match.soft_wraps_joined("⏺ answer\n  indented", dedent=True) == "answer\nindented"


def test_pages_are_joined_by_their_offset_not_by_the_glob_order(tmp_path):
    names = ["page-112000.txt", "page-16000.txt", "page-0.txt", "notes.txt", "page-32000-excerpt-a.txt"]
    got = pointers_match.page_order([tmp_path / n for n in names])
    assert [p.name for p in got] == ["page-0.txt", "page-16000.txt", "page-32000-excerpt-a.txt", "page-112000.txt",
                                     "notes.txt"]
