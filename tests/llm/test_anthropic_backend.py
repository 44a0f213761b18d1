"""The anthropic backend end to end: real SDK, local fake API (tests/llm/fake_anthropic_api.py)."""

from __future__ import annotations

import json
import socket

import pytest
from fake_anthropic_api import label_rule

from miner.classify.anthropic import (PROMPT_VERSION, SYSTEM_PROMPT, AnthropicClassifier, render_turn,
                                      structural_label)
from miner.classify.base import INTERRUPT, LABELS, Turn
from miner.llm import BATCH_DISCOUNT, CHARS_PER_TOKEN, CostLimitExceeded, LLMError, price_of

PLANTED = ("sk-ant-api03-Zx9fQ2mB7nR4tY1uW8eK3pL6vC0dH5jS2gA9bN4xM7qT1rE8yU3iO6pZ5wV2cX0", "jane.doe@example.com",
           "/home/jdoe", "jdoe")


def classifier(con, **opts):
    opts = {"yes": True, "poll_interval": 0.01, "max_retries": 2, **opts}
    return AnthropicClassifier(con, **opts)


def expected(turn: Turn) -> str:
    if turn.kind == "interrupt" or (turn.kind == "tool_rejection" and not turn.text.strip()):
        return INTERRUPT
    return label_rule(turn.text)


def asked(turns):
    return [t for t in turns if structural_label(t) is None]


def test_labels_come_back_for_the_right_turns_and_are_cached(con, fake_api, example_turns):
    turns = example_turns
    assert len(turns) == 86 and sum(t.kind == "interrupt" for t in turns) == 1
    clf = classifier(con)
    labels = clf.label(turns)

    assert [lab.label for lab in labels] == [expected(t) for t in turns]
    assert all(lab.label in LABELS for lab in labels)
    interrupt = labels[[t.kind for t in turns].index("interrupt")]
    assert interrupt.confidence == 1.0 and "structural" in interrupt.reasons[0]
    sent = fake_api.count("POST", "/v1/messages")
    assert sent == len(asked(turns)) == 85  # one call per non-structural turn, none for the interrupt
    assert clf.last_plan.to_send == 85 and clf.last_plan.cached == 0
    assert con.execute("SELECT count(*) FROM llm_cache").fetchone()[0] == 85
    assert clf.llm.usage.input_tokens > 0 and clf.llm.usage.output_tokens == 85 * 25
    assert clf.name == "anthropic" and clf.version == PROMPT_VERSION

    # A second run (new classifier, same vault) pays nothing: zero HTTP requests.
    before = len(fake_api.requests)
    again = classifier(con).label(turns)
    assert len(fake_api.requests) == before
    assert [lab.label for lab in again] == [lab.label for lab in labels]
    assert all("cached" in lab.reasons for lab, t in zip(again, turns) if t.kind != "interrupt")


def test_cached_answers_need_no_key(con, fake_api, example_turns, monkeypatch):
    classifier(con).label(example_turns)
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")  # would fail if anything were sent
    labels = classifier(con).label(example_turns)
    assert [lab.label for lab in labels] == [expected(t) for t in example_turns]


def test_batch_run(con, fake_api, example_turns):
    clf = classifier(con, batch=True)
    labels = clf.label(example_turns)
    assert [lab.label for lab in labels] == [expected(t) for t in example_turns]
    assert fake_api.count("POST", "/v1/messages/batches") == 1
    assert fake_api.count("POST", "/v1/messages") == 0
    batch_id = "msgbatch_0001"
    assert fake_api.count("GET", f"/v1/messages/batches/{batch_id}") == 2  # in progress, then ended
    assert fake_api.count("GET", f"/v1/messages/batches/{batch_id}/results") == 1
    body = json.loads(next(b for m, p, b in fake_api.requests if p == "/v1/messages/batches"))
    assert len(body["requests"]) == 85 and all(len(r["custom_id"]) <= 64 for r in body["requests"])
    assert clf.last_plan.batch
    # answers cached, the pending-batch marker gone; a plain re-run sends nothing
    keys = [k for (k,) in con.execute("SELECT cache_key FROM llm_cache").fetchall()]
    assert len(keys) == 85 and not any(k.startswith("batch:") for k in keys)
    before = len(fake_api.requests)
    classifier(con).label(example_turns)
    assert len(fake_api.requests) == before


