"""Where the vault lives, and where a user's archives live by default."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "vault"


def data_dir() -> Path:
    """The per-user data folder. `VAULT_HOME` overrides it (tests isolate user state with it)."""
    home = os.environ.get("VAULT_HOME")
    if home:
        return Path(home)
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_db_path() -> Path:
    """`VAULT_DB` names the vault file; otherwise `vault.duckdb` in the data folder."""
    env = os.environ.get("VAULT_DB")
    if env:
        return Path(env).expanduser()
    return data_dir() / "vault.duckdb"


def config_path() -> Path:
    """The optional TOML config (role rules and settings); `VAULT_CONFIG` overrides it."""
    env = os.environ.get("VAULT_CONFIG")
    if env:
        return Path(env).expanduser()
    return data_dir() / "config.toml"


def default_archive_roots() -> list[tuple[str, Path]]:
    """Default locations of assistant transcripts, as (source name, folder), existing or not."""
    home = Path.home()
    roots: list[tuple[str, Path]] = [("claude_code", home / ".claude" / "projects")]
    cfg = os.environ.get("CLAUDE_CONFIG_DIR")
    if cfg:
        roots.append(("claude_code", Path(cfg).expanduser() / "projects"))
    roots += [
        ("claude_code", home / ".config" / "claude" / "projects"),
        ("codex", home / ".codex" / "sessions"),
        ("codex", home / ".codex" / "archived_sessions"),
        ("gemini", home / ".gemini" / "tmp"),
    ]
    return roots
