"""(Re)build the personas of every role with corrections: each role's feedback, its rules (offline or by an LLM),
stored through miner.tables (a persona a person edited is kept)."""

from __future__ import annotations

from dataclasses import asdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import duckdb

from miner.classify.base import REATTEMPT_WITH_FEEDBACK
from miner.personas.extractive import MAX_RULES, THRESHOLD, rules_for
from miner.personas.llm_rules import llm_rules
from miner.personas.render import persona_text
from miner.tables import EFFECTIVE_LABELS, drop_mined_personas, edited_personas, session_roles, store_mined_persona
from vault.sqlstring import sql_string

if TYPE_CHECKING:
    from miner.roles import Rule

def role_feedback(con: duckdb.DuckDBPyConnection, role: str | None = None,
                  rules: Sequence[Rule] = ()) -> dict[str, list[tuple[str, str]]]:
    """role -> [(msg_id, feedback text)] of its corrections, oldest first (`rules`: as for `build_personas`)."""
    roles = session_roles(con, rules)
    rows = con.execute(f"""
        SELECT e.session_id, e.msg_id, m.text FROM {EFFECTIVE_LABELS} e JOIN messages m ON m.msg_id = e.msg_id
        WHERE e.label = {sql_string(REATTEMPT_WITH_FEEDBACK)} AND NOT m.is_sidechain AND m.is_human
        ORDER BY e.timestamp NULLS LAST, m.seq""").fetchall()
    out: dict[str, list[tuple[str, str]]] = {}
    for sid, msg_id, text in rows:
        r = roles.get(sid)
        if r is None or (role is not None and r != role):
            continue
        out.setdefault(r, []).append((msg_id, text or ""))
    return out


def build_personas(con: duckdb.DuckDBPyConnection, backend: str = "offline", role: str | None = None,
                   threshold: float = THRESHOLD, max_rules: int = MAX_RULES, model=None, llm=None,
                   confirm=None, yes: bool = False, embed_model: str | None = None,
                   rules: Sequence[Rule] = ()) -> dict[str, Any]:
    """(Re)build the personas of every role with corrections (or of `role`); edited rows are kept.

    offline: clusters with `model` (a loaded embedding model), else loads `embed_model` (the `embed.model`
    setting; None: the vault's model, else the default). `rules`: the role rules of the caller's settings
    (miner.roles.load_rules), for sessions the `roles` table lacks.

    backend "offline": clustering (above). backend "anthropic": an abstractive summary per role by
    `llm` (a miner.llm.LLM: redacted, cached); paying needs `yes` or `confirm(plan)` returning True.
    """
    if backend not in ("offline", "anthropic"):
        raise ValueError(f"unknown persona backend {backend!r}; use 'offline' or 'anthropic'")
    if backend == "anthropic" and llm is None:
        raise ValueError("the anthropic persona backend needs an LLM")
    feedback = role_feedback(con, role, rules)
    edited = edited_personas(con)
    todo = {r: fb for r, fb in feedback.items() if r not in edited}
    if backend == "anthropic":
        by_llm = llm_rules(todo, llm, max_rules, yes, confirm)  # before any write: a refusal changes nothing
    elif todo and model is None:
        from vault.index.embeddings import load_model
        from vault.index.settings import model_name

        model = load_model(model_name(con, embed_model))
    report: dict[str, Any] = {"roles": {}, "kept_edited": sorted(edited & set(feedback)), "threshold": threshold,
                              "backend": backend}
    if role is None:  # roles whose corrections are gone (relabelled, deleted) lose their mined persona
        report["removed"] = drop_mined_personas(con, keep=set(feedback))
    sessions = dict(con.execute(
        "SELECT msg_id, session_id FROM messages WHERE msg_id IN (SELECT unnest(?))",
        [[m for fb in todo.values() for m, _ in fb]]).fetchall()) if todo else {}
    for r, fb in sorted(todo.items()):
        rules = by_llm[r] if backend == "anthropic" else rules_for(fb, model, threshold, max_rules, sessions)
        text = persona_text(r, rules, backend) if rules else None
        store_mined_persona(con, r, text, [asdict(x) for x in rules], backend)
        report["roles"][r] = {"corrections": len(fb), "rules": len(rules)}
    return report
