"""The `anthropic` classifier backend: an LLM labels each human turn in its context (opt-in, paid).

Structural turns cost nothing: an interrupt, or a tool rejection without a typed reason, is an
interrupt with confidence 1.0. Every other turn is sent once (redacted) through miner.llm, which
caches the answer, so re-running `vault mine --backend anthropic` pays only for new turns.
"""

from __future__ import annotations

from typing import Any, Callable, Literal, Sequence

import pydantic

from miner.classify.base import INTERRUPT, LABELS, NEW_REQUEST, Classifier, Label, Turn
from miner.llm import DEFAULT_MODEL, LLMClient, Plan, Request
from vault.redact import redact
from vault.sources.markers import DENIED_PREFIX, REJECT_PREFIX, REJECT_SIBLING_PREFIX, rejection_reason

PROMPT_VERSION = "anthropic-v1"  # bump when SYSTEM_PROMPT or render_turn change: it is part of the cache key

SYSTEM_PROMPT = """\
You label one message a person sent to an AI coding assistant, following the RLHI taxonomy \
(learning from real user conversations). You see the earlier turns, the assistant's last answer, \
and the message to label. Pick exactly one label:

- initial_request: the first request of the conversation (the person's first turn), or a first \
task stated from scratch with no relation to anything before.
- new_request: a new task or a follow-up that builds on a result the person accepted; also \
approvals and answers to the assistant's questions ("yes", "B", "go ahead", a requested URL or \
value), and praise followed by a new task.
- reattempt_with_feedback: the person is unhappy with the last answer and says, explicitly or \
implicitly, what to change. Includes explicit corrections; "still doesn't work"; an error or \
stack trace pasted right after the assistant claimed a fix; a question that exposes a skipped \
step ("did you run the tests?", "did you read the spec?"); overriding the approach the assistant \
proposed or took ("no, use X instead"); change requests to the artefact just delivered \
("shorter", "no emojis"); praise plus a change.
- reattempt_without_feedback: asks for another try without saying what to change: a verbatim \
or near-verbatim resend of the previous request, or "continue" / "try again" / "go on" after an \
interrupt, a rejected tool call or a failure.
- positive_feedback: purely evaluative approval with nothing else to do ("LGTM", "perfect, \
thanks", "that works").
- interrupt: the person stopped the assistant or rejected its action without typing anything \
else (interruption markers, tool-use rejections with no reason).

Judge what the message does relative to the assistant's last answer, not its tone. Text in \
[REDACTED:...], [EMAIL] or [USER] was removed for privacy.

Answer with only a JSON object, no other text:
{"label": "<one of the labels above>", "confidence": <0..1, how likely the label is right>, \
"reason": "<at most 20 words>"}"""

CONTEXT_TURNS = 4  # earlier (role, text) turns shown
CONTEXT_CHARS = 400
ASSISTANT_CHARS = 2000
MESSAGE_CHARS = 4000


class Answer(pydantic.BaseModel):
    label: Literal[LABELS]  # type: ignore[valid-type]
    confidence: float = pydantic.Field(ge=0.0, le=1.0)
    reason: str = ""


def trim(text: str | None, limit: int) -> str:
    """Head and tail of a long text: the end of an answer (its conclusion, the error) matters most."""
    text = (text or "").strip()
    if len(text) <= limit:
        return text
    text = redact(text)  # before cutting: a cut secret would no longer match its pattern
    if len(text) <= limit:
        return text
    head = limit * 2 // 5
    return f"{text[:head]}\n[... {len(text) - limit} characters cut ...]\n{text[-(limit - head):]}"


def render_turn(turn: Turn) -> str:
    """The user message for one turn: context oldest first, then the message to label."""
    parts = []
    context = list(turn.context)[-CONTEXT_TURNS:]
    if context and turn.prev_assistant and context[-1][1].strip() == turn.prev_assistant.strip():
        context = context[:-1]  # shown in full below
    if context:
        parts.append("Earlier turns (oldest first, trimmed):")
        parts += [f"[{role}] {trim(text, CONTEXT_CHARS)}" for role, text in context]
    if turn.prev_assistant:
        parts.append("\nThe assistant's last answer, just before the message:")
        parts.append(trim(turn.prev_assistant, ASSISTANT_CHARS))
    elif turn.position == 0:
        parts.append("(No earlier turns: this is the person's first message in the conversation.)")
    if turn.prev_assistant_error:
        parts.append("(A tool call failed or returned an error in that answer.)")
    kind = {"queued_prompt": "typed while the assistant was still working",
            "tool_rejection": "typed as the reason for rejecting the assistant's tool call"}.get(turn.kind)
    parts.append(f"\nMessage to label (the person's turn #{turn.position + 1}"
                 + (f", {kind}" if kind else "") + "):")
    parts.append(trim(typed_text(turn), MESSAGE_CHARS))
    return "\n".join(parts)


