"""Fixtures for the LLM tests: a local fake Anthropic API (tests/fake_anthropic_api.py) and example turns."""

from __future__ import annotations

import pytest
from support import EXAMPLES


@pytest.fixture
def example_turns(con):
    """The human-side turns of examples/claude-code in context, as `vault mine` reads them."""
    from miner.turns import load_turns
    from vault.ingest import ingest

    ingest(con, [EXAMPLES / "claude-code"])
    return load_turns(con)
