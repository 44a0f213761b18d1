"""Platform locations: the default data folder, and where a user's archives live by default."""

from __future__ import annotations

import os
import posixpath
import sys
from pathlib import Path

APP_NAME = "vault"


def user_data_dir() -> Path:
    """The platform's per-user data folder: the default of the `home` setting (`VAULT_HOME`)."""
    usual = _linux_data_dir()
    if usual is not None:
        return Path(usual)
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def _linux_data_dir() -> str | None:
    """platformdirs' user data folder on Linux in the usual cases, without importing it (5 ms of CPU: every command
    looks for the config file there, a keyword search included): `$XDG_DATA_HOME/vault` when that is an absolute
    path, else `$HOME/.local/share/vault` when HOME is. None on other systems, Android or without an absolute HOME:
    then platformdirs answers (tests/settings/test_settings_light.py checks both agree)."""
    if sys.platform != "linux" or hasattr(sys, "getandroidapilevel") or "ANDROID_ROOT" in os.environ:
        return None
    xdg = os.environ.get("XDG_DATA_HOME", "")
    if posixpath.isabs(xdg):
        return os.path.join(xdg, APP_NAME)
    home = os.environ.get("HOME", "")
    if posixpath.isabs(home):
        return os.path.join(home.rstrip("/") + "/.local/share", APP_NAME)
    return None


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