def test_batch_malformed_answers_are_retried_one_by_one(con, fake_api, example_turns):
    fake_api.batch_malformed = {"thanks"}
    n_thanks = sum(t.text == "thanks" for t in example_turns)
    assert n_thanks == 7
    labels = classifier(con, batch=True).label(example_turns)
    assert [lab.label for lab in labels] == [expected(t) for t in example_turns]
    assert fake_api.count("POST", "/v1/messages") == n_thanks


def test_an_interrupted_batch_is_resumed_not_paid_twice(con, fake_api, example_turns):
    fake_api.polls_before_end = 10**6  # never ends while the first run polls

    def give_up(msg):
        if "processing" in msg:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        classifier(con, batch=True, progress=give_up).label(example_turns)
    fake_api.polls_before_end = 0
    labels = classifier(con, batch=True).label(example_turns)
    assert [lab.label for lab in labels] == [expected(t) for t in example_turns]
    assert fake_api.count("POST", "/v1/messages/batches") == 1


def one_turn(text="no, that is wrong: use the v2 client", **kw) -> Turn:
    return Turn("m1", "s1", "human_prompt", text, 1, prev_assistant="I used the v1 client.", **kw)


@pytest.mark.parametrize("status", [429, 500, 529])
def test_rate_limit_and_server_errors_are_retried(con, fake_api, status):
    fake_api.script.extend([status, "ok"])
    [lab] = classifier(con).label([one_turn()])
    assert lab.label == "reattempt_with_feedback" and lab.confidence == 0.9
    assert fake_api.count("POST", "/v1/messages") == 2


def test_persistent_api_errors_fail_the_message_not_the_run(con, fake_api):
    fake_api.script.extend([429, 429, 429])  # max_retries=2: three attempts, all refused
    clf = classifier(con, concurrency=1)
    labels = clf.label([one_turn(), one_turn("thanks", prev_human="x")])
    assert labels[0].confidence == 0.0 and "API error 429" in labels[0].reasons[0]
    assert labels[1].label == "positive_feedback"
    assert [m for m, _ in clf.failed] == ["m1"]


def test_malformed_answer_is_retried_once(con, fake_api):
    fake_api.script.extend(["malformed", "ok"])
    [lab] = classifier(con).label([one_turn()])
    assert lab.label == "reattempt_with_feedback"
    assert fake_api.count("POST", "/v1/messages") == 2


def test_fenced_json_answer_is_accepted(con, fake_api):
    fake_api.script.append("fence")
    [lab] = classifier(con).label([one_turn()])
    assert lab.label == "reattempt_with_feedback"


def test_twice_malformed_is_a_recorded_failure_and_not_cached(con, fake_api):
    fake_api.script.extend(["malformed", "malformed"])
    turns = [one_turn(), Turn("m2", "s1", "human_prompt", "continue", 2, prev_assistant="Stopped.")]
    clf = classifier(con, concurrency=1)
    labels = clf.label(turns)  # no exception
    assert labels[0].confidence == 0.0 and "malformed answer (after retry" in labels[0].reasons[0]
    assert labels[1].label == "reattempt_without_feedback"
    assert clf.failed and clf.failed[0][0] == "m1"
    assert clf.llm.usage.failed == 1
    assert con.execute("SELECT count(*) FROM llm_cache").fetchone()[0] == 1
    # the next run asks again for the failed turn only
    before = fake_api.count("POST", "/v1/messages")
    labels = classifier(con).label(turns)
    assert fake_api.count("POST", "/v1/messages") == before + 1
    assert labels[0].label == "reattempt_with_feedback"


def test_structural_turns_cost_nothing(con, fake_api):
    turns = [Turn("i", "s", "interrupt", "[Request interrupted by user]", 1),
             Turn("r", "s", "tool_rejection", "  ", 2)]
    labels = AnthropicClassifier(con).label(turns)  # no yes needed: nothing to pay
    assert [(lab.label, lab.confidence) for lab in labels] == [(INTERRUPT, 1.0)] * 2
    assert fake_api.requests == []


