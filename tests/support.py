"""Paths and helpers shared by the tests: `from support import CORPORA, run_cli`."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CORPORA = SHARED / "corpora"
CLAUDE_CORPUS = CORPORA / "claude-code"
CONVERSATIONS = CORPORA / "conversations"
EXAMPLES = ROOT / "examples"

# Tests that read the large shared corpora (../shared beside the checkout, as in CI) carry this
# mark: a bare clone has no ../shared and skips them, saying why. Use `pytestmark = needs_shared`
# for a whole module, or `@needs_shared` on one test.
needs_shared = pytest.mark.skipif(
    not CORPORA.is_dir(), reason=f"needs the shared corpora at {CORPORA} (absent in a bare clone)"
)


def run_cli(*args: str, db: Path | None = None, input: str | None = None):
    """Run the real `vault` CLI in-process; returns (exit code, stdout, stderr)."""
    from click.testing import CliRunner

    from vault.cli import cli

    runner = CliRunner()
    argv = (["--db", str(db)] if db else []) + list(args)
    res = runner.invoke(cli, argv, input=input, catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr
