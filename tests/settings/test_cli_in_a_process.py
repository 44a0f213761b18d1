"""Tests and benches start the `vault` program in a process of its own one way: `support.VAULT` (the tests) or
`bench/_common.VAULT` (the benches), `python -m vault.cli` in the running interpreter, with this checkout first on
the child's path. Not `-c "from vault.cli import main; main()"` (it runs whatever `vault` the child's cwd or an
editable install gives) nor the virtualenv's `vault` script (in the shared virtualenv, another checkout's)."""

from __future__ import annotations

import ast

from support import ROOT

PROGRAM = "from vault.cli import main; main()"  # the whole -c program; a -c that patches something first is fine
SCRIPT = ('with_name("vault")', "with_name('vault')", ".venv/bin/vault", '"bin" / "vault"')
# Left with a reason (none now: every bench and test starts the program through VAULT, or patches something first).
LEFT: dict[str, str] = {}


def _launches(path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    found = [f"line {n.lineno}: -c {PROGRAM!r}" for n in ast.walk(ast.parse(text))
             if isinstance(n, ast.Constant) and n.value == PROGRAM]
    return found + [f"the venv's script ({s})" for s in SCRIPT if s in text]


def test_tests_and_benches_start_the_program_through_VAULT():
    files = sorted([*(ROOT / "tests").rglob("*.py"), *(ROOT / "bench").glob("*.py")])
    bad = {str(p.relative_to(ROOT)): got for p in files if p.name != "test_cli_in_a_process.py"
           if (got := _launches(p)) and str(p.relative_to(ROOT)) not in LEFT}
    assert not bad, f"start the CLI with support.VAULT / bench/_common.VAULT (and vault_env / src_env): {bad}"


def test_the_check_finds_both_forms(tmp_path):
    old = tmp_path / "old.py"
    old.write_text(f'import sys\ncmd = [sys.executable, "-c", {PROGRAM!r}]\nexe = Path(sys.executable).with_name("vault")\n')
    assert _launches(old) == [f"line 2: -c {PROGRAM!r}", "the venv's script (with_name(\"vault\"))"]
    patched = tmp_path / "patched.py"
    patched.write_text(f'cmd = ["-c", "import vault.ingest_pool as p; p.AHEAD_FILES = 2; {PROGRAM}"]\n')
    assert _launches(patched) == []
