"""Any OpenAI-compatible endpoint as the LLM backend: real `openai` SDK against a local fake server."""

from __future__ import annotations

import json

import pytest
from fake_openai_api import FakeOpenAI, serving

from miner.export import export
from miner.llm import LLMError, OpenAICompatibleLLM, is_local, make_llm
from miner.pairs import REWRITE_PROMPT_VERSION, build_pairs
from vault.settings import LLMSettings

PLANTED = ("sk-ant-api03-Zx9fQ2mB7nR4tY1uW8eK3pL6vC0dH5jS2gA9bN4xM7qT1rE8yU3iO6pZ5wV2cX0", "jane.doe@example.com")


@pytest.fixture
def fake():
    f = FakeOpenAI()
    with serving(f) as url:
        f.url = url
        yield f


def _llm(con, url, **kw):
    return make_llm(con, LLMSettings(backend="openai", base_url=url, model="smollm2"),
                    prompt_version=REWRITE_PROMPT_VERSION, max_retries=0, **kw)


@pytest.mark.parametrize("url,local", [
    ("http://127.0.0.1:8080/v1", True), ("http://localhost:11434/v1", True), ("http://[::1]:1234/v1", True),
    ("https://api.openai.com/v1", False), ("http://192.168.1.20:8080/v1", False), ("http://llm.example.com", False),
])
def test_is_local(url, local):
    assert is_local(url) is local


def test_local_rewrites_end_to_end_free_no_consent_redacted_cached(fake, hand_vault, vault_copy, tmp_path):
    con = vault_copy(hand_vault)
    llm = _llm(con, fake.url)
    assert isinstance(llm, OpenAICompatibleLLM) and not llm.paid
    # no `yes`, no `confirm`: a local endpoint is free and nothing leaves the machine
    rep = build_pairs(con, method=("next_attempt", "rewrite"), llm=llm)
    rows = con.execute("SELECT feedback, chosen, made_by, kept FROM pairs WHERE method = 'rewrite'").fetchall()
    assert rep["by_method"]["rewrite"] == len(rows) == 10 == len(fake.requests)
    assert {r["path"] for r in fake.requests} == {"/v1/chat/completions"}
    assert {r["body"]["model"] for r in fake.requests} == {"smollm2"}
    # the flattering opener the fake model adds is stripped and counted
    assert rep["skipped"]["opener_stripped"] == 10
    assert all(json.loads(c)[0]["content"].startswith("Rewritten per feedback: ") for _, c, _, _ in rows)
    port = fake.url.split(":")[2].split("/")[0]
    assert {m for _, _, m, _ in rows} == {f"openai:smollm2@127.0.0.1:{port}"}
    assert not any(s in fake.bodies() for s in PLANTED)  # redacted before sending, local or not
    assert llm.usage.cost_usd == 0 and llm.plan([]).cost_usd == 0
    build_pairs(con, method=("next_attempt", "rewrite"), llm=_llm(con, fake.url))
    assert len(fake.requests) == 10  # cached
    card_rep = export(con, "trl", tmp_path / "out", test_fraction=0)
    card = (tmp_path / "out" / "README.md").read_text()
    assert f"| openai:smollm2@127.0.0.1:{port} |" in card and "| person |" in card
    assert card_rep["by_backend"][f"openai:smollm2@127.0.0.1:{port}"] >= 1


def test_errors_and_empty_answers_fail_single_pairs(fake, hand_vault, vault_copy):
    con = vault_copy(hand_vault)
    # 500 and 400 fail their message; an empty answer is asked once more; no choices counts as empty
    fake.script.extend([500, 400, "empty", "ok", "empty", "empty", "no_choices", "no_choices"])
    rep = build_pairs(con, method=("next_attempt", "rewrite"), llm=_llm(con, fake.url, concurrency=1))
    # 500, 400: failed; empty then ok: kept; empty twice, no choices twice: failed
    assert rep["skipped"]["rewrite_failed"] == 4 and rep["by_method"]["rewrite"] == 6
    assert len(fake.requests) == 13  # 10 + one retry for each of the 3 empty first answers


