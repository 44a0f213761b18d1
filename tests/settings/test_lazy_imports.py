"""Heavy imports are lazy, in every module (read as text, none run): no module of vault/, miner/ or trainer/
imports a heavy library when it is imported, only inside the function that needs it, so that a command pays only
for what it uses. test_import_hygiene.py runs the CLI's light paths and watches what they load; this covers the
modules those paths do not reach (the miner's, the trainer's, the MCP server's), before any path reaches them."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator

import pytest

from support import ROOT, vault_env

# The heavy libraries: model and training stacks, the paid APIs' clients, the MCP SDK, pandas, scipy, plotting,
# pydantic (tens of ms; the settings' validation is kept off the light paths by vault.settings_light).
HEAVY = {"torch", "sentence_transformers", "transformers", "trl", "peft", "datasets", "accelerate", "anthropic",
         "openai", "mcp", "pandas", "scipy", "matplotlib", "llama_cpp", "textual", "textual_plotext", "pydantic",
         "pydantic_settings"}
# The TUI is the textual application: its modules import textual when they load.
ALLOWED = {"tui": {"textual", "textual_plotext"}}
# The modules that are pydantic models, and nothing else: each is imported only where its models are needed (the
# settings, the trainer's config, the MCP server's schemas, the answer schemas of the LLM backends).
PYDANTIC_MODELS = {"vault/settings.py", "vault/mcp_server.py", "trainer/config.py", "miner/classify/anthropic.py",
                   "miner/pairs/rewrite_answer.py", "miner/personas/rules_answer.py"}
MODEL_LIBRARIES = {"pydantic", "pydantic_settings"}
PACKAGES = ("vault", "miner", "trainer", "tui")


def eager_imports(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, top-level package) of each import run when the module loads: at module level, in a class body or
    under a module-level if/try/with, not in a function and not under `if TYPE_CHECKING:`."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            yield from ((node.lineno, a.name.split(".")[0]) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]
        else:
            todo.extend(child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt))


def heavy_at_load(source: str, package: str, path: str = "") -> list[str]:
    allowed = ALLOWED.get(package, set()) | (MODEL_LIBRARIES if path in PYDANTIC_MODELS else set())
    return [f"{line}: {name}" for line, name in eager_imports(ast.parse(source)) if name in HEAVY - allowed]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_imports_a_heavy_library_when_it_loads(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert len(files) > 3  # the package's modules were read
    found = []
    for f in files:
        path = f.relative_to(ROOT).as_posix()
        found += [f"{path}:{hit}" for hit in heavy_at_load(f.read_text(encoding="utf-8"), package, path)]
    assert not found, f"import these inside the functions that need them: {found}"


def test_the_check_finds_an_eager_import_wherever_it_stands():
    source = (
        "import os\nimport torch.nn\n"
        "try:\n    import pandas as pd\nexcept ImportError:\n    pd = None\n"
        "class A:\n    from openai import OpenAI\n"
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import mcp\n"
        "def f():\n    import trl\n"
    )
    assert sorted(heavy_at_load(source, "miner")) == ["2: torch", "4: pandas", "8: openai"]
    assert heavy_at_load("import textual.app\n", "tui") == []
    assert heavy_at_load("import textual.app\n", "vault") == ["1: textual"]


def test_pydantic_is_allowed_only_in_the_modules_of_models_that_exist():
    assert all((ROOT / path).is_file() for path in PYDANTIC_MODELS)  # a stale entry would allow nothing useful
    assert heavy_at_load("import pydantic\n", "miner", "miner/pairs/build.py") == ["1: pydantic"]
    assert heavy_at_load("import pydantic\n", "miner", "miner/pairs/rewrite_answer.py") == []


def test_the_miner_loads_without_pydantic():
    """The pair builder, the personas, the LLM clients, export and mining load no pydantic: the answer schemas are
    imported by the paid paths that send something (in a fresh interpreter)."""
    code = ("import sys, miner.pairs, miner.personas, miner.llm, miner.export, miner.mine, miner.tables; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'pydantic_settings')))")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env=vault_env())
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


def test_the_mcp_tools_import_no_mcp_code_at_all():
    """vault/mcp_tools.py holds what the server serves as plain methods (tested without the SDK); the SDK is
    vault/mcp_server.py's alone, even inside functions."""
    tree = ast.parse((ROOT / "vault" / "mcp_tools.py").read_text(encoding="utf-8"))
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
    assert names and not [n for n in names if n.split(".")[0] in ("mcp", "pydantic")]
