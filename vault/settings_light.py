"""The vault file's path without loading the settings, when no setting needs validating.

Loading `vault.settings` imports pydantic and pydantic-settings: about 0.2 s, more than a keyword search
from a cold shell takes otherwise. The search needs only the `db` setting, and that is a plain path
whenever there is nothing to validate: no config file in the data folder, none named (`--config`,
`VAULT_CONFIG`), and no `VAULT_*` variable but `VAULT_DB`, `VAULT_HOME` (and `VAULT_DEBUG`, not a
setting). Then `db` is the flag, else
`VAULT_DB`, else `vault.duckdb` in the data folder, exactly as `vault.settings.load` would find it
(tests/settings checks the two agree). In every other case this answers None and the caller loads the
settings: a config file is always validated, even where a flag overrides its values.

Every other setting then has its default: `vault ingest` reads the `[ingest]` ones from `IngestDefaults`
(where vault/settings.py takes their defaults from) rather than loading the settings for them.
"""

from __future__ import annotations

import os
from collections import namedtuple
from pathlib import Path
from typing import Any

# VAULT_* variables this shortcut looks at (VAULT_CONFIG: to hand over); any other may be a setting to validate.
PLAIN_VARIABLES = {"VAULT_DB", "VAULT_HOME", "VAULT_CONFIG", "VAULT_DEBUG"}


def cores() -> int:
    """Cores this process may run on (`ingest.workers`' default)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class IngestDefaults(namedtuple("IngestDefaults", "batch_bytes max_member_mb workers",
                                defaults=(32 << 20, 256, cores()))):
    """The `[ingest]` settings at their defaults (`vault.settings.IngestSettings` takes them from here): batch_bytes,
    max_member_mb (= vault.sources.documents.DEFAULT_MAX_MEMBER_MB, tests/robustness checks it), workers (`cores()`).
    (collections.namedtuple: a typing.NamedTuple compiles each field's annotation when a cold search imports this.)"""

    __slots__ = ()


def quick_db_path(flags: dict[str, tuple[str, Any]]) -> tuple[Path, str] | None:
    """(the vault path, where it came from: "flag", "env" or "default"), or None when the settings must load.

    `flags` as given to `vault.settings.load` ({"db": ("--db", value), "config": ("--config", value)}).
    """
    env = {k.upper(): v for k, v in os.environ.items() if k.upper().startswith("VAULT_")}
    if set(env) - PLAIN_VARIABLES or any(not v.strip() for v in env.values()):
        return None
    flag = {k: v for k, (_, v) in flags.items() if v is not None}
    if set(flag) - {"db", "config"} or any(not str(v).strip() for v in flag.values()):
        return None
    if "config" in flag or "VAULT_CONFIG" in env:
        return None  # a named config file must exist: `load` says so when it does not
    home = Path(env["VAULT_HOME"]).expanduser() if "VAULT_HOME" in env else _data_dir()
    if (home / "config.toml").expanduser().exists():
        return None
    if "db" in flag:
        return Path(flag["db"]).expanduser(), "flag"
    if "VAULT_DB" in env:
        return Path(env["VAULT_DB"]).expanduser(), "env"
    return (home / "vault.duckdb").expanduser(), "default"


def _data_dir() -> Path:
    from vault.paths import user_data_dir

    return user_data_dir().expanduser()