def test_no_key_is_a_clear_error(con, fake_api, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(LLMError, match="ANTHROPIC_API_KEY"):
        classifier(con).label([one_turn()])
    assert fake_api.requests == []


def test_server_down_is_a_clear_error(con, monkeypatch):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-dummy")
    with pytest.raises(LLMError, match="cannot reach the Anthropic API"):
        classifier(con, max_retries=0).label([one_turn()])
    with pytest.raises(LLMError, match="cannot reach the Anthropic API"):
        classifier(con, max_retries=0, batch=True).label([one_turn()])


@pytest.mark.parametrize("batch", [False, True])
def test_no_planted_secret_reaches_the_server(con, fake_api, example_turns, batch):
    secret_turn = Turn(
        "s9", "s9", "human_prompt",
        "still failing. token ghp_aB3dE6fG9hJ2kL5mN8pQ1rS4tU7vW0xY3zA6 and AKIAIOSFODNN7EXAMPLE, "
        "write to bob.smith@corp.example.org", 3,
        prev_assistant="Set it in /Users/jdoe/app/.env:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA\n"
                       "-----END OPENSSH PRIVATE KEY-----\nthen curl -H 'Authorization: Bearer abcDEF123456ghiJKL789'",
        context=[("user", "my home is C:\\Users\\jdoe\\proj and the db is postgres://app:hunter22@db:5432/x")])
    classifier(con, batch=batch).label([*example_turns, secret_turn])
    sent = fake_api.bodies()
    params = [json.loads(b) for m, p, b in fake_api.requests if b]
    if batch:
        params = [r["params"] for p in params for r in p["requests"]]
    assert len(params) == 86  # the example turns but the interrupt, and the secret one
    decoded = "\n".join(p["system"] + p["messages"][0]["content"] for p in params)
    assert "[REDACTED:anthropic_key]" in decoded and "[EMAIL]" in decoded and "~/code/data-pipeline" in decoded
    for text in (sent, decoded):
        for planted in (*PLANTED, "ghp_aB3dE6", "AKIAIOSFODNN7EXAMPLE", "bob.smith", "BEGIN OPENSSH PRIVATE KEY",
                        "b3BlbnNzaC1rZXktdjEAAAA", "abcDEF123456ghiJKL789", "hunter22"):
            assert planted not in text, planted


def test_plan_estimates_tokens_and_dollars(con, example_turns):
    clf = classifier(con)
    plan = clf.plan(example_turns)
    assert (plan.requests, plan.cached, plan.to_send) == (85, 0, 85)
    rendered = [render_turn(t) for t in example_turns if t.kind != "interrupt"]
    chars = sum(len(clf.llm.redactor.redact(r)) for r in rendered)
    assert abs(plan.input_tokens - (chars + 85 * len(SYSTEM_PROMPT)) / CHARS_PER_TOKEN) < 85 * 15
    pin, pout, known = price_of("claude-haiku-4-5")
    assert known and plan.cost_usd == pytest.approx((plan.input_tokens * pin + plan.output_tokens * pout) / 1e6,
                                                    rel=1e-4)
    batch_plan = classifier(con, batch=True).plan(example_turns)
    assert batch_plan.cost_usd == pytest.approx(plan.cost_usd * BATCH_DISCOUNT, rel=1e-4)
    assert "85 to send" in plan.describe() and "$" in plan.describe()
    assert json.loads(json.dumps(plan.as_dict()))["to_send"] == 85


def test_max_cost_refuses_before_sending(con, fake_api, example_turns):
    with pytest.raises(CostLimitExceeded, match="max-cost"):
        classifier(con, max_cost=0.0001).label(example_turns)
    assert fake_api.requests == []


def test_spending_needs_confirmation(con, fake_api, example_turns):
    with pytest.raises(LLMError, match="--yes"):
        AnthropicClassifier(con).label(example_turns)
    seen = []
    with pytest.raises(LLMError, match="not confirmed"):
        AnthropicClassifier(con, confirm=lambda plan: seen.append(plan) or False).label(example_turns)
    assert fake_api.requests == [] and seen[0].to_send == 85
    labels = AnthropicClassifier(con, confirm=lambda plan: True).label(example_turns)
    assert [lab.label for lab in labels] == [expected(t) for t in example_turns]


def test_unknown_model_is_priced_conservatively():
    assert price_of("claude-haiku-4-5-20251001")[:2] == price_of("claude-haiku-4-5")[:2]
    pin, pout, known = price_of("some-future-model")
    assert not known and pin >= 15.0


def test_spending_stops_at_max_cost_and_keeps_what_was_paid_for(con, fake_api):
    fake_api.input_tokens = 1_000_000  # each answer really costs $1 on claude-haiku-4-5
    turns = [Turn(f"m{i}", "s", "human_prompt", f"task number {i}", i, prev_assistant="ok") for i in range(6)]
    clf = classifier(con, max_cost=1.5, concurrency=1)
    labels = clf.label(turns)
    answered = [lab for lab in labels if lab.confidence > 0]
    assert len(answered) == 2  # the 2nd answer crosses $1.5; one call in flight at a time
    assert all("max-cost" in lab.reasons[0] for lab in labels[len(answered):])
    assert fake_api.count("POST", "/v1/messages") == len(answered)
    assert con.execute("SELECT count(*) FROM llm_cache").fetchone()[0] == len(answered)  # nothing paid is lost
    assert clf.llm.usage.cost_usd == pytest.approx(len(answered) * (1.0 + 25 * 5 / 1e6))


def test_complete_json_for_other_callers(con, fake_api):
    """The entry point for pair rewrites and personas: any pydantic schema, cached, redacted."""
    import pydantic

    from miner.llm import LLM

    class Verdict(pydantic.BaseModel):
        label: str
        reason: str

    llm = LLM(con, prompt_version="test-v1")
    user = "Message to label (x):\nthanks, mail me at jane.doe@example.com"
    first = llm.complete_json("Judge the message.", user, Verdict)
    again = LLM(con, prompt_version="test-v1").complete_json("Judge the message.", user, Verdict)
    assert first == again == Verdict(label="positive_feedback", reason="fake rule")
    assert fake_api.count("POST", "/v1/messages") == 1
    assert "jane.doe" not in fake_api.bodies()
    fake_api.script.extend(["malformed", "malformed"])
    with pytest.raises(LLMError, match="no valid answer"):
        llm.complete_json("Judge the message.", "Message to label (x):\nagain", Verdict)


def test_rejections_without_a_typed_reason_are_structural(con, corpus_vault):
    """Real rejection records of ../shared/corpora: the tool's marker text alone is not a typed reason."""
    from miner.classify.anthropic import structural_label, typed_text
    from vault.store import open_vault

    c = open_vault(corpus_vault, read_only=True)
    rows = c.execute("SELECT msg_id, text, is_human FROM messages WHERE kind = 'tool_rejection'").fetchall()
    c.close()
    assert len(rows) > 20
    for msg_id, text, is_human in rows:
        turn = Turn(msg_id, "s", "tool_rejection", text or "", 1)
        lab = structural_label(turn)
        # the parser marks a rejection human exactly when it carries a typed reason
        assert (lab is None) == bool(is_human), text[:200]
        if lab is None:
            assert typed_text(turn) and "doesn't want to proceed" not in typed_text(turn)
    typed = Turn("r", "s", "tool_rejection", "don't edit an applied migration, add a new one", 1)
    assert structural_label(typed) is None and typed_text(typed) == typed.text


def test_confirmation_is_asked_once_and_max_cost_spans_calls(con, fake_api, example_turns):
    asked_plans = []
    clf = AnthropicClassifier(con, confirm=lambda plan: asked_plans.append(plan) or True, poll_interval=0.01)
    clf.label(example_turns[:10])
    clf.label(example_turns[10:])
    assert len(asked_plans) == 1
    fake_api.input_tokens = 1_000_000  # $1 an answer from now on
    clf = classifier(con, max_cost=1.02, concurrency=1)  # the first answer costs $1, then ~$0.04 estimated
    clf.label([Turn("n1", "s", "human_prompt", "a new task", 1, prev_assistant="done")])
    with pytest.raises(CostLimitExceeded, match="already spent"):
        clf.label([Turn(f"n{i}", "s", "human_prompt", f"task {i}", 1, prev_assistant="done") for i in range(2, 200)])


def test_report_for_the_mine_command(con, fake_api):
    fake_api.script.extend(["malformed", "malformed"])
    clf = classifier(con, concurrency=1)
    clf.label([one_turn(), one_turn("thanks", prev_human="y")])
    rep = clf.report()
    json.dumps(rep)  # serialisable for --json
    assert rep["plan"]["to_send"] == 2 and rep["usage"]["sent"] == 2 and rep["usage"]["failed"] == 1
    assert rep["failed"][0]["msg_id"] == "m1" and rep["usage"]["cost_usd"] > 0
