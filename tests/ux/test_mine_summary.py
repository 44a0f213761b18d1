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
                  r"\+ (\d+) (?:interrupt or tool rejection|interrupts and tool rejections)\)", text)
    assert m, text
    total, typed, other = map(int, m.groups())
    assert total == typed + other and other > 0
    assert ("interrupt or tool rejection)" in text) == (other == 1)
    stats = json.loads(run_cli("stats", "--json", db=ex_db)[1])
    assert typed == stats["human_messages"]
    roles = json.loads(run_cli("mine", "--backend", "heuristic", "--json", db=ex_db)[1])["roles"]
    assert "helpers" in roles
    assert re.search(rf"{len(roles)} roles \({len(roles) - 1} with labelled turns; `vault roles` lists all\)", text)


def test_the_corrections_report_explains_its_threshold(ex_db):
    assert run_cli("mine", "--backend", "heuristic", db=ex_db)[0] == 0
    out = " ".join(run_cli("stats", "--corrections", db=ex_db)[1].split())
    assert "A session is troubled when its rate is above 15.0%" in out and "corrections.threshold" in out


def test_a_threshold_that_flags_every_session_says_so():
    from rich.console import Console

    from vault.cli.views.corrections import threshold_note

    rep = {"definition": {"threshold": 0.15},
           "overall": {"rated_sessions": 9, "troubled_share": 1.0, "median_session_rate": 0.4}}
    c = Console(record=True, width=200)
    c.print(threshold_note(rep))
    text = c.export_text()
    assert "100.0% of rated sessions are above it" in text and "--threshold 0.40" in text
    rep["overall"]["troubled_share"] = 0.5
    c = Console(record=True, width=200)
    c.print(threshold_note(rep))
    assert "above it" not in c.export_text().replace("above 15.0%", "")
