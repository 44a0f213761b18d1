"""The answer schema of an LLM persona (pydantic: imported by miner.personas.llm_rules only when the LLM is asked):
JSON as asked, or, from a model that cannot give JSON, a list of lines."""

from __future__ import annotations

import re

import pydantic

# A rule as a plain-text line: "- Run the tests first. (1, 4)" / "2. No emojis [3]".
_RULE_LINE = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+(?P<rule>.+?)\s*"
                        r"(?:[\[(](?:corrections?:?\s*)?(?P<ids>\d+(?:\s*,\s*\d+)*)[\])])?\s*$", re.I)


class LlmRule(pydantic.BaseModel):
    rule: str
    corrections: list[int] = []


class RulesAnswer(pydantic.BaseModel):
    """The rules of a role: JSON as asked, or, from a model that cannot give JSON, a list of lines."""

    rules: list[LlmRule]

    @classmethod
    def from_text(cls, text: str) -> RulesAnswer:
        rules = [LlmRule(rule=m["rule"], corrections=[int(i) for i in re.findall(r"\d+", m["ids"] or "")])
                 for m in map(_RULE_LINE.match, (text or "").splitlines()) if m]
        if not rules:
            raise ValueError(f"no rule in {text[:80]!r}")
        return cls(rules=rules)
