"""vault's settings, in one object: defaults < config file < environment (`VAULT_*`) < command-line flags.

`load()` builds it once per run (the CLI's root group, the TUI factory) and remembers where each value came
from; callers pass it down, and library functions take the values they need as arguments. `Settings(...)`
alone is the defaults plus what you give it (tests, notebooks); it reads neither the file nor the environment.

Where values come from
- The config file is TOML: `config.toml` in the data folder, or the file named by `VAULT_CONFIG` or
  `vault --config`. Root settings are top-level keys (`db = "..."`), each section is a table
  (`[corrections]`), role rules are an array of tables (`[[roles]]`).
- The environment: `VAULT_<KEY>` for root settings (`VAULT_DB`), `VAULT_<SECTION>_<KEY>` for the others
  (`VAULT_CORRECTIONS_THRESHOLD`); lists and tables as JSON (`VAULT_CORRECTIONS_NUMERATOR='["a", "b"]'`).
- `home` and `config` say where the file is, so only the environment and flags set them.
- An unknown key or a wrong type is a `ConfigError` of one line naming the file (or variable, or flag)
  and the key. `vault config` shows every effective value and where it came from.

Adding a setting
- In an existing section: a field with a default and a `description` on its model below.
- A new section: `class FooSettings(Section)` with its fields, and `foo: FooSettings = FooSettings()` on
  `Settings`. It is then `[foo]` in the file and `VAULT_FOO_<KEY>` in the environment (section names
  without underscores; field names may have them).
- A row in the settings table of README.md (tests/settings checks that every setting has one).
- Read it from the settings your command or screen was given (`settings(ctx)` in vault/cli/common.py,
  `app.settings` in the TUI) and pass the value to the library. A command's flag overrides it through
  `Settings.with_flags`, which keeps the provenance that `vault config` shows.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict, SettingsError

from vault.errors import VaultError
from vault.settings_light import IngestDefaults, cores

ENV_PREFIX = "VAULT_"


class ConfigError(VaultError):
    """A setting cannot be used; the message names where it came from (file, variable or flag) and the key."""


class Section(BaseModel):
    """A `[section]` of the config file; its fields are `VAULT_<SECTION>_<FIELD>` in the environment."""

    model_config = ConfigDict(extra="forbid")


class IngestSettings(Section):
    batch_bytes: int = Field(IngestDefaults().batch_bytes, ge=1, description=(
        "Parsed files commit together once a group holds this many source bytes (smaller: more commits, slower)."))
    # Keep in step with vault.sources.documents.DEFAULT_MAX_MEMBER_MB (the default of parsers used alone).
    max_member_mb: int = Field(IngestDefaults().max_member_mb, ge=1, description=(
        "An archive member (conversations.json in an export zip) may expand to at most this many MB; a "
        "larger one is reported and skipped. Parsing needs several times this in memory."))
    workers: int = Field(default_factory=cores, ge=1, description=(
        "Processes an ingest uses (default: the number of cores): one writes the vault, the others parse "
        "files; 1 parses in the writing process. The vault is the same either way."))


class EmbedSettings(Section):
    model: str | None = Field(None, description=(
        "Embedding model (sentence-transformers name or folder) for new vectors; unset: the vault's, "
        "else all-MiniLM-L6-v2. A new model re-embeds everything."))


class SearchSettings(Section):
    hybrid_wait: float = Field(2.0, ge=0, description=(
        "Seconds the default `vault search` (hybrid) waits for an embedding model that needs sentence-transformers "
        "to load; after that it answers by keyword alone, saying so. The shipped MiniLM (and any BERT model the light "
        "encoder runs) loads in a fraction of a second and is always waited for. `--mode hybrid` or `--mode "
        "semantic` always wait."))


class CorrectionSettings(Section):
    """How `vault stats --corrections` and the TUI rate sessions (see miner/analytics.py)."""

    threshold: float = Field(0.15, ge=0, le=1, description=(
        "A session is troubled when its correction rate is above this (0.15, as in the RLHI paper)."))
    numerator: list[str] = Field(["reattempt_with_feedback"], min_length=1, description=(
        "Labels that count as corrections (a label or a list of them)."))
    denominator: Literal["typed", "human_side"] = Field("typed", description=(
        "Rate over messages a person typed, or over every human-side turn (interrupts too)."))
    min_turns: int = Field(3, ge=1, description="Sessions with fewer rated turns get no rate.")

    @field_validator("numerator", mode="before")
    @classmethod
    def _one_label(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


class RedactSettings(Section):
    """What vault.redact removes from everything that leaves the vault (docs/privacy.md)."""

    phone_regions: list[str] = Field(["US", "GB", "DE", "FR", "IN"], description=(
        "Regions (ISO 3166 codes) whose national phone formats are redacted; numbers written with "
        "+<country code> are redacted whatever this says."))

    @field_validator("phone_regions", mode="before")
    @classmethod
    def _one_region(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("phone_regions")
    @classmethod
    def _known_regions(cls, v: list[str]) -> list[str]:
        import phonenumbers

        bad = [r for r in v if r.upper() not in phonenumbers.SUPPORTED_REGIONS]
        if bad:
            raise ValueError(f"unknown region(s) {bad}: use ISO 3166 codes such as US, GB, DE")
        return [r.upper() for r in v]
class LLMSettings(Section):
    """Which LLM the opt-in LLM features call (rewrites, personas, labels): see docs/llm.md."""

    backend: Literal["anthropic", "openai"] = Field("anthropic", description=(
        "anthropic: the Anthropic API; openai: any OpenAI-compatible endpoint at base_url (Ollama, llama.cpp, "
        "vLLM, LM Studio, a hosted one)."))
    base_url: str | None = Field(None, description=(
        "openai: the endpoint, e.g. http://127.0.0.1:8080/v1. On this machine (localhost) it is free and "
        "needs no confirmation; elsewhere the same consent, cost and redaction rules as Anthropic apply."))
    model: str | None = Field(None, description="The model name the endpoint expects; unset: the backend's default.")
    api_key_env: str = Field("OPENAI_API_KEY", description=(
        "openai: the environment variable holding the API key (a local server needs none)."))


@dataclass(frozen=True)
class Origin:
    kind: Literal["default", "file", "env", "flag"]
    where: str | None = None  # the file, the variable or the flag

    def __str__(self) -> str:
        return self.where or self.kind


DEFAULT = Origin("default")


def _default_home() -> Path:
    from vault.paths import user_data_dir

    return user_data_dir()


# Settings that say where the config file is: never read from the file itself.
BOOTSTRAP = ("home", "config")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="_", env_nested_max_split=1,
                                      extra="forbid")

    home: Path = Field(default_factory=_default_home, description=(
        "The data folder: the vault file and the config file live here by default."))
    config: Path = Field(default_factory=lambda d: d["home"] / "config.toml", description=(
        "The TOML config file (may be absent)."))
    db: Path = Field(default_factory=lambda d: d["home"] / "vault.duckdb", description="The vault file.")
    ingest: IngestSettings = IngestSettings()
    embed: EmbedSettings = EmbedSettings()
    search: SearchSettings = SearchSettings()
    corrections: CorrectionSettings = CorrectionSettings()
    redact: RedactSettings = RedactSettings()
    llm: LLMSettings = LLMSettings()
    roles: list[dict[str, Any]] = Field([], description=(
        "Role rules, first match wins (`[[roles]]` tables: name + project/cwd/agent_type/source/user_id/"
        "first_prompt; checked by miner/roles.py)."))

    _leaves: dict[tuple[str, ...], tuple[Any, Origin]] = PrivateAttr(default_factory=dict)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        return (init_settings,)  # `load()` layers the file, the environment and flags itself

    @field_validator("home", "config", "db", mode="before")
    @classmethod
    def _not_empty(cls, v: Any) -> Any:
        if isinstance(v, str) and not v.strip():  # Path("") is the current folder
            raise ValueError("empty: name a path, or unset it for the default")
        return v

    @field_validator("home", "config", "db")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return v.expanduser()

    # -- provenance ------------------------------------------------------------------------
    def origin(self, key: str) -> Origin:
        """Where the effective value of `key` ("db", "corrections.threshold") came from."""
        parts = tuple(key.split("."))
        return self._leaves.get(parts, (None, DEFAULT))[1]

    def error(self, key: str, message: str) -> ConfigError:
        """A ConfigError about `key` naming where its value came from (for checks made by its users)."""
        return ConfigError(_message(tuple(key.split(".")), self.origin(key), message))

    def with_flags(self, flags: dict[str, tuple[str, Any]]) -> Settings:
        """A copy with command-line flags applied: {"corrections.threshold": ("--threshold", 0.3)}; None = not given."""
        given = {tuple(k.split(".")): (v, Origin("flag", flag)) for k, (flag, v) in flags.items() if v is not None}
        if not given:
            return self
        return _validated({**self._leaves, **given})

    def entries(self) -> list[dict[str, Any]]:
        """Every setting with its effective value, origin, environment variable and config key (`vault config`)."""
        values = self.model_dump(mode="json")
        out = []
        for name, field in type(self).model_fields.items():
            sub = field.annotation if isinstance(field.annotation, type) else None
            if sub is not None and issubclass(sub, Section):
                keys = [((name, k), values[name][k], f.description) for k, f in sub.model_fields.items()]
            else:
                keys = [((name,), values[name], field.description)]
            for key, value, description in keys:
                origin = self._leaves.get(key, (None, DEFAULT))[1]
                out.append({"key": ".".join(key), "value": value, "source": origin.kind, "from": origin.where,
                            "env": env_name(key), "config_key": None if name in BOOTSTRAP else toml_key(key),
                            "description": description})
        return out


def env_name(key: tuple[str, ...]) -> str:
    return ENV_PREFIX + "_".join(key).upper()


def toml_key(key: tuple[Any, ...]) -> str:
    return f"[{key[0]}] {key[1]}" if len(key) > 1 and isinstance(key[1], str) else str(key[0])


def load(flags: dict[str, tuple[str, Any]] | None = None) -> Settings:
    """The settings of this run: defaults < config file < environment < `flags` (as in `Settings.with_flags`).

    The default config file may be absent; one named by VAULT_CONFIG or a flag must exist.
    """
    try:
        env = EnvSettingsSource(Settings)()
    except SettingsError as e:
        raise ConfigError(_env_error(e)) from None
    env_leaves = {k: (v, Origin("env", env_name(k))) for k, v in _flatten(env).items()}
    flag_leaves = {tuple(k.split(".")): (v, Origin("flag", f)) for k, (f, v) in (flags or {}).items() if v is not None}
    located = _validated({**env_leaves, **flag_leaves})
    path, explicit = located.config, located.origin("config").kind != "default"
    file_leaves = {k: (v, Origin("file", str(path))) for k, v in _flatten(_read_toml(path, explicit)).items()}
    for key in file_leaves:
        if key[0] in BOOTSTRAP:
            raise ConfigError(f"{path}: {key[0]}: cannot be set in the config file (it says where the file is; "
                              f"use {env_name(key)}{' or --config' if key[0] == 'config' else ''})")
    _validated(file_leaves)  # a bad value in the file is an error even where the environment overrides it
    return _validated({**file_leaves, **env_leaves, **flag_leaves})


def _env_error(e: SettingsError) -> str:
    """The variable whose value pydantic-settings could not read: a list or table setting's, which is JSON."""
    import json
    import os
    import re
    import typing

    def complex_value(annotation: Any) -> bool:
        return typing.get_origin(annotation) in (list, dict)

    m = re.search(r'field "(\w+)"', str(e))
    field = Settings.model_fields.get(m.group(1)) if m else None
    if field is not None:
        sub = field.annotation if isinstance(field.annotation, type) and issubclass(field.annotation, Section) else None
        keys = ([(m.group(1), k) for k, f in sub.model_fields.items() if complex_value(f.annotation)] if sub
                else [(m.group(1),)] if complex_value(field.annotation) else [])
        env = {k.upper(): v for k, v in os.environ.items()}
        for key in keys:
            value = env.get(env_name(key))
            if value is None:
                continue
            try:
                json.loads(value)
            except ValueError as je:
                return f"{env_name(key)}: not JSON ({je}); a list is written '[\"a\", \"b\"]'"
    return f"environment: {e}"


