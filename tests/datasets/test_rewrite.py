"""The paid options end to end (`rewrite` pairs, anthropic personas): real SDK, a local fake Anthropic API."""

from __future__ import annotations

import json
import re

import pytest
from fake_anthropic_api import FakeAnthropic, running
from support import run_cli

from miner.llm import LLM, LLMError
from miner.pairs import REWRITE_PROMPT_VERSION, build_pairs

PLANTED = ("sk-ant-api03-Zx9fQ2mB7nR4tY1uW8eK3pL6vC0dH5jS2gA9bN4xM7qT1rE8yU3iO6pZ5wV2cX0", "jane.doe@example.com",
           "/home/jdoe")


class RewritingAPI(FakeAnthropic):
    """Rewrites quote the feedback they were given; personas name every correction with "emoji" in it."""

    def message(self, params: dict, malformed: bool = False, fence: bool = False) -> dict:
        out = super().message(params, malformed, fence)
        user = params["messages"][0]["content"]
        if params["system"].startswith("You read the corrections"):
            ids = [int(i) for i, t in re.findall(r"^\[(\d+)\] (.*)$", user, re.M) if "emoji" in t.lower()]
            answer = {"rules": [{"rule": "never use emojis", "corrections": ids + [999]}]}
        else:
            fb = re.search(r"<user_feedback>\n(.*?)\n</user_feedback>", user, re.S)
            answer = {"rewrite": f"Rewritten per feedback: {fb.group(1)[:40]}"}
        out["content"][0]["text"] = json.dumps(answer)
        return out


@pytest.fixture
def api(monkeypatch):
    with running(monkeypatch, RewritingAPI()) as a:
        yield a


def _llm(con):
    return LLM(con, prompt_version=REWRITE_PROMPT_VERSION, max_retries=1)


def test_rewrite_pairs_one_per_correction_redacted_and_cached(api, hand_vault, vault_copy):
    con = vault_copy(hand_vault)
    con.execute("INSERT INTO personas (role_name, text, rules, backend) VALUES ('docs-site', 'PERSONA: no emojis', "
                "'[]', 'offline')")
    rep = build_pairs(con, method=("next_attempt", "rewrite"), llm=_llm(con), yes=True)
    rows = con.execute("SELECT method, feedback, chosen, kept FROM pairs WHERE method = 'rewrite'").fetchall()
    # every correction with an answer before it, chains included (10 planted corrections)
    assert rep["by_method"] == {"next_attempt": 9, "rewrite": 10} and len(rows) == 10
    assert all(json.loads(c)[0]["content"].startswith("Rewritten per feedback: " + fb[:10]) for _, fb, c, _ in rows)
    sent = api.count("POST", "/v1/messages")
    assert sent == 10
    bodies = api.bodies()
    assert not any(s in bodies for s in PLANTED)  # redacted before sending
    assert "PERSONA: no emojis" in bodies  # the role's persona conditions the rewrite
    build_pairs(con, method=("next_attempt", "rewrite"), llm=_llm(con), yes=True)
    assert api.count("POST", "/v1/messages") == sent  # cached: a re-run never pays twice


def test_rewrite_needs_confirmation(api, hand_vault, vault_copy):
    con = vault_copy(hand_vault)
    with pytest.raises(LLMError, match="nothing was sent"):
        build_pairs(con, method="rewrite", llm=_llm(con), confirm=lambda plan: False)
    with pytest.raises(ValueError, match="needs an LLM"):
        build_pairs(con, method="rewrite")
    assert api.count() == 0


def test_pairs_cli_rewrite(api, hand_vault, vault_copy):
    con = vault_copy(hand_vault)
    path = con.execute("SELECT file FROM pragma_database_list WHERE name = current_database()").fetchone()[0]
    con.close()
    code, out, err = run_cli("pairs", "--json", "--rewrite", db=path)  # --json cannot ask: not confirmed
    assert code != 0 and out == "" and "nothing was sent" in err and api.count() == 0
    code, out, _ = run_cli("pairs", "--json", "--rewrite", "--yes", "--method", "rewrite", db=path)
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and rows and all(r["method"] == "rewrite" for r in rows)


def test_anthropic_personas(api, hand_vault, vault_copy):
    from miner.personas import PERSONA_PROMPT_VERSION, build_personas, claude_md, load_personas

    con = vault_copy(hand_vault)
    llm = LLM(con, prompt_version=PERSONA_PROMPT_VERSION, max_retries=1)
    with pytest.raises(LLMError, match="nothing was sent"):
        build_personas(con, backend="anthropic", llm=llm)  # neither --yes nor a confirmation
    assert api.count() == 0 and load_personas(con) == []
    rep = build_personas(con, backend="anthropic", llm=llm, yes=True)
    assert api.count("POST", "/v1/messages") == 3  # one request per role
    assert not any(s in api.bodies() for s in PLANTED)
    [docs] = load_personas(con, "docs-site")
    assert docs["backend"] == "anthropic" and rep["roles"]["docs-site"]["rules"] == 1
    [rule] = docs["rules"]
    # support counts the real corrections it cites (3 of the 4 docs corrections mention emojis; 999 is ignored)
    assert rule["rule"] == "Never use emojis." and rule["support"] == 3
    texts = dict(con.execute("SELECT msg_id, text FROM messages").fetchall())
    assert all("emoji" in texts[m].lower() for m in rule["examples"])
    assert "- Never use emojis." in claude_md(docs)


def test_personas_cli_anthropic(api, hand_vault, vault_copy):
    con = vault_copy(hand_vault)
    path = con.execute("SELECT file FROM pragma_database_list WHERE name = current_database()").fetchone()[0]
    con.close()
    code, out, _ = run_cli("personas", "docs-site", "--backend", "anthropic", "--yes", "--format", "claude-md", db=path)
    assert code == 0 and "- Never use emojis." in out and api.count("POST", "/v1/messages") == 1
