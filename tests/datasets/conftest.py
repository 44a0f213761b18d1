"""Fixtures for the dataset tests: example and corpus vaults with labels, one shared embedding model."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from planted import hand_label  # noqa: E402
from support import CLAUDE_CORPUS, CONVERSATIONS, CORPORA, EXAMPLES, require_shared  # noqa: E402


def _build(path: Path, sources: list[Path], labeller) -> Path:
    from vault.ingest import ingest
    from vault.store import open_vault

    con = open_vault(path)
    try:
        ingest(con, sources)
        labeller(con)
    finally:
        con.close()
    return path


def _mine(con) -> None:
    from miner.mine import mine

    mine(con)


def _hand_labels_dev(con) -> None:
    """The hand labels of ../shared/corpora/labels-dev.jsonl (the rest unlabelled), roles assigned."""
    from miner.mine import store_hand_labels
    from miner.tables import assign_roles

    store_hand_labels(con, [json.loads(line) for line in (CORPORA / "labels-dev.jsonl").read_text().splitlines()
                            if line.strip()])
    assign_roles(con)


@pytest.fixture(scope="session")
def hand_vault(tmp_path_factory) -> Path:
    """examples/ with the planted corrections labelled by hand (tests/datasets/planted.py)."""
    return _build(tmp_path_factory.mktemp("hand") / "vault.duckdb", [EXAMPLES / "claude-code"], hand_label)


@pytest.fixture(scope="session")
def mined_vault(tmp_path_factory) -> Path:
    """examples/ labelled by the real miner (`miner.mine.mine`, heuristic backend)."""
    return _build(tmp_path_factory.mktemp("mined") / "vault.duckdb", [EXAMPLES / "claude-code"], _mine)


@pytest.fixture(scope="session")
def corpus_dev_vault(tmp_path_factory) -> Path:
    """../shared/corpora with the hand labels of labels-dev.jsonl."""
    require_shared()
    return _build(tmp_path_factory.mktemp("corpus-dev") / "vault.duckdb", [CLAUDE_CORPUS, CONVERSATIONS],
                  _hand_labels_dev)


@pytest.fixture(scope="session")
def corpus_mined_vault(tmp_path_factory) -> Path:
    require_shared()
    return _build(tmp_path_factory.mktemp("corpus-mined") / "vault.duckdb", [CLAUDE_CORPUS, CONVERSATIONS], _mine)


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
