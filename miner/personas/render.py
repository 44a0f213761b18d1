"""A persona as text: the list of rules stored with it, and the section a person drops into CLAUDE.md / AGENTS.md."""

from __future__ import annotations

from typing import Any

from miner.personas.rules import Rule

def persona_text(role: str, rules: list[Rule], backend: str = "offline") -> str:
    how = ("extractive: rules the user stated in their own corrections, quoted, not summarised"
           if backend == "offline" else "learnt from their corrections")
    lines = [f"Standing preferences of this user for {role} work ({how}):"]
    lines += [f"- {r.rule}" for r in rules]
    return "\n".join(lines)


def claude_md(persona: dict[str, Any]) -> str:
    """Rules a person can drop into CLAUDE.md / AGENTS.md (an edited persona's own text wins)."""
    lines = [f"## Preferences ({persona['role_name']})", ""]
    rules = persona["rules"] or []
    if rules and not persona.get("edited"):
        lines += [f"- {r['rule']}" for r in rules]
    elif persona.get("text"):
        lines += [ln for ln in persona["text"].splitlines() if not ln.startswith("Standing preferences of")]
    return "\n".join(lines) + "\n"
