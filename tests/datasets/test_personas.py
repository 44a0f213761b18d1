"""Personas: the planted preferences of examples/ come back as rules; clause cleaning; edited rows kept."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support import run_cli

from miner.personas import build_personas, clauses_of, cluster, load_personas

PLANTED = {  # role -> preference -> words one of which its rule must contain
    "billing-api": {"tests": ("test", "suite"), "spec": ("spec",), "migration": ("migration",)},
    "docs-site": {"short": ("short", "long", "wordy", "line", "sentences"), "emojis": ("emoji",),
                  "preamble": ("preamble",)},
}


def _rules(con, role) -> list[str]:
    [p] = load_personas(con, role)
    return [r["rule"].lower() for r in p["rules"]]


def _assert_planted(con) -> None:
    for role, prefs in PLANTED.items():
        rules = _rules(con, role)
        for pref, words in prefs.items():
            assert any(w in r for r in rules for w in words), f"{role}: no rule about {pref} in {rules}"


def test_personas_name_the_planted_preferences(hand_vault, vault_copy, embed_model):
    con = vault_copy(hand_vault)
    rep = build_personas(con, model=embed_model)
    assert set(rep["roles"]) == {"billing-api", "docs-site", "data-pipeline"}
    _assert_planted(con)
    [docs] = load_personas(con, "docs-site")
    top = {r["rule"]: r for r in docs["rules"]}
    assert top["No emojis."]["support"] == 3 and len(top["No emojis."]["examples"]) == 3
    assert docs["text"].splitlines()[1] in ("- No emojis.", "- Keep it short.")
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
    assert "migration" in out and "support" in out
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
])
def test_clauses(text, expected):
    assert clauses_of(text) == expected


def test_cluster_average_linkage():
    v = np.array([[1, 0], [0.96, 0.28], [0, 1], [0.28, 0.96], [-1, 0]], dtype="float32")
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    groups = sorted(sorted(g) for g in cluster(v, 0.8))
    assert groups == [[0, 1], [2, 3], [4]]
    assert len(cluster(v, -1.1)) == 1 and cluster(v[:0], 0.5) == []
