"""What a pair shows: the conversation up to a request as a prompt ([{role, content}], oldest messages dropped
first to fit a budget) and an answer as text (its tool calls as what they did)."""

from __future__ import annotations

from miner.classify.base import AFTER_CHARS
from miner.pairs.segments import Part, Segment
from miner.render import TOOL_DETAIL_CHARS, render_tool_calls
from vault.model import Kind

PROMPT_CHARS = 6000  # default context budget of a pair's prompt


def render_answer(parts: list[Part], budget: int = TOOL_DETAIL_CHARS) -> str:
    """The answer's text and its tool calls as what they did (command, file and bounded diff) within `budget`
    characters of detail; calls past the budget keep their one-line stub."""
    rendered = iter(render_tool_calls([(p.tool, p.tool_input, p.text) for p in parts if p.tool is not None], budget))
    out = []
    for p in parts:
        text = next(rendered) if p.tool is not None else p.text.strip()
        if text.strip():
            out.append(text)
    return "\n".join(out)


def has_text(parts: list[Part]) -> bool:
    return any(p.kind == Kind.ASSISTANT_TEXT and p.text.strip() for p in parts)


def prose_head(answer: list[Part]) -> str:
    """The head of an answer's visible prose, its tool calls left out: what the miner's look-ahead reads
    (`Turn.next_assistant`, miner.classify.after.acknowledges)."""
    prose = [p.text.strip() for p in answer if p.kind == Kind.ASSISTANT_TEXT]
    return "\n".join(t for t in prose if t)[:AFTER_CHARS]


def user_content(seg: Segment) -> str:
    if seg.kind == Kind.TOOL_REJECTION:
        return f"(rejected the tool call) {seg.text}".strip()
    return seg.text


def build_prompt(segs: list[Segment], upto: int, budget: int) -> list[dict]:
    """Messages of segs[0..upto] ending with segs[upto]'s request; oldest dropped to fit `budget`."""
    msgs: list[dict] = []

    def add(role: str, content: str) -> None:
        if not content.strip():
            return
        if msgs and msgs[-1]["role"] == role:
            msgs[-1]["content"] += "\n\n" + content
        else:
            msgs.append({"role": role, "content": content})

    for i, seg in enumerate(segs[: upto + 1]):
        if seg.msg_id is not None and not seg.see_through:
            add("user", user_content(seg))
        if i < upto:
            add("assistant", render_answer(seg.answer))
    while len(msgs) > 1 and sum(len(m["content"]) for m in msgs) > budget:
        msgs.pop(0)
    while msgs and msgs[0]["role"] != "user":
        msgs.pop(0)
    return msgs
