"""How the `vault` program ends when a command asked to skip the interpreter's teardown (`vault.cli._exit_now`):
a search that abandoned a model load, a search that wrote everything, a reader that closed the pipe. Each case
runs the real program in a process of its own, with a command written for the test."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from support import ROOT

PROGRAM = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv.pop(1))
    from vault import cli
    cli.COMMANDS["fake"] = ("fake_cmd", "cmd", "a command written by the test")
    cli.main()
""")


def run_fake(tmp_path, body: str, *args: str, stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    """`vault fake ARGS` as the program, `fake` being a click command whose body is `body`."""
    (tmp_path / "fake_cmd.py").write_text(
        "import sys, threading, time\nimport click\nfrom vault.cli import common\nfrom vault.errors import VaultError\n"
        "@click.command()\ndef cmd():\n" + textwrap.indent(textwrap.dedent(body), "    "))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # buffered, as a person runs it
    return subprocess.run([sys.executable, "-c", PROGRAM, str(tmp_path), "fake", *args], cwd=ROOT, stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=60, env=env)


# A thread that outlives the command: the usual exit would wait 30 s for it (a model load nobody will use).
ABANDON = """
threading.Thread(target=time.sleep, args=(30,)).start()
common.abandon_threads_on_exit = True
"""


def test_an_abandoned_load_does_not_hold_the_exit(tmp_path):
    res = run_fake(tmp_path, ABANDON + "sys.stdout.write('answer\\n')\n")
    assert res.returncode == 0 and res.stdout == "answer\n" and res.stderr == ""


def test_an_error_after_abandoning_a_load_is_still_shown_with_its_code(tmp_path):
    # The exit at once used to happen before the error was printed: no message, and exit code 1 for every error.
    res = run_fake(tmp_path, ABANDON + "sys.stdout.write('partial\\n')\nraise VaultError('the vault broke')\n")
    assert res.returncode == 2, res
    assert res.stdout == "partial\n" and res.stderr.strip() == "Error: the vault broke"


def test_a_closed_pipe_after_a_search_ends_quietly(tmp_path):
    # A search writes its answer (buffered) and asks to skip the teardown; the reader (`| head -0`) is gone. The
    # failed flush used to fall back on the usual exit, which failed again: "Exception ignored ... BrokenPipeError",
    # exit code 120.
    r, w = os.pipe()
    os.close(r)
    try:
        res = run_fake(tmp_path, "sys.stdout.write('hit\\n' * 10)\ncommon.exit_at_once = True\n", stdout=w)
    finally:
        os.close(w)
    assert res.returncode == 0 and res.stderr == ""


def test_output_lost_to_a_full_disk_is_an_error(tmp_path):
    if not os.path.exists("/dev/full"):
        import pytest

        pytest.skip("no /dev/full on this system")
    with open("/dev/full", "w") as full:
        res = run_fake(tmp_path, "sys.stdout.write('hit\\n')\ncommon.exit_at_once = True\n", stdout=full)
    assert res.returncode == 1 and "could not write the output" in res.stderr and "Traceback" not in res.stderr


def test_a_caller_passing_argv_gets_control_back(tmp_path, monkeypatch, capsys):
    from vault import cli

    (tmp_path / "fake_inproc.py").write_text(
        "import click\nfrom vault.cli import common\n@click.command()\ndef cmd():\n"
        "    common.abandon_threads_on_exit = True\n    common.exit_at_once = True\n    print('ran')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(cli.COMMANDS, "fake", ("fake_inproc", "cmd", "a test command"))
    cli.main(["fake"])  # would have ended the test process
    assert capsys.readouterr().out == "ran\n"
