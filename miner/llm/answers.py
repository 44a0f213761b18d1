"""What is sent and what comes back: a `Request` (redacted, keyed for the cache), its `Result`, and the validated
answer read out of a model's text (`parse_answer`). pydantic is imported only when an answer is validated."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pydantic


@dataclass(slots=True)
class Request:
    key: str  # cache key: sha256(model, prompt version, redacted payload)
    system: str  # redacted
    user: str  # redacted
    max_tokens: int | None = None  # this request's output bound, below the client's (a rewrite: about its answer's)


@dataclass(slots=True)
class Result:
    value: pydantic.BaseModel | None  # the validated answer, None on failure
    cached: bool = False
    error: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0


_FENCE_RE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def parse_answer(text: str, schema: type[pydantic.BaseModel]) -> pydantic.BaseModel:
    """The JSON object in a model's answer (bare, or in a ```json fence), validated; else, for a schema with a
    `from_text` classmethod, what it makes of the plain text (small local models rarely follow a JSON
    instruction); ValueError otherwise."""
    try:
        return _parse_json(text, schema)
    except ValueError:
        from_text = getattr(schema, "from_text", None)
        if from_text is None:
            raise
        return from_text(text)  # raises ValueError when the text holds nothing usable


def _parse_json(text: str, schema: type[pydantic.BaseModel]) -> pydantic.BaseModel:
    import pydantic

    m = _FENCE_RE.search(text)
    body = m.group(1) if m else text
    start, end = body.find("{"), body.rfind("}")
    if start < 0 or end <= start:
        raise ValueError(f"no JSON object in {text[:80]!r}")
    try:
        return schema.model_validate_json(body[start:end + 1])
    except pydantic.ValidationError as e:
        raise ValueError(f"invalid answer: {e.errors()[0].get('msg', e)} in {text[:80]!r}") from e
