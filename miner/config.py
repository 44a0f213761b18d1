"""The user's TOML config (`vault.paths.config_path()`): read once per call, errors name the file."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from vault.paths import config_path
from vault.store import VaultError


class ConfigError(VaultError):
    """The config cannot be used; the message names the file and the entry."""


def read_config(path: str | Path | None = None) -> tuple[Path, dict[str, Any]]:
    """(path, parsed TOML). The default file may be absent (empty config); an explicit one must exist."""
    explicit = path is not None
    p = Path(path).expanduser() if explicit else config_path()
    if not p.exists():
        if explicit:
            raise ConfigError(f"{p}: config file not found")
        return p, {}
    try:
        return p, tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: invalid TOML: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: cannot read: {e}") from None
