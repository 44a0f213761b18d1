"""Fixtures for the LLM tests: a local fake Anthropic API (tests/fake_anthropic_api.py) and example turns."""

from __future__ import annotations

import pytest
from fake_anthropic_api import FakeAnthropic
from support import EXAMPLES


@pytest.fixture
def fake_api(monkeypatch):
    """A running fake API; the real SDK finds it through ANTHROPIC_BASE_URL, with a dummy key."""
    api = FakeAnthropic()
    api.thread.start()
    monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-dummy-key-not-real")
    yield api
    api.server.shutdown()
    api.server.server_close()


@pytest.fixture
def example_turns(con):
    """The human-side turns of examples/claude-code in context, as `vault mine` reads them."""
    from miner.turns import load_turns
    from vault.ingest import ingest

    ingest(con, [EXAMPLES / "claude-code"])
    return load_turns(con)
