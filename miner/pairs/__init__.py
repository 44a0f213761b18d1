"""Preference pairs from the mined corrections (RLHI "User-Guided Rewrites", offline variant).

For each `reattempt_with_feedback` turn (effective label: a review relabel wins):
- `rejected` = the assistant answer the person reacted to: its text plus its tool calls as what they
  did (the command, the file and a bounded diff; `render_answer`), within a budget;
- `prompt` = the conversation up to and including the request that answer answered, as
  [{role, content}], oldest messages dropped first to fit `prompt_chars`;
- `chosen` (method `next_attempt`) = the assistant's answer after the feedback, used only when
  the person then moved on: the next human turn is positive feedback, a new request, or the
  session ends. A chosen that is corrected again is superseded: a chain of corrections yields
  one pair, from the last rejected attempt to the accepted one.
Interrupts and retries without feedback ("continue") are see-through: an answer interrupted and
then continued counts as one answer (and the chosen one fails `chosen_corrected_later`).

Only main-branch, non-sidechain messages are used: subagent work is reached through the parent's
Task call line, abandoned forks are left out. ChatGPT sibling branches give further pairs
(methods `regeneration`, `edit`, `thumbs`; see `branch_candidates`). Opt-in and paid: `rewrite`,
the rejected answer rewritten by Claude to follow the feedback and the role's persona, as in the
paper (`rewrite_candidates`).

The modules: `segments` (a session read as turns and the answers after them), `prompt` (a pair's prompt and
answers as text), one per method (`next_attempt`, `branches`, `rewrite`), `rows` (a pair's id and stored row),
`build` (`collect_candidates`, `build_pairs`: the methods, the filters of miner.filters, the table).
"""

from __future__ import annotations

from miner.pairs.branches import branch_candidates
from miner.pairs.build import METHODS, PAID_METHODS, build_pairs, collect_candidates
from miner.pairs.next_attempt import corrections, next_attempt_candidates, rejected_side
from miner.pairs.prompt import PROMPT_CHARS, build_prompt, has_text, prose_head, render_answer
from miner.pairs.rewrite import REWRITE_MIN_TOKENS, REWRITE_PROMPT_VERSION, rewrite_candidates, rewrite_tokens
from miner.pairs.rows import candidate_row, pair_id
from miner.pairs.segments import Part, Segment, load_segments

__all__ = [
    "METHODS", "PAID_METHODS", "PROMPT_CHARS", "REWRITE_MIN_TOKENS", "REWRITE_PROMPT_VERSION", "Part", "Segment",
    "branch_candidates", "build_pairs", "build_prompt", "candidate_row", "collect_candidates", "corrections",
    "has_text", "load_segments", "next_attempt_candidates", "pair_id", "prose_head", "rejected_side",
    "render_answer", "rewrite_candidates", "rewrite_tokens",
]
