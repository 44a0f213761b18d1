"""Issue 13, secrets and personal data: each output path on its own (the whole scan is test_leaks.py)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from pathlib import Path

import pytest
from support import run_cli

sys.path.insert(0, str(Path(__file__).parent))
import planted_archive as P  # noqa: E402


@pytest.fixture(scope="module")
def planted_db(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("planted")
    return P.build_vault(root / "vault.duckdb", P.write_archive(root / "archive"))


@pytest.fixture
def db(planted_db, tmp_path) -> Path:
    return Path(shutil.copy(planted_db, tmp_path / "vault.duckdb"))


def _raw(db: Path, sql: str) -> str:
    from vault.store import open_vault

    con = open_vault(db, read_only=True)
    try:
        return json.dumps(con.execute(sql).fetchall(), ensure_ascii=False, default=str).replace("\\\\", "\\")
    finally:
        con.close()


def test_role_names_name_no_home_folder_or_user(db):
    roles = json.loads(_raw(db, "SELECT DISTINCT role_name FROM roles ORDER BY 1"))
    assert [r[0] for r in roles] == ["etl", "ledger-svc", "shop"]  # was "C:\Users\jsmith\ledger-svc" on Linux
    from vault.redact import anonymous_name

    assert anonymous_name("C:\\Users\\jsmith") == "~" and anonymous_name("/home/lchen") == "~"


@pytest.mark.parametrize("args", [(), ("--json",), ("--format", "claude-md")], ids=["text", "json", "claude-md"])
def test_personas_are_redacted_in_every_format(db, args):
    # Control: the corrections the personas were built from hold planted values (the stored rule itself is
    # now only the general clause, "Never hardcode credentials.", without the e-mail that followed it).
    sources = _raw(db, "SELECT m.text FROM messages m WHERE m.msg_id IN (SELECT unnest(CAST(json_extract_string("
                   "p.rules, '$[*].examples[*]') AS VARCHAR[])) FROM personas p)")
    assert P.leaks(sources), "control: the corrections behind the personas hold planted values"
    code, out, err = run_cli("personas", *args, db=db)
    assert code == 0, err
    assert "never hardcode" in out.lower()  # the persona is there ...
    assert P.leaks(out) == {}  # ... without what was planted in it


def test_pairs_json_and_text_are_redacted(db):
    assert P.leaks(_raw(db, "SELECT prompt, chosen, rejected, feedback, role_name FROM pairs")), "control"
    for args in (("--json", "--all"), ("--all",)):
        code, out, err = run_cli("pairs", "--no-rebuild", *args, db=db)
        assert code == 0, err
        assert out.count("never hardcode") >= 1
        assert P.leaks(out) == {}, args


def test_tool_line_redacts_before_it_cuts():
    from miner.render import TOOL_ARG_CHARS, tool_line

    line = tool_line("Bash", {"command": P.LONG_PUSH}, "")
    assert line.endswith("…") and len(line) <= TOOL_ARG_CHARS + len("[Bash] ")
    assert P.leaks(line) == {}  # before: "ghp_R8tK2mW9xQ4vN7…" and the user name stayed


def test_classifier_trim_redacts_before_it_cuts():
    from miner.classify.anthropic import trim

    # the head (2/5 of the limit) ends inside the key, the tail (the rest) starts inside the e-mail
    text = "x" * 300 + " key " + P.ANTHROPIC + " " + "y" * 1000 + " mail " + P.EMAILS[0] + " " + "z" * 470
    for limit in (800, 810, 820):
        out = trim(text, limit)
        assert "characters cut" in out and P.leaks(out) == {}, limit


def test_export_files_are_private_whatever_the_umask(db, tmp_path):
    out = tmp_path / "new" / "export"
    old = os.umask(0o022)
    try:
        code, stdout, err = run_cli("export", "--format", "trl", "--out", str(out), "--parquet", "--hf", "--json",
                                    db=db)
    finally:
        os.umask(old)
    assert code == 0, err
    paths = [out, *out.rglob("*")]
    assert {"train.jsonl", "train.parquet", "README.md", "hf"} <= {p.name for p in paths} and len(paths) > 8
    for p in paths:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (0o700 if p.is_dir() else 0o600), f"{p}: {oct(mode)}"
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700  # a parent it created too
    # a file already there from an earlier export is tightened too; an unrelated one is left alone
    (out / "train.jsonl").chmod(0o644)
    (out / "notes.txt").write_text("mine")
    (out / "notes.txt").chmod(0o644)
    assert run_cli("export", "--format", "trl", "--out", str(out), db=db)[0] == 0
    assert stat.S_IMODE((out / "train.jsonl").stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "notes.txt").stat().st_mode) == 0o644


def test_export_rows_card_and_report_are_redacted(db, tmp_path):
    out = tmp_path / "ax"
    code, stdout, err = run_cli("export", "--format", "axolotl", "--out", str(out), "--role", "ledger-svc", "--json",
                                db=db)
    assert code == 0, err
    rep = json.loads(stdout)
    assert sum(rep["counts"].values()) >= 1
    assert P.leaks(stdout) == {}
    for p in out.rglob("*"):
        if p.is_file():
            assert all(P.leaks(v) == {} for v in P.decoded_views(p)), p
    card = (out / "README.md").read_text()
    assert "| ledger-svc |" in card
    assert "path: ./train.jsonl" in (out / "axolotl.yaml").read_text()  # no absolute path, no home folder
