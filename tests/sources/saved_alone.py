"""A conversation saved alone (one export element as its own `.json` file): what holds for every format that reads
one (ChatGPT, Claude.ai), checked once; the format's tests check its messages."""

from __future__ import annotations

import json

import orjson

from vault import rawstore
from vault.ingest import ingest
from vault.sources import parsers, read_head
from vault.store import open_vault


def rows(con, sql, *args):
    return con.execute(sql, list(args)).fetchall()


def stored_documents(con) -> list:
    return [orjson.loads(raw) for _file, _line, raw in rawstore.read_raw(con)]


def ingest_saved_alone(con, tmp_path, doc: dict, source: str) -> None:
    """`doc` saved alone as `saved-chat.json`: only the `source` parser takes it, it is ingested without error, its
    whole document is its one record (lossless), and its messages are those its export's element gives
    (the same document in a `conversations.json` list, ingested into another vault)."""
    f = tmp_path / "saved-chat.json"
    f.write_text(json.dumps(doc, indent=2))
    head = read_head(f)
    assert [p.name for p in parsers() if f.suffix in p.suffixes and p.detect(f, head)] == [source]
    rep = ingest(con, [f])
    assert rep.errors == [] and rep.unrecognised == [] and rep.by_source == {source: 1}
    assert stored_documents(con) == [doc]

    export = tmp_path / "export" / "conversations.json"
    export.parent.mkdir()
    export.write_text(json.dumps([doc]))
    other = open_vault(tmp_path / "other.duckdb")
    try:
        ingest(other, [export])
        sql = "SELECT msg_id, role, kind, text, parent_id, on_main_branch, extra FROM messages ORDER BY seq"
        assert rows(other, sql) == rows(con, sql)
    finally:
        other.close()
