"""Issue 17: every command, every option, bad values: a clear message, never an uncaught exception.

Runs in-process (CliRunner) against a copy of the example vault, so an exception that would reach the
person as a traceback shows here as `result.exception` (vault.cli.main turns it into one line, and
--debug / VAULT_DEBUG=1 shows it; that net must never be what a bad value relies on).
"""

from __future__ import annotations

import shutil

import click
import pytest
from click.testing import CliRunner

from vault.cli import COMMANDS, cli

# Valid (options, arguments) each command needs to get as far as the value under test (OUT, LABELS and
# EXAMPLES are filled in).
BASE = {
    "ingest": (["--no-embed"], ["EXAMPLES"]),
    "show": ([], ["43dd531a"]),
    "search": ([], ["refunds"]),
    "mine": (["--no-embed"], []),
    "eval": ([], ["LABELS"]),
    "export": (["--format", "trl", "--out", "OUT"], []),
}
# A value of each kind that a person might type by mistake.
TEXT = ["", "nosuch", "%_'\"[/bold] \\"]
BAD = {
    "integer": ["-1", "0", "abc", "99999999999999999999"],
    "integer range": ["-1", "0", "abc"],
    "float": ["-1", "nan", "inf", "abc", "1e400"],
    "choice": ["nope"],
    "text": TEXT,
    "path": ["", "/nonexistent/dir/x", "AFILE", "ADIR"],
    "file": ["", "/nonexistent/dir/x", "AFILE", "ADIR"],
    "directory": ["", "/nonexistent/dir/x", "AFILE", "ADIR"],
}


def cases():
    ctx = click.Context(cli)
    for name in COMMANDS:
        cmd = cli.get_command(ctx, name)
        for p in cmd.params:
            if isinstance(p, click.Option) and (p.is_flag or p.name == "help"):
                continue
            for v in BAD.get(p.type.name, TEXT):
                yield pytest.param(name, p, v, id=f"{name}-{p.name}-{v!r}")


def argv_for(name: str, param: click.Parameter, value: str) -> list[str]:
    opts, args = (list(x) for x in BASE.get(name, ([], [])))
    if isinstance(param, click.Argument):
        return opts + [value]  # the argument under test replaces the base ones
    flag = param.opts[0]
    if flag in opts:  # replace the base value of this option
        opts[opts.index(flag) + 1] = value
        return opts + args
    return opts + [flag, value] + args


@pytest.fixture(scope="module")
def sweep_dir(examples_vault, tmp_path_factory):
    d = tmp_path_factory.mktemp("sweep")
    (d / "a-file.txt").write_text("not what was asked for\n")
    (d / "a-dir").mkdir()
    (d / "labels.jsonl").write_text('{"msg_id": "nosuch", "label": "new_request"}\n')
    return d


@pytest.fixture(autouse=True)
def _no_app_run(monkeypatch):
    """`vault tui` gets as far as building its app; the app itself is not started."""
    from textual.app import App

    monkeypatch.setattr(App, "run", lambda self, *a, **k: None)


@pytest.mark.parametrize("name, param, value", list(cases()))
def test_bad_values_never_raise(name, param, value, sweep_dir, examples_vault, tmp_path, monkeypatch):
    from support import EXAMPLES

    monkeypatch.chdir(tmp_path)  # whatever a bad value makes a command write lands here
    db = tmp_path / "vault.duckdb"
    shutil.copy2(examples_vault, db)
    fill = {"OUT": str(tmp_path / "out"), "LABELS": str(sweep_dir / "labels.jsonl"),
            "EXAMPLES": str(EXAMPLES / "claude-code"), "AFILE": str(sweep_dir / "a-file.txt"),
            "ADIR": str(sweep_dir / "a-dir")}
    argv = [fill.get(a, a) for a in argv_for(name, param, value)]
    res = CliRunner().invoke(cli, ["--db", str(db), name, *argv], catch_exceptions=True)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        import traceback

        tb = "".join(traceback.format_exception(res.exception))
        pytest.fail(f"vault {name} {' '.join(argv)} raised:\n{tb}")
    assert "Traceback" not in res.output
