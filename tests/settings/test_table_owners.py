"""One owner module per table (docs/architecture.md, "Who owns which table"): the modules whose SQL writes a
vault table (INSERT, UPDATE, DELETE, `vault.bulk.insert_rows`/`insert_arrow`) are its owner and the exceptions
named below with their reason; the migrations (vault/migrations.py) reshape every table and are left out.

The scan reads the source as text: a statement whose table name is computed (an f-string) is found only
through the names below (`COMPUTED`). Every table of a new vault needs an owner here (a migration adding one
fails the last test until it has). The keyword index's own tables (schema `fts_main_fts_docs`, `fts_results`,
`fts_call_args`) are written by `vault.index.fts_build` alone."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("vault", "miner", "tui", "trainer")
DOC = ROOT / "docs" / "architecture.md"

OWNERS = {
    "files": "vault.ingest",
    "pending_files": "vault.ingest",
    "pending_sessions": "vault.ingest",
    "sessions": "vault.ingest",
    "messages": "vault.ingest",
    "tool_calls": "vault.ingest",
    "records": "vault.rawstore",
    "record_chunks": "vault.rawstore",
    "meta": "vault.schema",
    "migrations": "vault.schema",
    "chunks": "vault.index.embeddings",
    "embed_models": "vault.index.embeddings",
    "vector_store": "vault.index.vectors",
    "fts_results": "vault.index.fts_build",
    "fts_call_args": "vault.index.fts_build",
    "labels": "miner.mine",
    "miner_vectors": "miner.classify.vectors",
    "hand_labels": "miner.evaluate",
    "pairs": "miner.tables",
    "personas": "miner.tables",
    "roles": "miner.tables",
    "reviews": "miner.tables",
    "llm_cache": "miner.llm.cache",
}

# Writers besides the owner, each with why. The archive tables are the ingest's: its steps live in modules of
# their own, all run by `vault.ingest.Ingester` inside its transactions.
EXCEPTIONS = {
    ("sessions", "vault.derive"): "the ingest's cross-file derivation (totals, subagent links)",
    ("tool_calls", "vault.derive"): "the ingest's cross-file derivation (subagent links)",
    ("sessions", "vault.sources.claude_code"): "the Claude Code parser's finalize step: titles from summaries",
    ("messages", "vault.sources.claude_code"): "the Claude Code parser's finalize step: queued duplicates",
    ("messages", "vault.sources.forks"): "the ingest's fork marks (on_main_branch)",
    ("tool_calls", "vault.rewritten"): "a rewritten file's dropped tool results, in the ingest's transaction",
    ("labels", "vault.rewritten"): "a message whose text changed loses its stale label; the core cannot import "
                                    "the miner (import-linter), so it deletes the rows by name",
}

# Statements whose table is an f-string name: (module, the expression) -> the tables it stands for.
COMPUTED = {
    ("vault.index.vectors", "{TABLE}"): {"vector_store"},
    ("vault.index.embeddings", "{table}"): {"chunks", "embed_models"},
}

# Names in the doc's table that are no table of their own (nothing writes them).
NOT_TABLES = {"effective_labels": "a view (m009)", "vectors": "the view `vector_store` is read through",
              "fts_main_fts_docs": "the keyword index's schema (its tables are fts_build's)"}

WRITE = re.compile(r"\b(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)\s+"
                   r"([A-Za-z_{][\w.{}]*)")
BULK = re.compile(r"\binsert_(?:rows|arrow)\(\s*\w+,\s*[\"']([a-z_]+)[\"']")


def writers() -> dict[str, set[str]]:
    """{table: the modules writing it}, over the vault's tables (temporary tables and the fts index's own are not)."""
    out: dict[str, set[str]] = {}
    for pkg in PACKAGES:
        for f in sorted((ROOT / pkg).rglob("*.py")):
            module = ".".join(f.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            if module == "vault.migrations":
                continue
            text = f.read_text(encoding="utf-8")
            for name in [m.group(1) for m in WRITE.finditer(text)] + [m.group(1) for m in BULK.finditer(text)]:
                for table in COMPUTED.get((module, name), {name.lower()}):
                    if table in OWNERS:
                        out.setdefault(table, set()).add(module)
    return out


def test_each_table_is_written_by_its_owner_and_the_named_exceptions_only():
    found = writers()
    stray = sorted((t, m) for t, mods in found.items() for m in mods if m != OWNERS[t] and (t, m) not in EXCEPTIONS)
    assert not stray, f"tables written outside their owner module (move the write, or name the exception): {stray}"


def test_the_owners_and_exceptions_still_write():
    """The lists stay true: every owner writes its table, every exception still writes (else drop it)."""
    found = writers()
    assert not sorted(t for t, m in OWNERS.items() if m not in found.get(t, set()))
    assert not sorted(e for e in EXCEPTIONS if e[1] not in found.get(e[0], set()))


def test_every_table_of_a_new_vault_has_an_owner(tmp_path):
    from vault.store import open_vault

    con = open_vault(tmp_path / "v.duckdb")
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()}
    finally:
        con.close()
    assert {"files", "messages", "labels", "pairs"} <= tables
    missing = sorted(tables - set(OWNERS))
    assert not missing, f"give these tables an owner in OWNERS (and docs/architecture.md): {missing}"


def doc_rows() -> list[tuple[set[str], str]]:
    """The rows of docs/architecture.md's "Who owns which table": (the names in the first cell, the "written by" cell)."""
    section = DOC.read_text(encoding="utf-8").split("## Who owns which table", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows.append((set(re.findall(r"`([a-z_]+)`", cells[0])), cells[1]))
    return rows


def test_the_architecture_doc_names_each_table_with_its_owner_and_exceptions():
    """docs/architecture.md's table says what OWNERS and EXCEPTIONS hold: every table in a row, and in its row the
    path of its owner and of each module excepted for it (`vault/derive.py`)."""
    rows = doc_rows()
    named = set().union(*(names for names, _ in rows))
    assert len(rows) > 5 and not set(OWNERS) - named, f"tables the doc's table lacks: {sorted(set(OWNERS) - named)}"
    assert not named - set(OWNERS) - set(NOT_TABLES), f"the doc names tables no test knows: {sorted(named - set(OWNERS))}"
    unsaid = sorted((table, module) for names, cell in rows for table in names & set(OWNERS)
                    for module in [OWNERS[table], *(m for t, m in EXCEPTIONS if t == table)]
                    if f"`{module.replace('.', '/')}.py`" not in cell)
    assert not unsaid, f"writers the doc's row does not name (as `path.py`): {unsaid}"
