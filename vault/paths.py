"""Platform locations: the default data folder, and where a user's archives live by default."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "vault"


def user_data_dir() -> Path:
    """The platform's per-user data folder: the default of the `home` setting (`VAULT_HOME`)."""
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


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
