"""What a new user meets first, through the real `vault` program (`vault.cli.main`, the error translation included):
an export to a folder that cannot be made or written, an error of the machine about a path, `vault mine` on a vault
with nothing in it. Each is one line naming what to fix, never "internal error" and never a traceback."""

from __future__ import annotations

import errno

import pytest

from vault import cli as vault_cli


def _main(capsys, *argv: str) -> tuple[int, str, str]:
    """`vault ARGV...` as the program runs it: (exit code, stdout, stderr)."""
    try:
        vault_cli.main(list(argv))
        code = 0
    except SystemExit as e:
        code = e.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "internal error" not in err and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("under", ["a file", "no such root"])
def test_export_to_a_folder_that_cannot_be_made_is_one_line_naming_it(ex_db, tmp_path, capsys, under):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder\n")
    # (under /proc no folder can be made, even by root, who may write anywhere else)
    out = blocker / "export" if under == "a file" else "/proc/vault-export-test/out"
    code, _, err = _main(capsys, "--db", str(ex_db), "export", "--format", "trl", "--out", str(out))
    line = _one_line(err)
    assert code == 2 and "--out" in line and str(out) in line, err
    assert blocker.read_text() == "a file, not a folder\n"


def test_export_that_cannot_write_a_file_is_one_line_naming_it(ex_db, tmp_path, capsys, monkeypatch):
    import miner.export as export_mod

    target = tmp_path / "out" / "train.jsonl"

    def full_disk(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    monkeypatch.setattr(export_mod, "export", full_disk)
    code, _, err = _main(capsys, "--db", str(ex_db), "export", "--format", "trl", "--out", str(tmp_path / "out"))
    line = _one_line(err)
    assert code == 1 and str(target) in line and "No space left on device" in line, err


def test_the_machine_refusing_a_path_is_one_line_not_a_bug(ex_db, tmp_path, capsys, monkeypatch):
    """Any command: an OSError about a path (a read-only file system, a full disk) names the path; a bug (an
    OSError without a path, any other exception) is still an internal error, with its traceback under --debug."""
    from vault.cli import archive

    path = str(tmp_path / "somewhere")

    def refuse(*a, **k):
        raise OSError(errno.EROFS, "Read-only file system", path)

    monkeypatch.setattr(archive, "open_db", refuse)
    code, _, err = _main(capsys, "--db", str(ex_db), "stats")
    line = _one_line(err)
    assert code == 1 and path in line and "Read-only file system" in line, err
    with pytest.raises(OSError):  # --debug still shows the traceback
        vault_cli.main(["--debug", "--db", str(ex_db), "stats"])
    capsys.readouterr()

    def bug(*a, **k):
        raise OSError("no errno, no path: our own mistake")

    monkeypatch.setattr(archive, "open_db", bug)
    code, _, err = _main(capsys, "--db", str(ex_db), "stats")
    assert code == 1 and "internal error: OSError" in err, err


def test_a_busy_vault_leaves_no_export_folder_behind(ex_db, tmp_path, capsys):
    from support import vault_holder

    out = tmp_path / "export"
    with vault_holder(ex_db):
        code, _, err = _main(capsys, "--db", str(ex_db), "export", "--format", "trl", "--out", str(out))
    assert code == 2 and "in use" in _one_line(err), err
    assert not out.exists()


def test_mine_on_an_empty_vault_says_to_ingest_first(tmp_path, capsys):
    db = tmp_path / "empty.duckdb"
    (tmp_path / "nothing").mkdir()
    code, _, _ = _main(capsys, "--db", str(db), "ingest", "--no-embed", str(tmp_path / "nothing"))
    assert db.exists()
    code, out, err = _main(capsys, "--db", str(db), "mine", "--backend", "heuristic")
    assert code == 0, err
    first = out.strip().splitlines()[0]
    assert "vault ingest" in first and "already has a label" not in first, out


def test_mine_again_still_says_every_turn_is_labelled(ex_db, capsys):
    code, _, err = _main(capsys, "--db", str(ex_db), "mine", "--backend", "heuristic")
    assert code == 0, err
    code, out, err = _main(capsys, "--db", str(ex_db), "mine", "--backend", "heuristic")
    assert code == 0 and "already has a label" in out.strip().splitlines()[0], out



def test_a_wrong_source_is_undone_by_naming_the_right_one(tmp_path):
    """`vault ingest --source chatgpt` on Claude Code files stores them as read (every file an error, no message);
    the same files with `--source claude_code` were then 'unchanged' (same size and time): the sessions could not
    be had without deleting the vault. Now a file another parser stored is read again with the one named."""
    import json

    from support import ROOT, run_cli

    folder = ROOT / "tests" / "fixtures" / "claude_code" / "v21-layout"
    db = tmp_path / "v.duckdb"
    code, out, err = run_cli("ingest", str(folder), "--json", "--no-embed", "--source", "chatgpt", db=db)
    wrong = json.loads(out)
    assert wrong["messages_added"] == 0 and wrong["errors"], wrong
    code, out, err = run_cli("ingest", str(folder), "--json", "--no-embed", "--source", "claude_code", db=db)
    right = json.loads(out)
    assert code == 0 and right["messages_added"] > 0 and right["files_unchanged"] == 0, right
    code, out, err = run_cli("ingest", str(folder), "--json", "--no-embed", db=db)
    again = json.loads(out)
    assert again["messages_added"] == 0 and again["files"] == 0 and again["files_unchanged"] > 0, again
    code, out, err = run_cli("ingest", str(folder), "--json", "--no-embed", "--source", "claude_code", db=db)
    assert json.loads(out)["files"] == 0  # the parser that stored it: unchanged, as before


def test_turns_with_an_unknown_label_names_the_labels(ex_db, capsys):
    """`vault turns --label correction` printed an empty table: a typo looked like a vault without corrections."""
    code, out, err = _main(capsys, "--db", str(ex_db), "turns", "--label", "correction")
    line = _one_line(err)
    assert code == 2 and "reattempt_with_feedback" in line and "correction" in line, err
    code, out, err = _main(capsys, "--db", str(ex_db), "turns", "--label", "interrupt", "--json")
    assert code == 0, err


@pytest.mark.parametrize("option, value", [("--session", "zzz"), ("--project", "no-such-project"),
                                           ("--role", "no-such-role")])
def test_a_search_filter_that_matches_no_session_says_so(ex_db, capsys, option, value):
    """`vault search foo --session zzz` said only "no match for 'foo'": a mistyped filter looked like missing
    words. The output stays what it was (the JSON an empty list, exit 0); stderr names the filter."""
    code, out, err = _main(capsys, "--db", str(ex_db), "search", "refund", option, value, "--mode", "keyword")
    assert code == 0 and "no match" in out, out
    assert _one_line(err).startswith(f"{option} {value!r} matches no session"), err
    code, out, err = _main(capsys, "--db", str(ex_db), "search", "refund", option, value, "--mode", "keyword",
                           "--json")
    assert code == 0 and out.strip() == "[]" and option in _one_line(err), (out, err)


def test_a_filter_that_matches_sessions_but_not_the_words_adds_nothing(ex_db, capsys):
    code, out, err = _main(capsys, "--db", str(ex_db), "search", "zzzqqqxyz", "--project", "billing",
                           "--mode", "keyword")
    assert code == 0 and "no match" in out and err == "", err
