"""A plugin installed as pip installs one: a module and its `.dist-info` (METADATA, entry_points.txt) in a folder
on sys.path, found by importlib.metadata. `plugin_site` (a fixture: import it into the test module) is that folder,
with the registries' caches emptied before and after; `install` puts one plugin in it."""

from __future__ import annotations

import sys
import textwrap

import pytest


def install(site, module: str, source: str, group: str, entry: str) -> None:
    """`module`.py holding `source`, and a distribution registering `entry` ("name = module:attr") in `group`."""
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{module.replace('_', '-')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{entry}\n")


def _forget() -> None:
    from miner import classify, export
    from vault.sources import parsers

    for cached in (parsers, classify._registered, export._registered):
        cached.cache_clear()


@pytest.fixture
def plugin_site(tmp_path, monkeypatch):
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    _forget()
    yield folder
    _forget()
    for name in [m for m in sys.modules if m.startswith("vault_test_plugin")]:
        del sys.modules[name]
