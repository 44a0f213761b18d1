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


def test_a_change_of_rendering_does_not_pay_again_for_the_same_answer(api, hand_vault, vault_copy, monkeypatch):
    """The cache key held the rendered rejected answer: any change of how tool calls are rendered (the singular
    "(1 line)") re-sent and paid every rewrite of an answer it touched. The key now holds what the answer is."""
    import miner.pairs.rewrite as rw

    con = vault_copy(hand_vault)
    build_pairs(con, method="rewrite", llm=_llm(con), yes=True)
    sent = api.count("POST", "/v1/messages")
    assert sent == 10
    render = rw.render_answer
    monkeypatch.setattr(rw, "render_answer", lambda parts, *a: render(parts, *a).replace("[", "[tool: "))
    rep = build_pairs(con, method="rewrite", llm=_llm(con), yes=True)
    assert rep["by_method"] == {"rewrite": 10} and api.count("POST", "/v1/messages") == sent


def test_rewrites_cached_under_the_rendered_key_are_kept(api, hand_vault, vault_copy):
    """A vault whose rewrites were cached by the previous code (key: the rendered rejected answer, from before the
    singular counts: "(1 lines)") pays for none of them again; each is moved to its new key."""
    from miner.llm.cache import store_answer
    from miner.pairs.next_attempt import corrections
    from miner.pairs.prompt import PROMPT_CHARS, render_answer
    from miner.pairs.rewrite import REWRITE_SYSTEM, rewrite_tokens
    from miner.pairs.segments import load_segments
    from miner.render import TOOL_DETAIL_CHARS

    con = vault_copy(hand_vault)
    llm = _llm(con)
    old_keys = []
    for segs in load_segments(con).values():  # the previous code's key, with the renderer before the singulars
        for i, _, rejected, _ in corrections(segs, {"no_request": 0, "no_rejected_answer": 0}):
            shown = render_answer(rejected, min(TOOL_DETAIL_CHARS, PROMPT_CHARS // 2))
            shown = re.sub(r"\((1 (?:more (?:diff )?)?line|1 edit)\)", r"(\1s)", shown)
            old_keys.append(llm.cache_key(REWRITE_SYSTEM, segs[i].msg_id, shown, segs[i].text,
                                          f"max_tokens={rewrite_tokens(shown, llm.max_tokens)}"))
            store_answer(con, old_keys[-1], llm.model, json.dumps({"rewrite": f"cached {len(old_keys)}"}), 10, 5)
    assert len(old_keys) == 10 and any("(1 line)" in render_answer(r) for s in load_segments(con).values()
                                       for _, _, r, _ in corrections(s, {"no_request": 0, "no_rejected_answer": 0}))
    rep = build_pairs(con, method="rewrite", llm=llm, yes=True)
    assert rep["by_method"] == {"rewrite": 10} and api.count("POST", "/v1/messages") == 0
    chosen = sorted(json.loads(c)[0]["content"] for (c,) in con.execute(
        "SELECT chosen FROM pairs WHERE method = 'rewrite'").fetchall())
    assert chosen == sorted(f"cached {n}" for n in range(1, 11))
    moved = con.execute("SELECT count(*) FILTER (WHERE cache_key IN (SELECT unnest(?))), count(*) FROM llm_cache",
                        [old_keys]).fetchone()
    assert moved == (0, 10)  # under their new keys only
    build_pairs(con, method="rewrite", llm=_llm(con), yes=True)
    assert api.count("POST", "/v1/messages") == 0
