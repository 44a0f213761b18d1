"""Correction analytics: exact rates on a constructed vault, the definition options, relabels, CLI."""

from __future__ import annotations

import json

import pytest
from analytics_data import IR, NR, RWF, add_session, load_hand_labels, typed

from miner.analytics import PAPER_WILDCHAT_PERCENT, corrections_report
from miner.roles import parse_rules
from miner.tables import assign_roles
from vault.cli.views.corrections import print_corrections, sparkline, week_axis
from support import run_cli


def by_id(rep):
    return {s["session_id"]: s for s in rep["sessions"]}


def test_exact_session_rates_and_rating(rated_vault):
    rep = corrections_report(rated_vault, [])
    s = by_id(rep)
    assert set(s) == {"s1", "s2", "s3", "s4"}  # s5 is unlabelled, the subagent has no human turn
    assert (s["s1"]["human_turns"], s["s1"]["corrections"], s["s1"]["rate"]) == (10, 2, 0.2)
    assert (s["s2"]["human_turns"], s["s2"]["corrections"], s["s2"]["rate"]) == (20, 3, 0.15)
    assert (s["s3"]["human_turns"], s["s3"]["corrections"], s["s3"]["rate"]) == (4, 1, 0.25)  # interrupt not typed
    assert (s["s4"]["human_turns"], s["s4"]["rated"], s["s4"]["rate"], s["s4"]["troubled"]) == (2, False, None, False)
    assert [x["session_id"] for x in rep["sessions"]] == ["s1", "s3", "s4", "s2"]  # by start time
    assert s["s1"]["role"] == "api" and s["s3"]["project"] == "docs" and s["s1"]["started_at"] == "2026-03-02T09:00:00"
    assert rep["labelled_turns"] == 37 and rep["unlabelled_turns"] == 3
    o = rep["overall"]
    assert (o["sessions"], o["rated_sessions"], o["turns"], o["corrections"]) == (4, 3, 36, 7)
    assert o["rate"] == round(7 / 36, 6)
    assert o["mean_session_rate"] == pytest.approx((0.2 + 0.15 + 0.25) / 3)
    assert o["median_session_rate"] == 0.2


def test_troubled_threshold_is_strictly_above(rated_vault):
    rep = corrections_report(rated_vault, [])  # 0.15: s2 sits exactly on it
    assert [t["session_id"] for t in rep["troubled"]] == ["s3", "s1"]  # highest rate first
    assert not by_id(rep)["s2"]["troubled"]
    rep = corrections_report(rated_vault, [], threshold=0.1499)
    assert [t["session_id"] for t in rep["troubled"]] == ["s3", "s1", "s2"]
    rep = corrections_report(rated_vault, [], threshold=0.25)
    assert rep["troubled"] == [] and rep["overall"]["troubled"] == 0


def test_histogram_bins_of_five_percent(rated_vault):
    h = corrections_report(rated_vault, [])["histogram"]
    assert len(h) == 20 and h[0]["lo"] == 0.0 and h[-1]["hi"] == 1.0
    # 0.15 -> 15-20 %, 0.20 -> 20-25 %, 0.25 -> 25-30 %; the unrated s4 is not counted
    assert {i: b["sessions"] for i, b in enumerate(h) if b["sessions"]} == {3: 1, 4: 1, 5: 1}


def test_per_role(rated_vault):
    roles = {r["role"]: r for r in corrections_report(rated_vault, [])["roles"]}
    api, docs = roles["api"], roles["docs"]
    assert (api["sessions"], api["rated_sessions"], api["turns"], api["corrections"]) == (2, 2, 30, 5)
    assert api["rate"] == round(5 / 30, 6) and api["mean_session_rate"] == pytest.approx(0.175)
    assert (api["troubled"], api["troubled_share"]) == (1, 0.5)
    # docs pools s4's turns although s4 is too short to get a rate of its own
    assert (docs["sessions"], docs["rated_sessions"], docs["turns"], docs["corrections"]) == (2, 1, 6, 2)
    assert docs["rate"] == round(2 / 6, 6) and docs["median_session_rate"] == 0.25 and docs["troubled_share"] == 1.0


def test_weekly_buckets_by_iso_week_of_each_turn(rated_vault):
    weekly = {(w["role"], w["week"]): (w["sessions"], w["turns"], w["corrections"])
              for w in corrections_report(rated_vault, [])["weekly"]}
    # s2's turns 10-19 are a week later than its start: they land in W12
    assert weekly == {("api", "2026-W10"): (1, 10, 2), ("api", "2026-W11"): (1, 10, 1),
                      ("api", "2026-W12"): (1, 10, 2), ("docs", "2026-W10"): (2, 6, 2)}


