"""Data from the vault or from files printed through rich is printed as it is: a project, branch, title, role, message
or file name holding "[bold]", "[red]" or "[/x]" keeps its brackets in every text view, and "[/x]" or "[/]" (a closing
tag with nothing to close: rich's MarkupError) never ends a command. Before, `vault show` of such a session was an
internal error, `vault sessions` dropped "[bold]" from a project, `vault roles` a role's "[red]"."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from support import EXAMPLES, run_cli

SID = "1b1f1e00-139c-56c0-8e1e-5ba36e2b8ab2"  # the examples' billing-api session titled "Invoice total endpoint"
TITLE = "[/x] Invoice [bold]total[red] endpoint [/]"
PROJECT = "[bold]billing[red]-api"  # the last part of the cwd: a "[/...]" there would be a folder
BRANCH = "feat/[/x]invoice-total"
PATH_TEXT = "/invoices/[/x][bold]{id}[red]/total"  # in the person's prompt, the assistant's text and tool calls
TEST_FILE = "tests/[/]test_invoices.py"  # in a tool call's input (Bash) and its result
ROLE = "[/x] ops [bold]team[red]"
BAD_FILE = "[/x][bold]notes.jsonl"  # the file "x][bold]notes.jsonl" in a folder named "["


def _no_crash(code: int, out: str, err: str) -> str:
    assert code == 0, err
    assert "Traceback" not in err and "internal error" not in err, err  # (run_cli raises what the command raises)
    return out


@pytest.fixture(scope="module")
def marked(tmp_path_factory) -> tuple[Path, Path]:
    """(the vault, the config naming ROLE) of the examples with the brackets above in the billing-api sessions, mined."""
    root = tmp_path_factory.mktemp("markup")
    archive = root / "archive"
    shutil.copytree(EXAMPLES / "claude-code", archive)
    for f in (archive / "-home-jdoe-code-billing-api").glob("*.jsonl"):
        text = (f.read_text(encoding="utf-8")
                .replace('"cwd":"/home/jdoe/code/billing-api"', f'"cwd":"/home/jdoe/code/{PROJECT}"')
                .replace('"gitBranch":"feat/invoice-total"', f'"gitBranch":"{BRANCH}"')
                .replace('"aiTitle":"Invoice total endpoint"', f'"aiTitle":"{TITLE}"')
                .replace("/invoices/{id}/total", PATH_TEXT)
                .replace("tests/test_invoices.py", TEST_FILE))
        f.write_text(text, encoding="utf-8")
    (archive / "[").mkdir()
    (archive / BAD_FILE).write_text('{"id": "c1", "messages": [{"role": "user", "content": "hi"}]}\n{bad\n')
    config = root / "config.toml"
    config.write_text(f'[[roles]]\nname = {json.dumps(ROLE)}\nproject = ["*billing*"]\n', encoding="utf-8")
    db = root / "vault.duckdb"
    mp = pytest.MonkeyPatch()
    mp.setenv("VAULT_CONFIG", str(config))
    mp.setenv("COLUMNS", "400")  # the report's `path:line` unwrapped, however long the temporary folder's path
    try:
        out = _no_crash(*run_cli("ingest", "--no-embed", str(archive), db=db))
        assert f"{BAD_FILE}:2" in out  # (fixed before: the file name in the ingest report)
        _no_crash(*run_cli("mine", "--no-embed", db=db))
    finally:
        mp.undo()
    return db, config


@pytest.fixture
def env(marked, monkeypatch) -> Path:
    db, config = marked
    monkeypatch.setenv("VAULT_CONFIG", str(config))
    monkeypatch.setenv("COLUMNS", "250")  # wide enough that no table cell is cut
    return db


def test_show_prints_title_branch_project_and_texts_as_they_are(env):
    out = _no_crash(*run_cli("show", SID, "--all", db=env))  # was MarkupError: "[/x]" in the title
    assert TITLE in out
    assert BRANCH in out and PROJECT in out
    assert PATH_TEXT in out  # the person's prompt (a panel), the assistant's markdown
    assert any(TEST_FILE in line for line in out.splitlines() if "⚙" in line)  # a tool call's line
    assert any(TEST_FILE in line for line in out.splitlines() if "↳" in line)  # its result


def test_sessions_prints_project_and_title_as_they_are(env):
    out = _no_crash(*run_cli("sessions", db=env))
    assert PROJECT in out  # was "billing-api": "[bold]" and "[red]" taken as styles
    assert TITLE in out  # was MarkupError


def test_search_text_mode_prints_snippet_and_project_as_they_are(env):
    out = _no_crash(*run_cli("search", "--mode", "keyword", "invoices", db=env))
    assert PROJECT in out and "[/x][bold]{id}[red]" in out


def test_roles_and_corrections_print_the_role_as_it_is(env):
    out = _no_crash(*run_cli("roles", db=env))  # a str Table cell is markup: "[/x]" raised
    assert ROLE in out
    for role in ([], ["--role", ROLE]):
        out = _no_crash(*run_cli("stats", "--corrections", *role, db=env))
        assert f"{ROLE[:19]}…" in out  # the role column is cut at 20 cells (per role, weekly)
        assert f"{ROLE[:13]}…" in out  # and at 14 (troubled sessions)


def test_stats_prints_the_counts(env):
    out = _no_crash(*run_cli("stats", db=env))
    assert "by source" in out


def test_turns_prints_texts_and_pairs_personas_the_role_as_they_are(env):
    out = _no_crash(*run_cli("turns", "--role", ROLE, db=env))
    assert "[/x][bold]{id}[red]" in out  # the first prompt, in a table cell
    out = _no_crash(*run_cli("pairs", "--all", db=env))
    assert ROLE in out  # a panel's title is markup
    out = _no_crash(*run_cli("personas", db=env))
    assert ROLE in out


def test_eval_and_config_print(env, tmp_path):
    labels = tmp_path / "labels.jsonl"
    labels.write_text(json.dumps({"msg_id": "4de028e8-98a8-593e-ad66-bfad2e28de9b", "label": "initial_request"}) + "\n")
    _no_crash(*run_cli("eval", "--no-keep", str(labels), db=env))
    out = _no_crash(*run_cli("config", db=env))
    assert json.dumps(ROLE) in out or ROLE in out


def test_esc_is_the_literal_text():
    from rich.console import Console

    from vault.cli.common import esc

    console = Console(width=200, record=True)
    for text in (TITLE, BRANCH, PATH_TEXT, ROLE, "ends in a backslash \\", "[[roles]]"):
        console.print(f"[bold]{esc(text)}[/]")
        assert console.export_text().rstrip("\n") == text
