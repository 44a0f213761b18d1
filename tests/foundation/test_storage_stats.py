"""`vault stats` reports the vault's size by table and its ratio to the archive (text and --json)."""

from __future__ import annotations

import json
from pathlib import Path

from support import ROOT, run_cli

from vault.cli.archive import times
from vault.store import open_vault

FIXTURE = ROOT / "tests" / "fixtures" / "claude_code" / "v21-layout"


def test_stats_shows_size_by_table_and_ratio_to_archive(tmp_path):
    db = tmp_path / "v.duckdb"
    code, _, err = run_cli("ingest", "--no-embed", str(FIXTURE), db=db)
    assert code == 0, err
    code, out, err = run_cli("stats", "--json", db=db)
    assert code == 0, err
    st = json.loads(out)
    assert {"sessions", "messages", "human_messages", "by_source"} <= st.keys()  # the public contract stays
    sz = st["storage"]
    archive = sum(p.stat().st_size for p in FIXTURE.rglob("*.jsonl"))
    assert sz["archive_bytes"] == archive
    on_disk = db.stat().st_size + (Path(f"{db}.wal").stat().st_size if Path(f"{db}.wal").exists() else 0)
    assert sz["file_bytes"] == on_disk
    assert sz["ratio_to_archive"] == round(on_disk / archive, 3)
    tables = sz["tables"]
    con = open_vault(db, read_only=True)
    try:
        for name in ("records", "messages", "sessions", "files"):
            assert tables[name]["rows"] == con.execute(f"SELECT count(*) FROM {name}").fetchone()[0] > 0
            assert tables[name]["bytes"] > 0, name
    finally:
        con.close()
    assert tables["pairs"] == {"rows": 0, "bytes": 0}
    shared_out = sum(d["bytes"] for d in tables.values())
    assert 0 < shared_out <= sz["used_blocks"] * sz["block_size"]  # block shares add up within the used blocks
    assert list(tables) == sorted(tables, key=lambda t: (-tables[t]["bytes"], t))

    code, text, err = run_cli("stats", db=db)
    assert code == 0, err
    assert "size by table" in text and "records" in text
    assert f"({times(sz['ratio_to_archive'])})" in text


def test_ratios_print_with_three_figures():
    assert [times(r) for r in (52.71, 3.9486, 0.4561, 183.25, 0.0)] == ["52.7x", "3.95x", "0.456x", "183x", "0x"]