def test_role_filter_and_roles_table(rated_vault):
    rep = corrections_report(rated_vault, [], role="docs")
    assert set(by_id(rep)) == {"s3", "s4"} and [r["role"] for r in rep["roles"]] == ["docs"]
    assert rep["role_filter"] == "docs" and rep["unlabelled_turns"] == 3 and rep["roles_known"] == ["api", "docs"]
    # roles assigned by a rule (the roles table) win over the on-the-fly defaults
    assign_roles(rated_vault, parse_rules({"roles": [{"name": "writer", "cwd": "*/docs-*"}]}))
    assert set(by_id(corrections_report(rated_vault, [], role="writer"))) == {"s3", "s4"}
    empty = corrections_report(rated_vault, [], role="nobody")
    assert empty["sessions"] == [] and empty["labelled_turns"] == 0 and empty["overall"]["rate"] is None


def test_definition_options(rated_vault):
    rep = corrections_report(rated_vault, [], definition={"denominator": "human_side"})
    assert by_id(rep)["s3"]["human_turns"] == 5 and by_id(rep)["s3"]["rate"] == 0.2
    rep = corrections_report(rated_vault, [], definition={"min_turns": 2})
    assert by_id(rep)["s4"]["rate"] == 0.5 and by_id(rep)["s4"]["troubled"]
    rep = corrections_report(rated_vault, [], definition={"numerator": ["reattempt_with_feedback",
                                                                    "reattempt_without_feedback"]})
    assert by_id(rep)["s1"]["corrections"] == 3
    assert "sessions with fewer than 3" in corrections_report(rated_vault, [])["definition"]["text"]
    with pytest.raises(ValueError, match="denominator"):
        corrections_report(rated_vault, [], definition={"denominator": "all"})
    with pytest.raises(ValueError, match="numerator"):
        corrections_report(rated_vault, [], definition={"numerator": ["correction"]})


def test_human_relabel_overrides_the_classifier(rated_vault):
    con = rated_vault
    con.execute("INSERT INTO reviews (target, target_id, decision, value) VALUES "
                "('turn', 's2:1', 'relabel', 'new_request'), "        # a false correction removed
                "('turn', 's1:1', 'relabel', 'reattempt_with_feedback'), "  # a missed one added
                "('turn', 's3:1', 'relabel', 'not_human'), "          # not a person's turn at all
                "('turn', 's5:0', 'relabel', 'initial_request'), "    # labelled by hand before mining
                "('pair', 's1:2', 'relabel', 'new_request')")         # not a turn review: ignored
    rep = corrections_report(con, [])
    s = by_id(rep)
    assert (s["s2"]["corrections"], s["s1"]["corrections"]) == (2, 3)
    assert s["s3"]["human_turns"] == 3 and s["s3"]["rate"] == round(1 / 3, 6)
    assert s["s5"]["human_turns"] == 1 and not s["s5"]["rated"]
    assert rep["relabelled_turns"] == 3  # not_human turns leave the report entirely
    assert rep["unlabelled_turns"] == 2


def test_label_distribution_against_the_paper(rated_vault):
    ld = corrections_report(rated_vault, [])["label_distribution"]
    assert ld["counts"] == {"initial_request": 4, "new_request": 23, "reattempt_with_feedback": 7,
                            "reattempt_without_feedback": 1, "positive_feedback": 1, "interrupt": 1}
    assert ld["percent"]["reattempt_with_feedback"] == round(100 * 7 / 36, 2)
    assert ld["paper_wildchat_percent"] == PAPER_WILDCHAT_PERCENT
    assert sum(PAPER_WILDCHAT_PERCENT.values()) == pytest.approx(100.0)


def test_no_labels_yet(con):
    add_session(con, "x", project="p", started="2026-01-01T00:00:00", turns=typed(None, None))
    rep = corrections_report(con, [])
    assert rep["labelled_turns"] == 0 and rep["unlabelled_turns"] == 2 and rep["sessions"] == []
    from rich.console import Console

    c = Console(record=True, width=100)
    print_corrections(c, rep)
    assert "vault mine" in c.export_text()


def test_stats_corrections_json_cli(rated_vault, db_path):
    rated_vault.close()
    code, out, err = run_cli("stats", "--corrections", "--json", db=db_path)
    assert code == 0
    rep = json.loads(out)  # nothing but JSON on stdout
    assert by_id(rep)["s2"]["rate"] == 0.15 and [t["session_id"] for t in rep["troubled"]] == ["s3", "s1"]
    code, out, _ = run_cli("stats", "--corrections", "--json", "--threshold", "0.1", "--role", "api",
                           "--denominator", "human_side", "--min-turns", "2", db=db_path)
    rep = json.loads(out)
    assert rep["role_filter"] == "api" and [t["session_id"] for t in rep["troubled"]] == ["s1", "s2"]
    assert rep["definition"] == {**rep["definition"], "threshold": 0.1, "denominator": "human_side", "min_turns": 2}


