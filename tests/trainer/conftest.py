"""Fixtures for the trainer tests (helpers in trainer_fixtures.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Run as `pytest` (not `python -m pytest`), the repository root is not on sys.path and this
# folder, named `trainer` without an __init__.py, could shadow the real package.
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from trainer_fixtures import BROKEN_CHATML, build_tiny_model, tiny_pairs, write_export  # noqa: E402


@pytest.fixture
def tiny_export(tmp_path) -> Path:
    return write_export(tmp_path / "export", *tiny_pairs())


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def broken_base(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("broken-model"), BROKEN_CHATML)
