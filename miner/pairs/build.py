"""Every candidate pair of the vault by the methods asked, through the quality filters, into the `pairs` table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import duckdb

from miner.filters import Candidate, FilterOptions, apply_filters
from miner.pairs.branches import branch_candidates
from miner.pairs.next_attempt import next_attempt_candidates
from miner.pairs.prompt import PROMPT_CHARS
from miner.pairs.rewrite import rewrite_candidates
from miner.pairs.rows import candidate_row
from miner.pairs.segments import load_segments
from miner.tables import count_corrections, replace_pairs, session_roles

if TYPE_CHECKING:
    from miner.roles import Rule

METHODS = ("next_attempt", "branches")  # offline, the default
PAID_METHODS = ("rewrite",)  # needs an LLM (the anthropic backend)


def collect_candidates(con: duckdb.DuckDBPyConnection, methods: tuple[str, ...] = METHODS,
                       prompt_chars: int = PROMPT_CHARS, keep_superseded: bool = False, rules: Sequence[Rule] = (),
                       **rewrite_opts: Any) -> tuple[list[Candidate], dict[str, int]]:
    """Every candidate pair of the vault and the skip counts. `keep_superseded` (for evaluation) also
    returns the pairs of a correction chain's earlier links, failing `chosen_corrected_later`. `rules`: the role
    rules of the caller's settings (miner.roles.load_rules), for sessions the `roles` table lacks."""
    roles = session_roles(con, rules)
    skipped = {"no_request": 0, "no_rejected_answer": 0, "superseded_by_chain": 0, "not_accepted": 0}
    cands: list[Candidate] = []
    if "next_attempt" in methods:
        for sid, segs in load_segments(con).items():
            cands += next_attempt_candidates(segs, sid, roles.get(sid), prompt_chars, skipped, keep_superseded)
    if "branches" in methods:
        cands += branch_candidates(con, roles, prompt_chars)
    if "rewrite" in methods:
        cands += rewrite_candidates(con, roles, prompt_chars, skipped=skipped, **rewrite_opts)
    return cands, skipped


def build_pairs(con: duckdb.DuckDBPyConnection, method: str | tuple[str, ...] = METHODS,
                prompt_chars: int = PROMPT_CHARS, llm=None, confirm=None, yes: bool = False,
                rules: Sequence[Rule] = (), **filter_opts: Any) -> dict[str, Any]:
    """Rebuild the `pairs` table (review rows are kept: they live in `reviews`); returns a report.

    `method`: "next_attempt", "branches" (the offline default, both) and/or "rewrite" (needs `llm`,
    a miner.llm.LLM, and `yes` or `confirm(plan)`; see `rewrite_candidates`). `rules`: as for `collect_candidates`.
    """
    methods = (method,) if isinstance(method, str) else tuple(method)
    unknown = [m for m in methods if m not in METHODS + PAID_METHODS]
    if unknown:
        raise ValueError(f"unknown pair method(s) {unknown}; known: {', '.join(METHODS + PAID_METHODS)}")
    if "rewrite" in methods and llm is None:
        raise ValueError("the rewrite method needs an LLM (miner.llm.make_llm: Anthropic or an OpenAI-compatible endpoint)")
    opts = FilterOptions(**filter_opts)
    extra = {"llm": llm, "confirm": confirm, "yes": yes} if "rewrite" in methods else {}
    cands, skipped = collect_candidates(con, methods, prompt_chars, rules=rules, **extra)
    failed = apply_filters(cands, opts)
    replace_pairs(con, [candidate_row(c) for c in cands])
    by_method: dict[str, int] = {}
    for c in cands:
        by_method[c.method] = by_method.get(c.method, 0) + 1
    return {"corrections": count_corrections(con), "pairs": len(cands), "kept": sum(not c.failed for c in cands),
            "by_method": by_method, "filters_failed": failed, "skipped": skipped,
            "options": {"prompt_chars": prompt_chars, **opts.__dict__}}