def test_plain_text_answers_are_the_rewrite_and_the_rules(fake, hand_vault, vault_copy):
    """A small local model does not follow a JSON instruction: the rewrite is the answer's text, the rules are
    its list lines with the corrections they cite; text with no rule in it is asked once more."""
    from miner.personas import build_personas, load_personas

    con = vault_copy(hand_vault)
    fake.script.extend(["plain"] * 10)
    rep = build_pairs(con, method=("rewrite",), llm=_llm(con, fake.url, concurrency=1))
    assert rep["by_method"]["rewrite"] == 10 and "rewrite_failed" not in rep["skipped"]
    chosen = [json.loads(c)[0]["content"] for (c,) in con.execute("SELECT chosen FROM pairs").fetchall()]
    assert all(c.startswith("Rewritten per feedback: ") for c in chosen)  # label and opener stripped
    fake.script.extend(["malformed", "plain", "plain", "plain"])
    build_personas(con, backend="anthropic", llm=make_llm(con, LLMSettings(
        backend="openai", base_url=fake.url, model="smollm2"), prompt_version="persona-test", max_retries=0,
        concurrency=1))
    [docs] = load_personas(con, "docs-site")
    assert [(r["rule"], r["support"]) for r in docs["rules"]] == [("Never use emojis.", 3)]


def test_remote_endpoint_needs_consent_and_a_key(hand_vault, vault_copy, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    con = vault_copy(hand_vault)
    llm = _llm(con, "http://llm.example.invalid/v1")
    assert llm.paid
    with pytest.raises(LLMError, match="Not confirmed .*nothing was sent"):
        build_pairs(con, method=("next_attempt", "rewrite"), llm=llm)
    with pytest.raises(LLMError, match="OPENAI_API_KEY"):
        build_pairs(con, method=("next_attempt", "rewrite"), llm=_llm(con, "http://llm.example.invalid/v1"),
                    yes=True)


def test_unreachable_local_server_is_one_clear_error(hand_vault, vault_copy):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    con = vault_copy(hand_vault)
    with pytest.raises(LLMError, match=f"cannot reach the LLM endpoint at http://127.0.0.1:{port}/v1"):
        build_pairs(con, method=("next_attempt", "rewrite"), llm=_llm(con, f"http://127.0.0.1:{port}/v1"))


def test_settings_pick_the_backend(hand_vault, vault_copy):
    con = vault_copy(hand_vault)
    with pytest.raises(LLMError, match="base URL"):
        make_llm(con, LLMSettings(backend="openai"), prompt_version="x")
    assert make_llm(con, LLMSettings(), prompt_version="x").made_by == "anthropic:claude-haiku-4-5"


def test_rewrites_bounded_in_output_tokens_and_request_size(fake, hand_vault, vault_copy):
    """What makes a small local model usable: each rewrite asks for about its rejected answer's length in tokens
    (never above the client's bound), and the request stays within the prompt budget whatever the answer's
    tool calls; a local server gets one call at a time and minutes to answer."""
    from miner.pairs import REWRITE_MIN_TOKENS, rewrite_tokens

    con = vault_copy(hand_vault)
    con.execute("UPDATE messages SET text = text || repeat(' padding', 2000) WHERE kind = 'assistant_text'")
    llm = _llm(con, fake.url, max_tokens=200, timeout=60)
    assert llm.concurrency == 1 and llm.timeout >= 900
    build_pairs(con, method=("rewrite",), llm=llm, prompt_chars=1200)
    sent = [r["body"] for r in fake.requests]
    assert len(sent) == 10 and all(b["max_tokens"] <= 200 for b in sent)
    user = [b["messages"][1]["content"] for b in sent]
    assert max(len(u) for u in user) < 1200 * 3 + 200  # conversation, rejected answer, feedback: each clipped
    assert all("[…]" in u for u in user)
    assert REWRITE_MIN_TOKENS < rewrite_tokens("short", 2000) < REWRITE_MIN_TOKENS + 10
    assert rewrite_tokens("short", 16) == REWRITE_MIN_TOKENS  # never below the floor
    assert rewrite_tokens("x" * 7000, 2000) == 2000 and rewrite_tokens("x" * 700, 2000) < 400
    # the bound is part of the cache key: a longer bound asks again instead of reusing a cut answer
    build_pairs(con, method=("rewrite",), llm=_llm(con, fake.url, max_tokens=100), prompt_chars=1200)
    assert len(fake.requests) == 20


def test_local_server_arguments_default_to_the_shipped_model_on_loopback():
    from miner.llm.server import server_argv

    argv = server_argv(["--model", "/m/other.gguf", "--port", "9000", "--n_threads", "1"])
    assert argv[argv.index("--model") + 1] == "/m/other.gguf"
    assert argv.count("--model") == 1 and argv[argv.index("--host") + 1] == "127.0.0.1"
    assert argv.count("--n_threads") == 1 and "--model_alias" not in argv  # an explicit model keeps its own name
    assert server_argv(["--model=/m/x.gguf", "--host=0.0.0.0"]).count("--host") == 0  # `--name=value` counts too
