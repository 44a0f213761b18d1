"""Issue 17: `vault mine` says how its labelled turns relate to `vault stats`, and which roles it counts."""

from __future__ import annotations

import json
import re

import duckdb

from support import run_cli


def test_mine_counts_relate_to_stats_and_roles_without_turns_are_named(ex_db, tmp_path, monkeypatch):
    con = duckdb.connect(str(ex_db), read_only=True)
    agent = con.execute("SELECT agent_type FROM sessions WHERE agent_type IS NOT NULL LIMIT 1").fetchone()[0]
    con.close()
    cfg = tmp_path / "config.toml"  # subagents get a role of their own: it has sessions but no human turns
    cfg.write_text(f'[[roles]]\nname = "helpers"\nagent_type = "{agent}"\n')
    monkeypatch.setenv("VAULT_CONFIG", str(cfg))
    code, out, err = run_cli("mine", "--backend", "heuristic", db=ex_db)
    assert code == 0, err
    text = " ".join(out.split())
    m = re.search(r"holds (\d+) labelled turns \((\d+) typed by a person, as `vault stats` counts them, "
                  r"\+ (\d+) interrupts and tool rejections\)", text)
    assert m, text
    total, typed, other = map(int, m.groups())
    assert total == typed + other and other > 0
    stats = json.loads(run_cli("stats", "--json", db=ex_db)[1])
    assert typed == stats["human_messages"]
    roles = json.loads(run_cli("mine", "--backend", "heuristic", "--json", db=ex_db)[1])["roles"]
    assert "helpers" in roles
    assert re.search(rf"{len(roles)} roles \({len(roles) - 1} with labelled turns; `vault roles` lists all\)", text)
