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


def built_once(tmp_path_factory, name: str, build) -> Path:
    """The file `name`, made by `build(path)` once per test run and shared by every xdist worker (a session
    fixture is per worker: `make test`'s two workers each built the corpus vault, and three test files mined a
    copy of it). The first worker builds it under a lock; the others wait for it. Read it, or copy it."""
    import fcntl

    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "built-once"
    root.mkdir(exist_ok=True)
    path = root / name
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the worker dies
        if not path.exists():
            part = root / f"{name}.part"
            part.unlink(missing_ok=True)
            build(part)
            part.rename(path)
    return path


def _ingest_corpora(path: Path) -> None:
    from vault.ingest import ingest
    from vault.store import open_vault

    c = open_vault(path)
    ingest(c, [CLAUDE_CORPUS, CONVERSATIONS])
    c.close()


@pytest.fixture(scope="session")
def corpus_vault(tmp_path_factory) -> Path:
    """A vault holding all of ../shared/corpora (Claude Code + neutral), built once per test run."""
    require_shared()
    return built_once(tmp_path_factory, "corpus.duckdb", _ingest_corpora)


@pytest.fixture(scope="session")
def mined_corpus_vault(tmp_path_factory, corpus_vault) -> Path:
    """The corpus vault after `vault mine` (the default learned backend), built once per test run."""
    def mine(path: Path) -> None:
        shutil.copy(corpus_vault, path)
        code, out, err = run_cli("mine", "--json", db=path)
        assert code == 0, err

    return built_once(tmp_path_factory, "corpus-mined.duckdb", mine)


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
