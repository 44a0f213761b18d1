"""The LLM persona of a role (opt-in): an abstractive summary of its corrections, as in the paper, each rule citing
the corrections behind it. The answer's schema (pydantic) is loaded only when the LLM is asked."""

from __future__ import annotations

from miner.personas.rule_form import state_rule
from miner.personas.rules import Rule

PERSONA_PROMPT_VERSION = "persona-v1"
PERSONA_SYSTEM = (
    "You read the corrections one user gave an AI assistant while working in one role. State the user's "
    "standing preferences and rules for that role as short imperative rules (\"Run the tests before saying it "
    "works.\"), most supported first, at most {max_rules}. Only rules that would apply again to future work; "
    "no one-off details. For each rule list the numbers of the corrections that support it. Reply with JSON "
    "only: {{\"rules\": [{{\"rule\": \"...\", \"corrections\": [1, 4]}}]}}.")

MAX_LLM_FEEDBACK = 200  # corrections per role sent to the model (the most recent)
FEEDBACK_CHARS = 500


def llm_rules(todo: dict[str, list[tuple[str, str]]], llm, max_rules: int, yes: bool = False,
              confirm=None) -> dict[str, list[Rule]]:
    """role -> rules, one request per role; the whole cost is shown and confirmed once."""
    from miner.llm import LLMError
    from miner.personas.rules_answer import RulesAnswer
    from vault.redact import clip  # redact, then cut

    system = PERSONA_SYSTEM.format(max_rules=max_rules)
    roles = sorted(todo)
    shown = {r: todo[r][-MAX_LLM_FEEDBACK:] for r in roles}
    reqs = [llm.request(system, f"Role: {r}\n\n" + "\n\n".join(
        f"[{i}] {clip(t, FEEDBACK_CHARS)}" for i, (_, t) in enumerate(shown[r], 1))) for r in roles]
    llm.consent(llm.plan(reqs), yes, confirm)
    out = {}
    for r, res in zip(roles, llm.run(reqs, RulesAnswer)):
        if res.value is None:
            raise LLMError(f"no valid persona for {r}: {res.error}")
        fb, rules = shown[r], []
        for x in res.value.rules[:max_rules]:
            ids = list(dict.fromkeys(fb[i - 1][0] for i in x.corrections if 1 <= i <= len(fb)))
            if ids:  # a rule no correction supports is the model's, not the person's
                rules.append(Rule(state_rule(x.rule), len(ids), ids))
        out[r] = rules
    return out
