"""The import-linter contracts (pyproject.toml, checked by `lint-imports` in `make test`) cover every package: each
module of vault/ is either in the core the contracts name or one of its front ends, and every root package is
the source of a contract. (A contract names modules: one it does not name, it does not check.) The core is listed
once: one contract forbids it both the packages above it and its front ends."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FRONT_ENDS = {"vault.cli", "vault.mcp_server", "vault.mcp_tools"}  # above the core: they may import miner


def contracts() -> list[dict]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]


def contract(name_start: str) -> dict:
    (found,) = [c for c in contracts() if c["name"].startswith(name_start)]
    return found


def vault_children() -> set[str]:
    """vault's modules and subpackages, one level down (a contract on a package covers what is below it)."""
    out = set()
    for p in (ROOT / "vault").iterdir():
        if p.suffix == ".py" and p.stem != "__init__":
            out.add(f"vault.{p.stem}")
        elif p.is_dir() and (p / "__init__.py").exists():
            out.add(f"vault.{p.name}")
    return out


def test_every_vault_module_is_core_or_a_front_end():
    core = set(contract("The vault core knows nothing")["source_modules"])
    children = vault_children()
    assert FRONT_ENDS <= children
    unnamed = sorted(children - core - FRONT_ENDS)
    assert not unnamed, f"add {unnamed} to the core's source_modules in pyproject.toml (or to FRONT_ENDS here)"
    assert not core & FRONT_ENDS and core <= children, sorted(core - children)


def test_the_core_is_listed_once_and_sits_below_miner_tui_trainer_and_its_front_ends():
    core = contract("The vault core knows nothing")
    assert set(core["forbidden_modules"]) == {"miner", "tui", "trainer"} | FRONT_ENDS
    named = [c["name"] for c in contracts() if set(c.get("source_modules", [])) & set(core["source_modules"])]
    assert named == [core["name"]], f"the core's list is written once, in one contract: {named}"


def test_every_root_package_is_the_source_of_a_contract():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    sources = {m.split(".")[0] for c in contracts() for m in c.get("source_modules", [])}
    assert set(config["root_packages"]) == {"vault", "miner", "tui", "trainer"} <= sources
