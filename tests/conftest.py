"""Shared fixtures. User state is isolated by one variable: VAULT_HOME points to a temp dir."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from support import CLAUDE_CORPUS, CONVERSATIONS, CORPORA, EXAMPLES, ROOT, SHARED, require_shared, run_cli  # noqa: F401



@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("vault-home")
    monkeypatch.setenv("VAULT_HOME", str(home))
    monkeypatch.delenv("VAULT_DB", raising=False)
    monkeypatch.delenv("VAULT_CONFIG", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    yield home


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "vault.duckdb"


@pytest.fixture
def con(db_path):
    from vault.store import open_vault

    c = open_vault(db_path)
    yield c
    c.close()


@pytest.fixture(scope="session")
def corpus_vault(tmp_path_factory) -> Path:
    """A vault holding all of ../shared/corpora (Claude Code + neutral), built once per test session."""
    require_shared()
    from vault.ingest import ingest
    from vault.store import open_vault

    path = tmp_path_factory.mktemp("corpus") / "vault.duckdb"
    c = open_vault(path)
    ingest(c, [CLAUDE_CORPUS, CONVERSATIONS])
    c.close()
    return path


@pytest.fixture
def fake_api(monkeypatch):
    """A local fake Anthropic API (tests/fake_anthropic_api.py) that the real SDK talks to."""
    from fake_anthropic_api import running

    with running(monkeypatch) as api:
        yield api


@pytest.fixture(scope="session")
def examples_vault(tmp_path_factory) -> Path:
    """A vault of the bundled examples/claude-code, built once per test session (copy it before writing)."""
    from vault.ingest import ingest
    from vault.store import open_vault

    path = tmp_path_factory.mktemp("examples") / "vault.duckdb"
    c = open_vault(path)
    ingest(c, [EXAMPLES / "claude-code"])
    c.close()
    return path


@pytest.fixture
def ex_db(examples_vault, tmp_path) -> Path:
    """A private, writable copy of the examples vault."""
    return Path(shutil.copy(examples_vault, tmp_path / "ex.duckdb"))


@pytest.fixture
def corpus_copy(corpus_vault, tmp_path) -> Path:
    """A private, writable copy of the shared corpus vault."""
    return Path(shutil.copy(corpus_vault, tmp_path / "corpus.duckdb"))
