"""Paths and helpers shared by the tests: `from support import CORPORA, run_cli`."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CORPORA = SHARED / "corpora"
CLAUDE_CORPUS = CORPORA / "claude-code"
CONVERSATIONS = CORPORA / "conversations"
EXAMPLES = ROOT / "examples"


def run_cli(*args: str, db: Path | None = None, input: str | None = None):
    """Run the real `vault` CLI in-process; returns (exit code, stdout, stderr)."""
    from click.testing import CliRunner

    from vault.cli import cli

    runner = CliRunner()
    argv = (["--db", str(db)] if db else []) + list(args)
    res = runner.invoke(cli, argv, input=input, catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr
