"""Fixtures for the dataset tests: example and corpus vaults with labels, one shared embedding model."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from planted import hand_label  # noqa: E402
from support import (  # noqa: E402
    CLAUDE_CORPUS,
    CONVERSATIONS,
    CORPORA,
    EXAMPLES,
    hand_labelled,
    jsonl_rows,
    labelled_vault,
    mined,
    require_shared,
)


@pytest.fixture(scope="session")
def hand_vault(tmp_path_factory) -> Path:
    """examples/ with the planted corrections labelled by hand (tests/datasets/planted.py)."""
    return labelled_vault(tmp_path_factory.mktemp("hand") / "vault.duckdb", [EXAMPLES / "claude-code"], hand_label)


@pytest.fixture(scope="session")
def mined_vault(tmp_path_factory) -> Path:
    """examples/ labelled by the real miner (`miner.mine.mine`, heuristic backend)."""
    return labelled_vault(tmp_path_factory.mktemp("mined") / "vault.duckdb", [EXAMPLES / "claude-code"], mined())


@pytest.fixture(scope="session")
def corpus_dev_vault(tmp_path_factory) -> Path:
    """../shared/corpora with the hand labels of labels-dev.jsonl."""
    require_shared()
    return labelled_vault(tmp_path_factory.mktemp("corpus-dev") / "vault.duckdb", [CLAUDE_CORPUS, CONVERSATIONS],
                          hand_labelled(jsonl_rows(CORPORA / "labels-dev.jsonl")))


@pytest.fixture(scope="session")
def corpus_mined_vault(tmp_path_factory) -> Path:
    require_shared()
    return labelled_vault(tmp_path_factory.mktemp("corpus-mined") / "vault.duckdb", [CLAUDE_CORPUS, CONVERSATIONS],
                          mined())


@pytest.fixture
def vault_copy(tmp_path):
    """copy(path) -> an open connection on a private copy of a session-scoped vault."""
    from vault.store import open_vault

    opened = []

    def copy(path: Path):
        dst = tmp_path / f"copy{len(opened)}.duckdb"
        shutil.copy(path, dst)
        con = open_vault(dst)
        opened.append(con)
        return con

    yield copy
    for con in opened:
        con.close()


@pytest.fixture(scope="session")
def embed_model():
    """The default local embedding model, loaded once for all persona tests (~5 s)."""
    from vault.index.embeddings import load_model
    from vault.index.settings import DEFAULT_MODEL

    return load_model(DEFAULT_MODEL)
