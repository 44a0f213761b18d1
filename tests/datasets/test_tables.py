"""miner.tables, the one owner of labels in effect, reviews, pairs, personas and roles: its invariants, and a
vault written before the `effective_labels` view (migration m009) opening, migrating and mining the same."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from support import CLAUDE_CORPUS, CONVERSATIONS, EXAMPLES, forget_migration, needs_shared

from miner import tables
from vault.model import Kind


def _messages(con, kinds: list[str]) -> None:
    con.execute("INSERT INTO sessions (session_id, source) VALUES ('s', 'test')")
    for i, kind in enumerate(kinds):
        con.execute("INSERT INTO messages (msg_id, session_id, seq, role, kind) VALUES (?, 's', ?, 'user', ?)",
                    [f"m{i}-{kind}", i, kind])


def _label(con, msg_id: str, label: str) -> None:
    con.execute("INSERT INTO labels (msg_id, session_id, label, backend, version) VALUES (?, 's', ?, 'test', '1')",
                [msg_id, label])


def test_the_view_holds_the_human_side_kinds_of_the_model():
    """The migration spells the kinds out (a shipped migration never changes): a change of Kind.HUMAN_SIDE
    needs a new migration replacing the view, and this test says so."""
    from vault.store import open_vault

    con = open_vault(":memory:")
    every = sorted(v for k, v in vars(Kind).items() if k.isupper() and isinstance(v, str))
    _messages(con, every)
    in_view = {r[0].split("-", 1)[1] for r in con.execute(f"SELECT msg_id FROM {tables.EFFECTIVE_LABELS}").fetchall()}
    assert in_view == set(Kind.HUMAN_SIDE)


def test_a_relabel_overrides_the_machine_label_and_counts_as_a_correction():
    from vault.store import open_vault

    con = open_vault(":memory:")
    _messages(con, ["human_prompt", "human_prompt", "assistant_text"])
    _label(con, "m0-human_prompt", "new_request")
    _label(con, "m1-human_prompt", "reattempt_with_feedback")
    assert tables.count_corrections(con) == 1
    tables.record_review(con, "turn", "m0-human_prompt", "relabel", "reattempt_with_feedback")
    tables.record_review(con, "turn", "m1-human_prompt", "relabel", "not_human")
    tables.record_review(con, "turn", "m2-assistant_text", "relabel", "new_request")  # a message of another kind
    assert tables.count_corrections(con) == 1
    assert tables.relabels(con) == {"m0-human_prompt": "reattempt_with_feedback", "m1-human_prompt": "not_human",
                                    "m2-assistant_text": "new_request"}
    assert tables.turn_labels(con, ["m0-human_prompt", "m2-assistant_text", "nope"]) == {
        "m0-human_prompt": ("reattempt_with_feedback", True), "m2-assistant_text": ("new_request", True)}
    with pytest.raises(ValueError, match="unknown label"):
        tables.record_review(con, "turn", "m0-human_prompt", "relabel", "whatever")
    with pytest.raises(ValueError, match="bad review"):
        tables.record_review(con, "turn", "m0-human_prompt", "accept")


def test_accept_and_reject_of_a_pair_exclude_each_other_and_an_edit_counts_as_accepted():
    from vault.store import open_vault

    con = open_vault(":memory:")
    tables.record_review(con, "pair", "p1", "accept")
    tables.record_review(con, "pair", "p1", "reject")
    tables.record_review(con, "pair", "p2", "edit", "better")
    tables.record_review(con, "pair", "p3", "edit", "better")
    tables.record_review(con, "pair", "p3", "reject")
    assert con.execute("SELECT decision FROM reviews WHERE target_id = 'p1'").fetchall() == [("reject",)]
    rv = tables.pair_reviews(con)
    assert (rv["p1"].verdict, rv["p1"].accepted) == ("reject", False)
    assert (rv["p2"].verdict, rv["p2"].edit, rv["p2"].edited, rv["p2"].accepted) == (None, "better", True, True)
    assert (rv["p3"].verdict, rv["p3"].accepted) == ("reject", False)
    with pytest.raises(ValueError, match="bad review"):
        tables.record_review(con, "pair", "p1", "relabel", "new_request")


def test_a_persona_a_person_edited_survives_mining():
    from vault.store import open_vault

    con = open_vault(":memory:")
    tables.store_mined_persona(con, "docs", "mined", [{"rule": "r"}], "offline")
    tables.store_mined_persona(con, "code", "mined", [], "offline")
    tables.save_persona(con, "docs", "my own words")
    tables.store_mined_persona(con, "docs", "mined again", [], "offline")
    assert tables.drop_mined_personas(con, keep={"docs"}) == ["code"]
    [p] = tables.load_personas(con)
    assert (p["role_name"], p["text"], p["edited"], p["rules"]) == ("docs", "my own words", True, [{"rule": "r"}])


# -- a vault from before m009 ------------------------------------------------------------------

def _before_m009(path: Path):
    """A vault as the release before m009 left it: every other migration applied, no view, the schema
    version it had. (Built by taking the view back out, so that migrations after m009 of other work can
    still be applied by the ingest code of this version.)"""
    from vault.store import open_vault

    con = open_vault(path)
    con.execute("DROP VIEW effective_labels")
    forget_migration(con, "m009_effective_labels")
    return con


def _mine_and_review(con, sources: list[Path]) -> dict:
    """Ingest, label (heuristic backend) and review as a person would: only what a vault before m009 can do."""
    from miner.mine import mine
    from vault.ingest import ingest

    ingest(con, sources)
    rep = mine(con, backend="heuristic", build_pairs_too=False)
    corrections = [r[0] for r in con.execute(
        "SELECT msg_id FROM labels WHERE label = 'reattempt_with_feedback' ORDER BY msg_id").fetchall()]
    requests = [r[0] for r in con.execute(
        "SELECT msg_id FROM labels WHERE label = 'new_request' ORDER BY msg_id").fetchall()]
    # Rows as the TUI wrote them before the change: one relabel each way.
    con.executemany("INSERT INTO reviews (target, target_id, decision, value) VALUES ('turn', ?, 'relabel', ?)",
                    [(corrections[0], "new_request"), (requests[0], "reattempt_with_feedback")])
    return {k: v for k, v in rep.items() if "seconds" not in k}


def _pairs_and_export(con, out: Path) -> dict:
    from miner.export import export
    from miner.pairs import build_pairs
    from miner.turns import labelled_turns

    built = build_pairs(con)
    ids = [r[0] for r in con.execute("SELECT pair_id FROM pairs ORDER BY kept, pair_id").fetchall()]
    assert len(ids) >= 3, "too few pairs to review"
    tables.record_review(con, "pair", ids[0], "accept")  # a filtered-out pair, when there is one: exported
    tables.record_review(con, "pair", ids[1], "reject")
    tables.record_review(con, "pair", ids[2], "edit", "EDITED ANSWER")
    rep = export(con, "trl", out, persona=False, redactor=None)
    return {"pairs": built, "turns": labelled_turns(con), "export": {k: v for k, v in rep.items() if k != "out"},
            "files": {f.name: [json.loads(x) for x in f.read_text().splitlines()] for f in sorted(out.glob("*.jsonl"))}}


def _upgrade_gives_the_same(tmp_path, sources: list[Path]) -> None:
    from vault.migrations import MIGRATIONS
    from vault.store import SCHEMA_VERSION, get_meta, migration_number, open_vault

    con = open_vault(tmp_path / "new.duckdb")
    new_mined = _mine_and_review(con, sources)
    new = _pairs_and_export(con, tmp_path / "out-new")
    con.close()

    con = _before_m009(tmp_path / "old.duckdb")
    with pytest.raises(duckdb.CatalogException, match="effective_labels"):
        con.execute("SELECT * FROM effective_labels")
    old_mined = _mine_and_review(con, sources)
    con.close()

    con = open_vault(tmp_path / "old.duckdb")  # migrates, after a backup
    try:
        assert len(list(tmp_path.glob("old.duckdb.bak-*"))) == 1
        assert con.execute("SELECT count(*) FROM migrations WHERE name = 'm009_effective_labels'").fetchone()[0] == 1
        assert get_meta(con, SCHEMA_VERSION) == str(max(migration_number(n) for n, _ in MIGRATIONS))
        assert tables.relabels(con) == dict(con.execute(
            "SELECT target_id, value FROM reviews WHERE decision = 'relabel'").fetchall())
        old = _pairs_and_export(con, tmp_path / "out-old")
    finally:
        con.close()
    assert old_mined == new_mined
    assert old == new
    assert new["export"]["counts"]["train"] + new["export"]["counts"]["test"] > 0
    assert any(p["chosen"][0]["content"] == "EDITED ANSWER" for rows in new["files"].values() for p in rows)


def test_a_vault_from_before_m009_migrates_and_mines_and_exports_the_same(tmp_path):
    _upgrade_gives_the_same(tmp_path, [EXAMPLES / "claude-code"])


@needs_shared
def test_a_real_vault_from_before_m009_migrates_and_mines_and_exports_the_same(tmp_path):
    _upgrade_gives_the_same(tmp_path, [CLAUDE_CORPUS, CONVERSATIONS])


def _without_config(monkeypatch) -> None:
    """Any read of the configuration (the settings afresh, or rules from the config file) fails the test."""
    import miner.roles
    import vault.settings

    def read(*_a, **_k):
        raise AssertionError("the library read the configuration itself; the caller's settings pass the rules")

    monkeypatch.setattr(vault.settings, "load", read)
    monkeypatch.setattr(miner.roles, "load_rules", read)


def test_roles_come_from_the_callers_rules_and_never_from_the_config(hand_vault, vault_copy, monkeypatch):
    """The roles table emptied, every reader completes it from the rules its caller passes (the CLI's from its one
    settings object); none reads the config file on its own, nor is called without rules where it needs them."""
    from miner.pairs import build_pairs, collect_candidates
    from miner.personas import role_feedback
    from miner.roles import load_rules

    rules = load_rules(EXAMPLES / "roles.toml")  # backend, docs-writer, explorer
    con = vault_copy(hand_vault)
    con.execute("DELETE FROM roles")
    _without_config(monkeypatch)
    by_project = set(tables.session_roles(con, []).values())
    assert by_project and not by_project & {"backend", "docs-writer", "explorer"}
    assert set(tables.session_roles(con, rules).values()) <= {"backend", "docs-writer", "explorer"}
    cands, _ = collect_candidates(con, rules=rules)
    assert cands and {c.role_name for c in cands} <= {"backend", "docs-writer", "explorer"}
    assert set(role_feedback(con, rules=rules)) <= {"backend", "docs-writer", "explorer"}
    assert build_pairs(con)["pairs"] == len(cands)  # no rules: the projects', and still no config read
    assert {p["role_name"] for p in tables.load_pairs(con)} <= by_project
    with pytest.raises(TypeError):
        tables.session_roles(con)  # the owner of the table holds no default: the caller passes the rules
    with pytest.raises(TypeError):
        tables.assign_roles(con)
    assert con.execute("SELECT count(*) FROM roles").fetchone()[0] == 0  # readers complete on the fly, write nothing


def test_the_cli_passes_the_rules_of_its_settings(hand_vault, tmp_path, monkeypatch):
    """`vault pairs` rebuilds with the roles of the config it was given (VAULT_CONFIG here), through its settings."""
    import shutil

    from support import run_cli
    from vault.store import open_vault

    db = tmp_path / "v.duckdb"
    shutil.copy(hand_vault, db)
    con = open_vault(db)
    con.execute("DELETE FROM roles")
    con.close()
    monkeypatch.setenv("VAULT_CONFIG", str(EXAMPLES / "roles.toml"))
    code, out, err = run_cli("pairs", "--json", "--all", db=db)
    assert code == 0, err
    roles = {json.loads(line)["role_name"] for line in out.splitlines() if line.strip()}
    assert roles and roles <= {"backend", "docs-writer", "explorer"}
