"""A persona's rule, the corrections behind it, and whether it is a standing preference (`is_standing`) rather than
a task detail; `restrict_rule` restates it from a subset of its corrections (a train split)."""

from __future__ import annotations

from dataclasses import dataclass, field

from miner.personas.rule_form import state_rule

MIN_SESSIONS = 2  # a rule must be stated in this many sessions to be a standing preference


@dataclass
class Rule:
    rule: str
    support: int  # distinct corrections behind the rule
    examples: list[str] = field(default_factory=list)  # msg_ids of those corrections
    clauses: list[str] = field(default_factory=list)  # the clauses of the cluster, most central first
    clause_msgs: list[str] = field(default_factory=list)  # the correction each clause comes from
    echo_msgs: list[str] = field(default_factory=list)  # corrections of other sessions restating it in substance
    standing_msgs: list[str] = field(default_factory=list)  # its corrections that say it stands ("again", ...)


def rule_from_dict(d: dict) -> Rule:
    return Rule(d["rule"], d.get("support", 0), list(d.get("examples") or []), list(d.get("clauses") or []),
                list(d.get("clause_msgs") or []), list(d.get("echo_msgs") or []), list(d.get("standing_msgs") or []))


def is_standing(rule_msgs: list[str], echo_msgs: list[str], standing_msgs: list[str], session_of: dict[str, str],
                min_sessions: int = MIN_SESSIONS) -> bool:
    """A standing preference: stated (or restated in substance) in `min_sessions` sessions, or in a correction
    that says it stands."""
    return (len({session_of.get(m, m) for m in [*rule_msgs, *echo_msgs]}) >= min_sessions
            or bool(set(standing_msgs) & set(rule_msgs)))


def restrict_rule(rule: Rule, allowed_msgs: set[str], session_of: dict[str, str],
                  min_sessions: int = MIN_SESSIONS) -> Rule | None:
    """The rule as the corrections in `allowed_msgs` alone state it (a train split), or None.

    An extractive rule (with clause_msgs) is restated from its most central allowed clause and kept when
    the allowed corrections span `min_sessions` sessions; a rule without them (an LLM's) is kept only when
    every correction behind it is allowed.
    """
    if not rule.clause_msgs:
        return rule if set(rule.examples) <= allowed_msgs else None
    kept = [(c, m) for c, m in zip(rule.clauses, rule.clause_msgs) if m in allowed_msgs]
    msgs = list(dict.fromkeys(m for _, m in kept))
    echoes = [m for m in rule.echo_msgs if m in allowed_msgs]
    standing = [m for m in rule.standing_msgs if m in allowed_msgs]
    if not kept or not is_standing(msgs, echoes, standing, session_of, min_sessions):
        return None
    return Rule(state_rule(kept[0][0]), len(msgs), msgs, [c for c, _ in kept], [m for _, m in kept], echoes,
                standing)
