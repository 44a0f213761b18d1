"""Personas: the planted preferences of examples/ come back as rules; clause cleaning; edited rows kept."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support import needs_shared, run_cli

from miner.personas import build_personas, clauses_of, cluster, load_personas

PLANTED = {  # role -> preference stated in two or more sessions -> words one of which its rule must contain
    "billing-api": {"tests": ("test", "suite")},
    "docs-site": {"emojis": ("emoji",)},
}
ONE_SESSION = ("migration", "spec", "preamble", "refunds.md")  # said once: a task detail, never a persona rule


def _rules(con, role) -> list[str]:
    [p] = load_personas(con, role)
    return [r["rule"].lower() for r in p["rules"]]


def _assert_planted(con) -> None:
    for role, prefs in PLANTED.items():
        rules = _rules(con, role)
        for pref, words in prefs.items():
            assert any(w in r for r in rules for w in words), f"{role}: no rule about {pref} in {rules}"
        assert not [r for r in rules for w in ONE_SESSION if w in r], rules
        [p] = load_personas(con, role)
        assert "extractive" in p["text"].splitlines()[0]


def test_personas_name_the_planted_preferences(hand_vault, vault_copy, embed_model):
    con = vault_copy(hand_vault)
    rep = build_personas(con, model=embed_model)
    assert set(rep["roles"]) == {"billing-api", "docs-site", "data-pipeline"}
    _assert_planted(con)
    [docs] = load_personas(con, "docs-site")
    top = {r["rule"]: r for r in docs["rules"]}
    assert top["No emojis."]["support"] == 3 and len(top["No emojis."]["examples"]) == 3
    assert docs["text"].splitlines()[1] == "- No emojis."
    labelled = {r[0] for r in con.execute(
        "SELECT msg_id FROM labels WHERE label = 'reattempt_with_feedback'").fetchall()}
    assert all(set(r["examples"]) <= labelled for r in docs["rules"])


def test_personas_from_real_mining_output(mined_vault, vault_copy, embed_model):
    con = vault_copy(mined_vault)
    build_personas(con, model=embed_model)
    _assert_planted(con)


def test_edited_persona_is_kept(hand_vault, vault_copy, embed_model):
    con = vault_copy(hand_vault)
    con.execute("INSERT INTO personas (role_name, text, rules, backend, edited) "
                "VALUES ('docs-site', 'my own words', '[]', 'human', true), ('gone', 'old', '[]', 'offline', false)")
    rep = build_personas(con, model=embed_model)
    assert rep["kept_edited"] == ["docs-site"] and rep["removed"] == ["gone"]
    [p] = load_personas(con, "docs-site")
    assert p["text"] == "my own words"
    from miner.personas import claude_md

    assert claude_md({**p, "rules": [{"rule": "stale"}]}).endswith("\nmy own words\n")


def test_personas_cli(hand_vault, vault_copy, embed_model):
    con = vault_copy(hand_vault)
    build_personas(con, model=embed_model)
    path = con.execute("SELECT file FROM pragma_database_list WHERE name = current_database()").fetchone()[0]
    con.close()
    code, out, _ = run_cli("personas", "docs-site", "--format", "claude-md", db=path)
    assert code == 0 and out.startswith("## Preferences (docs-site)") and "- No emojis." in out
    code, out, _ = run_cli("personas", "--json", db=path)
    assert {p["role_name"] for p in json.loads(out)} == {"billing-api", "docs-site", "data-pipeline"}
    code, out, _ = run_cli("personas", "billing-api", db=path)
    assert "test suite" in out and "support 2" in out and "migration" not in out
    code, _, err = run_cli("personas", "nobody", db=path)
    assert code != 0


@pytest.mark.parametrize("text,expected", [
    ("too long. two sentences max, and no emojis", ["too long", "two sentences max", "no emojis"]),
    ("No, read the spec in docs/refunds.md first before guessing.",
     ["read the spec in docs/refunds.md first before guessing"]),
    ("did you run the tests? don't tell me it's done", ["run the tests", "don't tell me it's done"]),
    ("you didn't run the tests again. run the suite please", ["run the tests", "run the suite"]),
    ("Traceback (most recent call last):\n  File \"x.py\", line 1\nKeyError: 'a'", []),
    ("no", []),
    ("skip the preamble and keep it short", ["skip the preamble", "keep it short"]),
    # a scope stays with its clause; a verb sharing a statement's subject is no instruction; "but" still cuts
    ("In this repo, the worktrees are just subfolders.", ["In this repo, the worktrees are just subfolders"]),
    ("they don't know it and don't realize it", ["they don't know it and don't realize it"]),
    ("your tools may do that already, but don't report this back to us",
     ["your tools may do that already", "don't report this back to us"]),
    # "stop/start doing X" asks for a change of habit
    ("stop guessing", ["never guessing"]),
    ("start adding a version number each time", ["always adding a version number each time"]),
    ("start by making a backup", ["start by making a backup"]),
    # a question no rewrite turns into an instruction asks, it states no rule (found on a held-out sessions2 role)
    ("Do type annotations allow a function to declare it never returns? That would help.", ["That would help"]),
    ("can you keep it short?", ["keep it short"]),
])
def test_clauses(text, expected):
    assert clauses_of(text) == expected


@pytest.mark.parametrize("clause,general", [
    ("don't write docstrings in specs", True),
    ("always run the suite before saying it works", True),
    ("I'd rather exclude the diary folder from the checks", True),
    ("no emojis", True),
    ("no error", False),
    ("No change in the resultant markdown file i am sorry to say", False),  # a report (fresh sample 8)
    ("no changes to the public API", True),  # a report ("no error, but the graph is empty"), not a rule: data/pairs/fresh_sample_7.jsonl
    ("read the spec in docs/refunds.md first", False),  # a task-specific file
    ("don't touch unit 11142", False),  # an id
    ("I don't want to commit the empty __init__.py files", True),  # a well-known file name is no entity
    ("Stop hook feedback: run the linter", False),  # hook text
    ("I've checked the README and I don't see it", False),  # a report, not a rule
    ("well now the button does nothing", False),
    ("The commit message must correctly reflect the changes you made", True),  # a norm (restated complaint)
    ("only because you've added comments to them", False),  # a fragment of a sentence
    ("IES backend is not available", False),
    ("think harder and propose a systematic solution", True),
    ("In this repo, the worktrees are just subfolders", True),  # a project convention
    ("for user decisions, accept and modify are enough instead", False),  # a statement, not an imperative
    ("in general, prefer small commits", True),
])
def test_general_form(clause, general):
    from miner.personas import is_general

    assert is_general(clause) == general


@pytest.mark.parametrize("clause,rule", [
    ("I don't want to commit the empty __init__.py files", "Don't commit the empty __init__.py files."),
    ("I dislike you adding inline documentation to config files", "Avoid adding inline documentation to config files."),
    ("I'd rather exclude the diary folder from the checks", "Prefer to exclude the diary folder from the checks."),
    ("The commit message must correctly reflect the changes you made (to CLAUDE.md)",
     "The commit message must correctly reflect the changes you made."),
    ("always explaining what's the purpose", "Always explain what's the purpose."),
    ("never adding placeholders", "Never add placeholders."),
    ("think harder please and find the best solution", "Think harder and find the best solution."),
    ("no emojis", "No emojis."),
])
def test_rules_phrased_as_instructions(clause, rule):
    from miner.personas import is_general, state_rule

    assert state_rule(clause) == rule and is_general(rule)


def test_complaints_restated_as_norms():
    assert clauses_of("The commit message doesn't correctly reflect the changes you made, fix it") == [
        "The commit message must correctly reflect the changes you made", "fix it"]
    assert clauses_of("I think we should also drop the autofixer from the docs, because YAGNI") == [
        "drop the autofixer from the docs, because YAGNI"]


def test_shared_words_join_what_the_small_embedding_model_keeps_apart():
    from miner.personas import THRESHOLD, overlap_bonus, stems

    assert stems("think harder and explain it") == {"think", "hard", "explain"}
    texts = ["think harder and explain it to me", "think hard about process adherence", "no emojis"]
    b = overlap_bonus(texts)
    assert b[0, 1] == b[1, 0] > 0 and b[0, 2] == 0
    v = np.array([[1, 0, 0], [0.2, 0.98, 0], [0, 0, 1]], dtype="float32")  # cosine 0.2 alone: apart
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    assert len(cluster(v, THRESHOLD)) == 3
    assert sorted(map(sorted, cluster(v, THRESHOLD, b))) == [[0, 1], [2]]


def test_standing_evidence_and_its_train_split_restriction():
    from miner.personas import Rule, is_standing, restrict_rule

    sess = {"a": "s1", "b": "s2", "c": "s1"}
    assert not is_standing(["a", "c"], [], [], sess)  # one session: a task detail
    assert is_standing(["a"], ["b"], [], sess)  # restated in substance in another session
    assert is_standing(["a"], [], ["a"], sess)  # the person says it stands ("again", "remember")
    said = Rule("Don't x.", 1, ["a"], ["don't x"], ["a"], [], ["a"])
    assert restrict_rule(said, {"a"}, sess).rule == "Don't x." and restrict_rule(said, {"c"}, sess) is None
    echoed = Rule("Don't x.", 1, ["a"], ["don't x"], ["a"], ["b"], [])
    assert restrict_rule(echoed, {"a"}, sess) is None  # the echo is a test-split correction: not evidence
    assert restrict_rule(echoed, {"a", "b"}, sess).echo_msgs == ["b"]


@pytest.mark.parametrize("text,standing", [
    ("don't delete anything, archive it", [True, False]),  # a negated universal
    ("always include the year", [True]),
    ("I often run several sessions in the same folder, keep that in mind", [True, False]),  # a frequency adverb
    ("In this repo, the worktrees are just subfolders", [True]),  # the project's convention
    ("don't do anything yet", [False]),  # scoped to now
    ("from now on, never push to main", [True]),
    ("in the future, run the linter first", [True]),
    ("as a rule, prefer small commits", [True]),
    ("don't delete the log", [False]),  # a one-off
    ("never guessing", [True]),
])
def test_a_clause_that_says_it_holds_beyond_the_task(text, standing):
    from miner.personas import marked_clauses

    assert [st for _, st in marked_clauses(text)] == standing


def test_one_correction_says_the_rule_stands(embed_model):
    """A clause with a universal or a frequency adverb is a rule from one session; a bare imperative is not."""
    from miner.personas import rules_for

    fb = [("m1", "always run the linter before committing"), ("m2", "run the formatter before committing")]
    rules = rules_for(fb, embed_model, sessions={"m1": "s1", "m2": "s1"})
    assert [(r.rule, r.standing_msgs) for r in rules] == [("Always run the linter before committing.", ["m1"])]


def test_a_cited_directive_is_a_rule_and_a_dangling_clause_is_not(embed_model):
    from miner.personas import rules_for

    assert clauses_of("your directives are to write self-documenting code") == ["always write self-documenting code"]
    fb = [("m1", "Don't add emojis to commit messages, I told you before"), ("m2", "don't add tables to the docs"),
          ("m3", "we don't need it yet"), ("m4", "we don't need it yet")]
    rules = rules_for(fb, embed_model, sessions={"m1": "s1", "m2": "s2", "m3": "s3", "m4": "s4"})
    assert [r.rule for r in rules] == ["Don't add emojis to commit messages."]
    assert rules[0].standing_msgs == ["m1"]


def test_cluster_average_linkage():
    v = np.array([[1, 0], [0.96, 0.28], [0, 1], [0.28, 0.96], [-1, 0]], dtype="float32")
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    groups = sorted(sorted(g) for g in cluster(v, 0.8))
    assert groups == [[0, 1], [2, 3], [4]]
    assert len(cluster(v, -1.1)) == 1 and cluster(v[:0], 0.5) == []


@needs_shared
def test_offline_personas_against_a_careful_readers_list(corpus_mined_vault, vault_copy, embed_model):
    """Side by side with the careful reader's lists in tests/fixtures/personas/ (bench/personas_vs_reader.py prints
    it per group: design = BookMinder; diagnosed = the three roles read to find why their items were missed;
    held out = reader_heldout.json, written before the 2026-12-03 changes and never used to tune them).

    Measured on 2026-12-03 (lines right, items covered): design 6/7, 6/11; diagnosed 3/4, 3/12 (before the
    in-clause standing cues: 0/0, 0/12); held out 1/1, 1/5 (before: 0/0, 0/5). The issue's goal of a third of the
    reader's items is reached on the design role only: elsewhere the person states most preferences as reactions
    and questions, or once without saying that it stands, which an extractive finder does not turn into rules.
    The held-out figures are not asserted beyond the share of right lines: a floor on them would invite tuning.
    """
    import sys
    from pathlib import Path

    from miner.personas import is_general

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from personas_vs_reader import compare, readers

    con = vault_copy(corpus_mined_vault)
    build_personas(con, model=embed_model)
    personas = {p["role_name"]: [r["rule"] for r in p["rules"]] for p in load_personas(con)}
    rep = {group: compare(personas, reader) for group, reader in readers().items()}
    lines = [ln for ps in personas.values() for ln in ps]
    assert all(is_general(ln) for ln in lines)  # general form, no hook text, no task entity
    listed = sum(r["lines"] for r in rep.values())
    assert listed >= 1 and sum(r["right"] for r in rep.values()) * 2 >= listed  # at least half of the lines right
    assert rep["design"]["covered"] + rep["diagnosed"]["covered"] >= 7  # measured 9; the miner's labels change
