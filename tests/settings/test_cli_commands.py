"""The lazy command table: a missing optional dependency reads as such, a real bug is never hidden."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib

import pytest

from support import ROOT, VAULT, vault_env
from vault import cli as vault_cli

# Runs the CLI with some top-level modules made unimportable, as on a machine without them.
WITHOUT = textwrap.dedent("""
    import sys

    class Missing:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {blocked!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

    sys.meta_path.insert(0, Missing())
    from vault.cli import main
    main(sys.argv[1:])
""")


def run_without(blocked: set[str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WITHOUT.format(blocked=blocked), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args", [(), ("--data", "x", "--out", "y"), ("--help",)])
def test_train_without_the_extra_is_one_line(args):
    res = run_without({"trl", "peft"}, "train", *args)
    assert res.returncode == 1 and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert "pip install 'vault[train]'" in lines[0] and "missing: trl, peft" in lines[0]


def test_train_with_the_extra_gets_past_the_check():
    assert vault_cli.missing_requirements("train") == []  # this environment has the extra
    res = run_without(set(), "train", "--help")
    assert res.returncode == 0 and "--data" in res.stdout


@pytest.fixture
def fake_commands(tmp_path, monkeypatch):
    """Command modules written on the fly, registered in the CLI's table."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def add(name: str, source: str, attr: str = "cmd") -> None:
        (tmp_path / f"fake_{name}.py").write_text("import click\n" + textwrap.dedent(source)
                                                  + "\n@click.command()\ndef cmd():\n    print('ran')\n")
        monkeypatch.setitem(vault_cli.COMMANDS, name, (f"fake_{name}", attr, "a test command"))
        sys.modules.pop(f"fake_{name}", None)

    return add


def test_a_missing_module_of_an_optional_extra_reads_as_not_installed(fake_commands, capsys):
    # As when `peft` (a requirement of the `train` extra) is not installed.
    fake_commands("needsdep", "raise ModuleNotFoundError(\"No module named 'peft'\", name='peft')")
    with pytest.raises(SystemExit) as e:
        vault_cli.main(["needsdep"])
    assert e.value.code == 1
    assert "needs the optional `train` dependencies (missing: peft)" in capsys.readouterr().err


@pytest.mark.parametrize("source, attr, error", [
    ("from vault.store import no_such_name", "cmd", ImportError),  # a bug inside our own code
    ("import vault.no_such_module", "cmd", ModuleNotFoundError),  # a missing module of our own
    ("", "no_such_command", AttributeError),  # the table names an attribute the module lacks
    ("import surely_not_installed_xyz", "cmd", ModuleNotFoundError),  # a typo, or a module no extra provides
    ("raise ModuleNotFoundError(\"No module named 'duckdb'\", name='duckdb')", "cmd",
     ModuleNotFoundError),  # a required dependency: a broken installation, not an optional feature
    ("import math\nmath.no_such_function()", "cmd", AttributeError),  # a bug at import time
])
def test_real_bugs_are_not_dressed_as_missing_dependencies(fake_commands, source, attr, error, monkeypatch, capsys):
    fake_commands("broken", source, attr)
    with pytest.raises(SystemExit):  # one line saying it is a bug, not that something is not installed
        vault_cli.main(["broken"])
    err = capsys.readouterr().err
    assert f"internal error: {error.__name__}" in err and "reinstall" not in err and "pip install" not in err
    monkeypatch.setenv("VAULT_DEBUG", "1")  # the traceback, for whoever fixes it
    with pytest.raises(error):
        vault_cli.main(["broken"])


def test_a_working_fake_command_runs(fake_commands, capsys):
    fake_commands("fine", "")
    vault_cli.main(["fine"])
    assert capsys.readouterr().out == "ran\n"  # the harness itself works, so the failures above mean something


@pytest.mark.parametrize("args", [("--version",), ("--help",), ("no-such-command",)])
def test_python_m_vault_cli_is_the_console_script(args):
    """Tests run the `vault` program as `python -m vault.cli` (support.VAULT): it answers as the console script's
    target (pyproject `[project.scripts]`) does, output and exit code alike."""
    target = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["vault"]
    module, _, function = target.partition(":")
    script = f"import sys; from {module} import {function}; sys.exit({function}())"
    as_module, as_script = (subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=vault_env())
                            for cmd in ([*VAULT, *args], [sys.executable, "-c", script, *args]))
    answer = (as_module.returncode, as_module.stdout, as_module.stderr)
    assert answer == (as_script.returncode, as_script.stdout, as_script.stderr)
    assert as_module.stdout or as_module.stderr  # it answered something


def test_the_commands_that_can_call_claude_share_one_set_of_paid_options():
    """mine, pairs and personas take --model/--batch/--yes/--max-cost from one place (vault.cli.common.paid_options):
    same flags, types, defaults and help."""
    from vault.cli.datasets import pairs_cmd, personas_cmd
    from vault.cli.mining import mine_cmd

    def paid(cmd) -> list[tuple]:
        return [(p.name, p.opts, p.secondary_opts, p.type.name, p.default, p.help) for p in cmd.params
                if p.name in ("model", "batch", "yes", "max_cost")]

    assert len(paid(mine_cmd)) == 4
    assert paid(mine_cmd) == paid(pairs_cmd) == paid(personas_cmd)
