"""A WHERE clause built from parts: each condition with its own `?` parameters, joined with AND.

    f = Filter().add("s.project ILIKE ?", f"%{project}%").add_if(role, "r.role_name = ?", role)
    con.execute(f"SELECT ... FROM sessions s {f.where()}", f.params)
    con.execute(f"SELECT ... FROM t {f.also('label IS NOT NULL').where()}", f.params)

Conditions are SQL text written by the caller; values only ever travel as parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Filter:
    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, clause: str, *params: Any) -> Filter:
        """AND `clause` (with one parameter per `?` in it)."""
        if clause.count("?") != len(params):
            raise ValueError(f"{clause!r} has {clause.count('?')} placeholders for {len(params)} parameters")
        self.clauses.append(clause)
        self.params.extend(params)
        return self

    def add_if(self, value: Any, clause: str, *params: Any) -> Filter:
        """AND `clause` when `value` is set (not None, not empty): the usual optional filter."""
        return self.add(clause, *params) if value not in (None, "", [], ()) else self

    def also(self, *clauses: str) -> Filter:
        """A copy with parameterless conditions put first (their order keeps the parameters aligned)."""
        if any("?" in c for c in clauses):
            raise ValueError("also() takes conditions without parameters; use add()")
        return Filter([*clauses, *self.clauses], list(self.params))

    def where(self) -> str:
        """`WHERE a AND b`, or '' when there is no condition."""
        return "WHERE " + " AND ".join(f"({c})" for c in self.clauses) if self.clauses else ""

    def __bool__(self) -> bool:
        return bool(self.clauses)