def default_db_path() -> Path:
    """The vault file when a library caller names none: the `db` setting, read afresh.

    The CLI and the TUI pass the path from the settings they loaded.
    """
    return load().db


def _read_toml(path: Path, explicit: bool) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"{path}: config file not found") from None
        return {}
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None


def _flatten(data: dict[str, Any]) -> dict[tuple[str, ...], Any]:
    """{("db",): v, ("corrections", "threshold"): v, ...}: one leaf per setting (a section's keys one by one)."""
    out: dict[tuple[str, ...], Any] = {}
    for k, v in data.items():
        field = Settings.model_fields.get(k)
        sub = field.annotation if field is not None and isinstance(field.annotation, type) else None
        if isinstance(v, dict) and sub is not None and issubclass(sub, Section):
            out.update({(k, kk): vv for kk, vv in v.items()})
        else:
            out[(k,)] = v
    return out


def _validated(leaves: dict[tuple[str, ...], tuple[Any, Origin]]) -> Settings:
    """Settings from (value, origin) leaves; an error names the origin of the offending leaf."""
    data: dict[str, Any] = {}
    for key, (value, _) in leaves.items():
        if len(key) == 1:
            data[key[0]] = value
        elif isinstance(section := data.setdefault(key[0], {}), dict):  # else a scalar section: its error says so
            section[key[1]] = value
    try:
        s = Settings(**data)
    except ValidationError as e:
        errors = [err for err in e.errors() if err["type"] != "default_factory_not_called"]  # follow-ons
        raise ConfigError("; ".join(_explain(err, leaves) for err in errors or e.errors())) from None
    s._leaves = dict(leaves)
    return s


def _explain(err: dict, leaves: dict[tuple[str, ...], tuple[Any, Origin]]) -> str:
    loc = tuple(err["loc"])
    key = loc[:2] if loc[:2] in leaves else loc[:1]
    origin = leaves.get(key, (None, DEFAULT))[1]
    msg = err["msg"].removeprefix("Value error, ")  # pydantic's prefix for a validator's ValueError
    if err["type"] == "extra_forbidden":
        owner = Settings if len(loc) == 1 else Settings.model_fields[loc[0]].annotation
        known = [k for k in owner.model_fields if not (owner is Settings and k in BOOTSTRAP)]
        msg = f"unknown key (known: {', '.join(known)})"
    return _message(loc, origin, msg)


def _message(loc: tuple, origin: Origin, msg: str) -> str:
    if origin.kind == "file":
        return f"{origin.where}: {toml_key(loc)}: {msg}"
    if origin.kind in ("env", "flag"):  # the variable or flag names the key
        return f"{origin.where}: {msg}"
    return f"{'.'.join(map(str, loc))}: {msg}"
