"""The answer schema of a rewrite (pydantic: imported by miner.pairs.rewrite only when a rewrite is asked)."""

from __future__ import annotations

import re

import pydantic

_ANSWER_LABEL = re.compile(r"^\s*(?:\*\*)?(?:improved|rewritten|revised|new|better)? ?answer:?(?:\*\*)?:?\s*", re.I)


class RewriteAnswer(pydantic.BaseModel):
    """A rewrite: the plain text of the answer (what every model can give), or JSON {"rewrite": ...}."""

    rewrite: str

    @classmethod
    def from_text(cls, text: str) -> RewriteAnswer:
        body = _ANSWER_LABEL.sub("", text or "", count=1).strip()
        if not body:
            raise ValueError("empty answer")
        return cls(rewrite=body)