def test_stats_corrections_human_output(rated_vault, db_path):
    rated_vault.close()
    code, out, _ = run_cli("stats", "--corrections", db=db_path)
    assert code == 0
    for needle in ("Correction rate", "15- 20%", "█", "per role", "troubled sessions", "s3", "WildChat",
                   "26.51%", "Weekly correction rate", "api  2026-W10 ▂▁▂ 2026-W12  last 20% of 10"):
        assert needle in out, needle


def test_sparkline_and_week_axis():
    assert sparkline([0.0, 0.5, None, 1.0], 1.0) == "▁▄·█"
    assert sparkline([]) == ""
    assert week_axis(["2025-W52", "2026-W02"]) == ["2025-W52", "2026-W01", "2026-W02"]
    assert week_axis(["2026-W10"] + ["2026-W40"], last=3) == ["2026-W38", "2026-W39", "2026-W40"]


def test_report_on_corpora_hand_labels(corpus_copy):
    """Real conversations with the dev hand labels: the report's counts agree with a direct count."""
    from vault.store import open_vault

    con = open_vault(corpus_copy)
    n = load_hand_labels(con)
    assert n > 100
    rep = corrections_report(con, [], definition={"min_turns": 1})
    direct_turns, direct_corr = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE l.label = 'reattempt_with_feedback') "
        "FROM labels l JOIN messages m USING (msg_id) WHERE m.is_human").fetchone()
    o = rep["overall"]
    assert (o["turns"], o["corrections"]) == (direct_turns, direct_corr)
    assert sum(s["human_turns"] for s in rep["sessions"]) == direct_turns
    assert sum(r["corrections"] for r in rep["roles"]) == direct_corr
    assert sum(b["sessions"] for b in rep["histogram"]) == o["rated_sessions"] == len(rep["sessions"])
    assert rep["labelled_turns"] == n
    # neutral conversations have no timestamps: their weeks are undated, not dropped
    assert sum(w["turns"] for w in rep["weekly"]) == direct_turns
    assert any(w["week"] is None for w in rep["weekly"]) and any(w["week"] for w in rep["weekly"])
    con.close()


def test_role_rules_flow_into_the_report(con):
    add_session(con, "a", project="api", cwd="/w/api", started="2026-05-04T00:00:00",
                turns=typed(IR, RWF, NR))
    add_session(con, "b", project="web", cwd="/w/web", started="2026-05-04T00:00:00", turns=typed(IR, NR, NR))
    assign_roles(con, parse_rules({"roles": [{"name": "everything", "cwd": "/w/*"}]}))
    rep = corrections_report(con, [])
    assert [(r["role"], r["sessions"], r["corrections"]) for r in rep["roles"]] == [("everything", 2, 1)]


def test_corrections_settings_from_config(rated_vault, db_path, tmp_path, monkeypatch):
    rated_vault.close()
    cfg = tmp_path / "config.toml"
    cfg.write_text('[corrections]\nthreshold = 0.1\nmin_turns = 2\ndenominator = "human_side"\n')
    monkeypatch.setenv("VAULT_CONFIG", str(cfg))
    rep = json.loads(run_cli("stats", "--corrections", "--json", db=db_path)[1])
    assert rep["definition"] == {**rep["definition"], "threshold": 0.1, "min_turns": 2, "denominator": "human_side"}
    assert by_id(rep)["s4"]["rated"] and by_id(rep)["s3"]["rate"] == 0.2
    # command-line options win over the config
    rep = json.loads(run_cli("stats", "--corrections", "--json", "--threshold", "0.3", "--min-turns", "3",
                             db=db_path)[1])
    assert rep["definition"]["threshold"] == 0.3 and rep["definition"]["min_turns"] == 3
    assert rep["definition"]["denominator"] == "human_side"


@pytest.mark.parametrize("text, fragment", [
    ("[corrections]\nthreshhold = 0.1\n", "[corrections] threshhold: unknown key"),
    ('[corrections]\nmin_turns = "three"\n', "[corrections] min_turns: Input should be a valid"),
    ("[corrections]\nthreshold = 1.5\n", "[corrections] threshold: Input should be less than or equal to 1"),
    ('[corrections]\ndenominator = "all"\n', "[corrections] denominator: Input should be 'typed' or 'human_side'"),
    ('[corrections]\nnumerator = ["fix"]\n', "[corrections] numerator: numerator labels must be among"),
])
def test_bad_corrections_settings_name_the_file(tmp_path, monkeypatch, text, fragment):
    from miner.analytics import correction_definition
    from vault.settings import ConfigError, load

    cfg = tmp_path / "config.toml"
    cfg.write_text(text)
    monkeypatch.setenv("VAULT_CONFIG", str(cfg))
    with pytest.raises(ConfigError) as e:
        correction_definition(load())
    assert str(e.value).startswith(f"{cfg}: ") and fragment in str(e.value)