# Texts the tools write for a rejection (Claude Code records, console transcripts); not typed by the person.
_REJECTION_MARKERS = (REJECT_PREFIX, REJECT_SIBLING_PREFIX, DENIED_PREFIX,
                      "No (tell Claude what to do differently)", "User rejected ")


def typed_text(turn: Turn) -> str:
    """What the person typed: for a rejection still holding the tool's marker text, only the reason."""
    text = (turn.text or "").strip()
    if turn.kind == "tool_rejection" and text.startswith(_REJECTION_MARKERS):
        return (rejection_reason(text) or "").strip()
    return text


def structural_label(turn: Turn) -> Label | None:
    """Turns whose label is certain without asking anyone."""
    if turn.kind == "interrupt":
        return Label(INTERRUPT, 1.0, ["structural: interrupt"])
    if turn.kind == "tool_rejection" and not typed_text(turn):
        return Label(INTERRUPT, 1.0, ["structural: tool rejection without a reason"])
    return None


class AnthropicClassifier(Classifier):
    """Classifier protocol (miner.classify.base) backed by Claude; opt-in, needs ANTHROPIC_API_KEY.

    confirm: called with the Plan when something must be paid for and `yes` is False; return False
    to stop (LLMError). Asked once per instance: give `label` all the turns in one call so the plan
    covers the whole run. Without `confirm`, `yes=True` is required to spend anything.
    max_cost (USD): refuse when the estimate plus what this instance already spent is above it
    (CostLimitExceeded, nothing sent), and stop sending once the real spend passes it.
    `con` (the vault, for the answer cache) may also come later, through `prepare`.
    """

    name = "anthropic"
    version = PROMPT_VERSION
    paid = True  # (a local OpenAI-compatible endpoint costs nothing: its plan then needs no consent)
    batch_size = None

    def __init__(
        self,
        con=None,
        *,
        model: str = DEFAULT_MODEL,
        batch: bool = False,
        yes: bool = False,
        max_cost: float | None = None,
        confirm: Callable[[Plan], bool] | None = None,
        progress: Callable[[str], None] | None = None,
        llm_settings: Any = None,
        **llm_options: Any,  # passed to miner.llm.LLM: redactor, api_key, poll_interval, max_retries, ...
    ):
        self._llm_options = dict(model=model, batch=batch, max_cost=max_cost, progress=progress, **llm_options)
        self._llm_settings = llm_settings
        self.llm: LLMClient | None = None  # make_llm: the Anthropic client or an OpenAI-compatible one
        self.yes = yes
        self.confirm = confirm
        self.last_plan: Plan | None = None
        self.failed: list[tuple[str, str]] = []  # (msg_id, error) of turns given a fallback label
        if con is not None:
            self.prepare(con)

    def prepare(self, con, confirm: Callable[[Plan], bool] | None = None) -> None:
        from miner.llm import make_llm

        if confirm is not None:
            self.confirm = confirm
        if self.llm is None:
            # llm_settings (vault.settings.LLMSettings) may point at any OpenAI-compatible endpoint instead
            self.llm = make_llm(con, self._llm_settings, prompt_version=PROMPT_VERSION, **self._llm_options)

    def requests(self, turns: Sequence[Turn]) -> list[Request]:
        """The request (redacted, keyed for the answer cache) of each turn that is not labelled locally, in order."""
        return [self.llm.request(SYSTEM_PROMPT, render_turn(t)) for t in turns if structural_label(t) is None]

    def plan(self, turns: Sequence[Turn]) -> Plan:
        """What labelling these turns would send and cost (nothing is sent)."""
        return self.llm.plan(self.requests(turns))

    def label(self, turns: Sequence[Turn]) -> list[Label]:
        labels: list[Label | None] = [structural_label(t) for t in turns]
        asked = [i for i, lab in enumerate(labels) if lab is None]
        requests = self.requests(turns)
        plan = self.last_plan = self.llm.plan(requests)
        self.llm.consent(plan, self.yes, self.confirm)
        if plan.needs_consent:
            self.yes = True  # asked once per classifier; --max-cost still bounds every later call
        for i, res in zip(asked, self.llm.run(requests, Answer)):
            if res.value is not None:
                a: Answer = res.value  # type: ignore[assignment]
                reasons = [f"anthropic: {a.reason}"] if a.reason else []
                labels[i] = Label(a.label, float(a.confidence), reasons + (["cached"] if res.cached else []))
            else:
                # No answer: a neutral label with zero confidence, so nothing downstream trusts it.
                self.failed.append((turns[i].msg_id, res.error or "no answer"))
                labels[i] = Label(NEW_REQUEST, 0.0, [f"anthropic failed: {res.error}"])
        return labels  # type: ignore[return-value]

    def report(self) -> dict[str, Any]:
        """For `vault mine`'s report: the last plan, what was really sent and spent, the failures."""
        return {"plan": self.last_plan.as_dict() if self.last_plan else None, "usage": self.llm.usage.as_dict(),
                "failed": [{"msg_id": m, "error": e} for m, e in self.failed]}
