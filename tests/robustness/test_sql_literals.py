"""SQL string literals written into SQL text (ATTACH, SET, LOAD, a table function's argument, a constant list) go
through one helper, `vault.sqlstring.sql_string` (`sql_strings` for a list): a vault whose path holds a quote is
opened, appended to, sized and compacted like any other, and the modules listed here quote nothing by hand (the
vault's file handling, the ingest's settings, the migrations' names, the kinds' and the fork marks' constant lists,
the miner's label and kind constants)."""

from __future__ import annotations

import re

from support import ROOT
from vault.sqlstring import sql_name, sql_string, sql_strings

MODULES = ("vault/connection.py", "vault/compact.py", "vault/storage.py", "vault/schema.py", "vault/sqlstring.py",
           "vault/kinds.py", "vault/ingest.py", "vault/migrations.py", "vault/sources/forks.py", "miner/analytics.py", "miner/tables.py", "miner/turns.py",
           "miner/pairs/branches.py", "miner/pairs/segments.py", "miner/personas/build.py",
           "bench/analytics_bench.py", "bench/mine_bench.py", "bench/storage_layout_bench.py",
           "vault/index/fts.py", "vault/index/fts_build.py", "vault/index/embeddings.py", "vault/index/vectors.py",
           "vault/index/settings.py")
BY_HAND = [
    re.compile(r"""replace\(\s*["']'["']\s*,\s*["']''["']\s*\)"""),  # .replace("'", "''")
    re.compile(r"chr\(39\)"),
    re.compile(r"""f["'][^"'\n]*'\{"""),  # f"... '{value}' ...": a literal without its quotes doubled
    re.compile(r"""'\{[^{}'"]*\}'"""),  # ... '{value}' ... on a line of a multi-line f-string
    re.compile(r"""f'[^'\n]*"\{"""),  # f'... "{name}" ...': an identifier without its quotes doubled (sql_name)
    re.compile(r"repr\(\w+\) for"),  # ', '.join(repr(k) for k in ...): Python's quoting, not SQL's
]


def test_sql_string_doubles_quotes_and_adds_its_own():
    assert sql_string("plain") == "'plain'"
    assert sql_string("o'brien's") == "'o''brien''s'"
    assert sql_string(ROOT / "x") == f"'{ROOT / 'x'}'"
    assert sql_strings(["a", "it's"]) == "'a', 'it''s'"
    assert sql_name('v"1') == '"v""1"'


def test_a_vault_whose_path_holds_quotes_is_handled_like_any_other(tmp_path):
    from vault.compact import compact
    from vault.storage import table_sizes
    from vault.store import open_vault

    db = tmp_path / "o'brien's 'vault'" / "v.duckdb"
    open_vault(db).close()  # created, then attached again with the writers' row group size (ATTACH, SET temp dir)
    con = open_vault(db, appends=True)  # an existing vault attached with the appends' row group size
    try:
        con.execute("INSERT INTO meta VALUES ('it''s', 'x')")
        assert "meta" in table_sizes(con)["tables"]
        con = compact(con, db)  # ATTACH of the copy beside it, in STORAGE_VERSION
        assert con.execute("SELECT value FROM meta WHERE key = 'it''s'").fetchone() == ("x",)
    finally:
        con.close()
    assert sorted(p.name for p in db.parent.iterdir() if p.name.startswith("v.duckdb")) == ["v.duckdb"]


def test_a_vault_file_whose_name_holds_quotes_is_compacted(tmp_path):
    """Opened directly (a new vault, before its first migrations), the database is named after the file: `v"1'x`
    (COPY FROM DATABASE "v"1'x" was a syntax error)."""
    from vault.compact import compact
    from vault.storage import table_sizes
    from vault.store import connect, open_vault

    db = tmp_path / "v\"1'x.duckdb"
    open_vault(db).close()
    con = connect(db)
    try:
        assert con.execute("SELECT current_database()").fetchone() == ("v\"1'x",)
        con.execute("INSERT INTO meta VALUES ('k', 'x')")
        assert "meta" in table_sizes(con)["tables"]
        con = compact(con, db)
        assert con.execute("SELECT value FROM meta WHERE key = 'k'").fetchone() == ("x",)
    finally:
        con.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [db.name]


def test_a_session_id_with_quotes_is_indexed_and_updated(tmp_path):
    """A session id (and its folder, and the vault's path) holding quotes: ingested, grown by a turn, ingested again
    (the keyword index updated for that session: its id among the update's constants), found by its new words."""
    import json
    import shutil

    from support import EXAMPLES, run_cli

    src = next((EXAMPLES / "claude-code").glob("*/*.jsonl"))
    old_sid = src.stem
    sid = "o'brien's \"session\""
    folder = tmp_path / "it's \"here\""
    folder.mkdir()
    path = folder / f"{old_sid}.jsonl"
    lines = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines() if line.strip()]
    for rec in lines:
        if rec.get("sessionId") == old_sid:
            rec["sessionId"] = sid
    path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    db = tmp_path / "o'brien's vault" / "v.duckdb"
    code, _, err = run_cli("ingest", str(folder), "--no-embed", "--json", db=db)
    assert code == 0, err
    last = next(r for r in reversed(lines) if r.get("type") == "user" and isinstance(r.get("message"), dict))
    grown = dict(last, uuid="00000000-0000-4000-8000-00000000beef", parentUuid=lines[-1].get("uuid"),
                 message={"role": "user", "content": "zanzibarquokka it's a \"quoted\" word"})
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(grown) + "\n")
    code, _, err = run_cli("ingest", str(folder), "--no-embed", "--json", db=db)
    assert code == 0, err
    code, out, err = run_cli("search", "zanzibarquokka", "--mode", "keyword", "--json", db=db)
    assert code == 0, err
    hits = json.loads(out)
    hits = hits["results"] if isinstance(hits, dict) else hits
    assert [h["session_id"] for h in hits] == [sid]


def test_the_modules_quote_no_literal_by_hand():
    found = {f"{name}:{n}": line.strip()
             for name in MODULES
             for n, line in enumerate((ROOT / name).read_text(encoding="utf-8").splitlines(), 1)
             if any(p.search(line) for p in BY_HAND)}
    helper = [k for k, line in found.items() if k.startswith("vault/sqlstring.py") and "return \"'\"" in line]
    assert len(helper) == 1 and sorted(found) == helper, f"write literals with vault.sqlstring.sql_string: {found}"


def test_the_check_finds_hand_quoting(tmp_path):
    lines = ["x = str(p).replace(\"'\", \"''\")", "y = f\"WHERE a = '{b}'\"", "z = db.replace(chr(39), chr(39) * 2)",
             "        WHERE label <> '{NOT_HUMAN}'", "c = f'COPY FROM DATABASE \"{db}\" TO x'",
             "k = f\"kind IN ({', '.join(repr(k) for k in kinds)})\"", "ok = f\"ATTACH {sql_string(p)} AS v\"",
             "ok = f\"COPY FROM DATABASE {sql_name(db)} TO x\""]
    assert [any(p.search(line) for p in BY_HAND) for line in lines] == [True] * 6 + [False] * 2
