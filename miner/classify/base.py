"""The classifier interface: human-side turns in context in, labels with confidence out.

Every backend (heuristic, anthropic, ...) implements `Classifier`; `vault mine`
builds `Turn`s from the vault, hands them to the chosen backend in batches and
stores the `Label`s it gets back in the `labels` table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol

INITIAL_REQUEST = "initial_request"
NEW_REQUEST = "new_request"
REATTEMPT_WITH_FEEDBACK = "reattempt_with_feedback"
REATTEMPT_WITHOUT_FEEDBACK = "reattempt_without_feedback"
POSITIVE_FEEDBACK = "positive_feedback"
INTERRUPT = "interrupt"

LABELS: tuple[str, ...] = (
    INITIAL_REQUEST,
    NEW_REQUEST,
    REATTEMPT_WITH_FEEDBACK,
    REATTEMPT_WITHOUT_FEEDBACK,
    POSITIVE_FEEDBACK,
    INTERRUPT,
)
# Used only in hand labels: the message must not appear as human at all.
NOT_HUMAN = "not_human"


AFTER_CHARS = 600  # the head of the assistant's next answer kept (Turn.next_assistant, data/labels' `answer_after`)


@dataclass(slots=True)
class Turn:
    """One human-side message (kind in Kind.HUMAN_SIDE) with the context a classifier needs."""

    msg_id: str
    session_id: str
    kind: str  # human_prompt | queued_prompt | tool_rejection | interrupt
    text: str  # what the person typed (for a rejection: the typed reason, may be "")
    position: int  # 0-based index among the human-side turns of its session
    prev_assistant: str | None = None  # the assistant's answer just before (text + compact tool calls)
    prev_human: str | None = None  # the previous human-side turn's text
    prev_kind: str | None = None  # the previous human-side turn's kind
    prev_typed: str | None = None  # the last text the person typed before this turn (skips interrupts)
    prev_typed_id: str | None = None  # its msg_id
    prev_assistant_error: bool = False  # a tool error / failure happened in the answer just before
    context: list[tuple[str, str]] = field(default_factory=list)  # a few (role, text) turns before, oldest first
    role_name: str | None = None
    # The assistant's next answer (look-ahead, the `after` family): the head of its visible prose, at most
    # AFTER_CHARS; "" when it said nothing before the next human turn; None when not known (the answer
    # has not arrived yet, or a label file does not say). Its tool calls, rendered as lines (`[Edit] a.py`),
    # the first turns.AFTER_CALLS; None when not known (label files hold the prose only).
    next_assistant: str | None = None
    next_calls: list[str] | None = None


@dataclass(slots=True)
class Label:
    label: str  # one of LABELS
    confidence: float  # calibrated probability that `label` is right, 0..1
    reasons: list[str] = field(default_factory=list)  # short, human-readable cues that fired


BATCH = 5000  # turns per `label` call of a free backend: each batch is stored in its own transaction


class Classifier(Protocol):
    """A labelling backend. `vault mine` calls `prepare(con, confirm)` once, then `label` on batches of
    `batch_size` turns (all at once when None), stores the labels and adds `report()` to its own report.

    Backends subclass this protocol to inherit the defaults below (a free, offline backend needs only
    `name`, `version` and `label`).
    """

    name: str  # stored in labels.backend
    version: str  # stored in labels.version; bump when the rules or the prompt change
    # May spend money or send turns off this machine: `mine` then hands it every turn in one call, so it
    # asks `confirm(plan)` once with the cost plan of the whole run, and shows no progress bar meanwhile.
    paid: ClassVar[bool] = False
    batch_size: ClassVar[int | None] = BATCH
    # Turns `label` could not really label (msg_id, error): not stored, so the next run retries them.
    failed: Sequence[tuple[str, str]] = ()
    # Seconds of the last `label` call spent embedding turns (reported apart from classifying).
    embed_seconds: float = 0.0

    def prepare(self, con, confirm: Callable[[Any], bool] | None = None) -> None:
        """Read what labelling needs from the vault `con` (stored vectors, a fitted model, the LLM cache).
        `confirm(plan)`: asked by a paid backend, with its cost plan, before it spends anything."""

    def label(self, turns: Sequence[Turn]) -> list[Label | None]:
        """One Label per Turn, in the same order."""
        ...

    def plan(self, turns: Sequence[Turn]) -> Any:
        """What labelling `turns` would send and cost (a miner.llm.Plan), without sending; None when free."""
        return None

    def report(self) -> dict[str, Any] | None:
        """Figures for `vault mine`'s report under "llm" (plan, usage, failures); None when there are none."""
        return None

    def on_new_people(self) -> dict[str, Any] | None:
        """What this backend, as it labels now, was measured to give on people no model had seen (correction
        precision and recall, how many people): `vault mine`'s report under "on_new_people"; None when unmeasured."""
        return None
