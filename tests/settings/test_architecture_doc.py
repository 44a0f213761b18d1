"""docs/architecture.md names real things: every path it cites (`vault/walk.py`, `tests/sources/`) exists, and every
dotted name (`vault.sources.base.Parser`, `miner.tables.role_unmatched`) imports or is an entry point group a
registry reads (`vault.classifiers`), so a rename or a removal that leaves
the doc behind fails here. (What the names are said to do is checked where it lives: the import contracts, the table
owners, the seams' own tests.)"""

from __future__ import annotations

import importlib
import re

import pytest

from support import ROOT

DOC = ROOT / "docs" / "architecture.md"
PACKAGES = ("vault", "miner", "tui", "trainer")
# The registries that read an entry point group (`ENTRY_POINT_GROUP`, through vault.plugins.registered).
REGISTRIES = ("vault.sources", "miner.classify", "miner.export")


def cited() -> set[str]:
    return set(re.findall(r"`([^`\s]+)`", DOC.read_text(encoding="utf-8")))


def paths() -> list[str]:
    return sorted(c for c in cited() if "<" not in c and re.fullmatch(r"[\w./-]+/[\w.-]*", c)
                  and (c.endswith((".py", "/")) or "." not in c.rsplit("/", 1)[-1]))


def dotted_names() -> list[str]:
    return sorted(c for c in cited() if re.fullmatch(r"(?:%s)(?:\.\w+)+" % "|".join(PACKAGES), c))


def resolve(name: str) -> object:
    """The module or attribute `name` names: its longest importable prefix, then attributes."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(name)


def test_the_doc_cites_paths_and_names():
    assert len(paths()) > 30 and len(dotted_names()) > 15


@pytest.mark.parametrize("path", paths())
def test_each_cited_path_exists(path):
    assert (ROOT / path).exists(), f"docs/architecture.md cites {path}, which is not in the tree"


@pytest.mark.parametrize("name", dotted_names())
def test_each_cited_name_imports(name):
    if name in {importlib.import_module(m).ENTRY_POINT_GROUP for m in REGISTRIES}:
        return
    try:
        resolve(name)
    except (ImportError, AttributeError) as e:
        pytest.fail(f"docs/architecture.md cites {name}: {type(e).__name__}: {e}")
