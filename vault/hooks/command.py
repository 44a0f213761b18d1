"""The command line Claude Code runs for our hooks, and how an installed one is recognised."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

MARKER = "ingest --hook"  # how our hook commands are recognised in settings.json


def installed_program() -> list[str]:
    """The `vault` program a hook runs: this installation's console script, by absolute path (hooks run with Claude
    Code's PATH, which may not hold our virtualenv), so an upgrade of the package is what the next hook runs. Without
    one (run from a source tree, not installed): this interpreter with this tree's package first on its path, as the
    person ran `vault hooks install` (the hook sees none of their shell's PYTHONPATH nor cwd)."""
    script = Path(sys.executable).with_name("vault")
    if script.exists():
        return [str(script)]
    root = Path(__file__).resolve().parents[2]  # vault/hooks/command.py -> the folder holding the package
    return ["env", f"PYTHONPATH={root}", sys.executable, "-P", "-m", "vault.cli"]  # -P: not the cwd's `vault`


def hook_command(db: Path | None = None, config: Path | None = None, program: list[str] | None = None) -> str:
    """The command line Claude Code runs: `program` (default: `installed_program()`) with the vault (and config)
    baked in, as absolute paths (the hook sees none of the shell's VAULT_* variables)."""
    argv = list(program or installed_program())
    if db is not None:
        argv += ["--db", str(Path(db).expanduser().resolve())]
    if config is not None:
        argv += ["--config", str(Path(config).expanduser().resolve())]
    return shlex.join(argv) + " " + MARKER


def is_ours(hook: Any) -> bool:
    cmd = str(hook.get("command", "")) if isinstance(hook, dict) else ""
    return hook.get("type") == "command" and MARKER in cmd and "vault" in cmd if cmd else False


def db_of_command(command: str) -> Path | None:
    """The `--db` baked into an installed hook command, if any."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return None
    for i, a in enumerate(argv[:-1]):
        if a == "--db":
            return Path(argv[i + 1])
    return None
