"""A package outside the vault adds a classifier backend through the `vault.classifiers` entry point group.

The plugin is a real installed distribution (tests/plugin_site.py), found by importlib.metadata as a pip-installed
one is; `vault mine --backend` offers it, and a broken one, or one taking a name already known, is one line naming it.
"""

from __future__ import annotations

import json

import pytest
from plugin_site import install
from plugin_site import plugin_site as site  # noqa: F401 (a fixture)
from support import run_cli

from vault.errors import VaultError

PLUGIN = '''
from miner.classify.base import NEW_REQUEST, Classifier, Label


class EchoBackend(Classifier):
    """Calls every turn a new request."""

    name = "echo"
    version = "echo-1"

    def label(self, turns):
        return [Label(NEW_REQUEST, 0.25, ["echo"]) for _ in turns]


class SameName(EchoBackend):
    name = "heuristic"


def not_a_backend():
    pass
'''


def _install(site, entries: str, source: str = PLUGIN, module: str = "vault_test_plugin_echo") -> None:
    install(site, module, source, "vault.classifiers", entries)


def test_vault_mine_runs_a_registered_backend(site, ex_db):
    _install(site, "echo = vault_test_plugin_echo:EchoBackend")
    code, out, err = run_cli("mine", "--backend", "echo", "--json", db=ex_db)
    assert code == 0, err
    rep = json.loads(out)
    assert rep["backend"] == "echo" and rep["turns_labelled"] > 0
    assert "on_new_people" not in rep  # the Classifier default: a plugin claims no measured figure
    from vault.store import open_vault

    con = open_vault(ex_db, read_only=True)
    try:
        stored = con.execute("SELECT DISTINCT backend, version, label FROM labels").fetchall()
    finally:
        con.close()
    assert stored == [("echo", "echo-1", "new_request")]


def test_the_cli_offers_a_registered_backend(site, tmp_path):
    _install(site, "echo = vault_test_plugin_echo:EchoBackend")
    code, out, _ = run_cli("mine", "--help")
    assert code == 0 and "[learned|heuristic|anthropic|echo]" in out
    code, _, err = run_cli("mine", "--backend", "nope", db=tmp_path / "v.duckdb")
    assert code == 2 and "'nope' is not one of 'learned', 'heuristic', 'anthropic', 'echo'" in err


def test_a_broken_backend_plugin_is_one_line_naming_it(site, tmp_path):
    _install(site, "broken = vault_test_plugin_broken:Backend", "raise RuntimeError('half-installed')\n",
             "vault_test_plugin_broken")
    for args in (["mine", "--help"], ["mine", "--backend", "nope"]):
        code, out, err = run_cli(*args, db=tmp_path / "v.duckdb")
        assert code == 2 and "Traceback" not in out + err and len(err.strip().splitlines()) == 1
        assert ("classifier plugin 'broken' (vault_test_plugin_broken:Backend) cannot be loaded: RuntimeError: "
                "half-installed") in " ".join(err.split())


def test_a_built_in_backend_is_found_without_reading_the_entry_points(site, ex_db):
    _install(site, "broken = vault_test_plugin_broken:Backend", "raise RuntimeError('half-installed')\n",
             "vault_test_plugin_broken")
    code, out, err = run_cli("mine", "--backend", "heuristic", "--json", db=ex_db)
    assert code == 0 and json.loads(out)["backend"] == "heuristic", err
    from miner.classify import backend_class

    assert backend_class("heuristic").name == "heuristic"  # the broken plugin is never loaded
    with pytest.raises(VaultError, match="classifier plugin 'broken'"):
        backend_class("nope")


@pytest.mark.parametrize(("entries", "error"), [
    ("mine = vault_test_plugin_echo:SameName",
     "classifier plugin 'mine' (vault_test_plugin_echo:SameName) reuses the backend name 'heuristic'"),
    ("a = vault_test_plugin_echo:EchoBackend\nb = vault_test_plugin_echo:EchoBackend",
     "classifier plugin 'b' (vault_test_plugin_echo:EchoBackend) reuses the backend name 'echo'"),
    ("odd = vault_test_plugin_echo:not_a_backend",
     "classifier plugin 'odd' (vault_test_plugin_echo:not_a_backend) is not a miner.classify.base.Classifier "
     "subclass with a name"),
])
def test_a_plugin_taking_a_known_name_or_not_a_backend_is_refused(site, entries, error):
    _install(site, entries)
    from miner.classify import backend_names

    with pytest.raises(VaultError) as e:
        backend_names()
    assert str(e.value) == error
