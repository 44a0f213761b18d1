"""Quality filters for preference pairs: each one named, counted and stored per pair.

The RLHI paper found that filtering is what makes mined pairs useful, so every filter is a
small named check with its threshold in `FilterOptions`; a pair is kept when it passes all.
Per-pair checks live in `CHECKS`; `duplicate` needs every pair at once (`mark_duplicates`).
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

@dataclass(frozen=True)
class FilterOptions:
    min_chars: int = 10  # chosen and rejected each at least this long (too_short)
    max_chars: int = 8000  # chosen and rejected each at most this long (too_long)
    near_identical: float = 0.95  # difflib ratio of chosen vs rejected above which they are the same
    compare_chars: int = 4000  # ratio computed on this prefix: difflib is quadratic


@dataclass
class Candidate:
    """A pair before storage: what the filters look at."""

    pair_id: str
    session_id: str
    role_name: str | None
    method: str
    feedback_msg_id: str | None
    rejected_msg_id: str | None
    chosen_msg_id: str | None
    prompt: list[dict]
    chosen: str
    rejected: str
    feedback: str
    chosen_has_text: bool = True
    rejected_has_text: bool = True
    chosen_interrupted: bool = False  # the person interrupted or retried the chosen answer
    failed: list[str] = field(default_factory=list)

    def texts(self) -> list[str]:
        return [m["content"] for m in self.prompt] + [self.chosen, self.rejected, self.feedback or ""]


def _differs(a: str, b: str, n: int, threshold: float) -> bool:
    """difflib ratio of the first n chars <= threshold. The cheap upper bounds decide most pairs
    (ratio <= quick_ratio <= real_quick_ratio); the quadratic ratio runs only when they cannot."""
    m = difflib.SequenceMatcher(None, a[:n], b[:n], autojunk=False)
    return m.real_quick_ratio() <= threshold or m.quick_ratio() <= threshold or m.ratio() <= threshold


def _secret_findings(texts: list[str]) -> list[Any]:
    # Secrets only: e-mails and home paths are redacted on export but do not disqualify a pair
    # (agent transcripts are full of home paths).
    r = _redactor()
    return [f for t in texts if t for f in r.secrets(t)]


_REDACTOR = None


def _redactor():
    global _REDACTOR
    if _REDACTOR is None:
        from vault.redact import Redactor

        _REDACTOR = Redactor()
    return _REDACTOR


# name -> check(candidate, options) -> True when the pair passes.
CHECKS: dict[str, Callable[[Candidate, FilterOptions], bool]] = {
    "empty": lambda c, o: bool(c.chosen.strip()) and bool(c.rejected.strip()),
    "near_identical": lambda c, o: _differs(c.chosen.strip(), c.rejected.strip(), o.compare_chars, o.near_identical),
    "too_short": lambda c, o: min(len(c.chosen.strip()), len(c.rejected.strip())) >= o.min_chars,
    "too_long": lambda c, o: max(len(c.chosen), len(c.rejected)) <= o.max_chars,
    "chosen_corrected_later": lambda c, o: not c.chosen_interrupted,
    "tool_only": lambda c, o: c.chosen_has_text and c.rejected_has_text,
    "secrets": lambda c, o: not _secret_findings(c.texts()),
}
FILTER_NAMES: tuple[str, ...] = (*CHECKS, "duplicate")


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s or "").strip().lower()


def mark_duplicates(cands: list[Candidate]) -> None:
    """The same feedback on the same rejected answer in another session (copied or resumed): keep the first."""
    first: dict[str, str] = {}  # key -> session of its first pair
    for c in cands:
        key = hashlib.sha1(f"{c.method}\0{_norm(c.feedback)}\0{_norm(c.rejected)}".encode()).hexdigest()
        if first.setdefault(key, c.session_id) != c.session_id:
            c.failed.append("duplicate")


def apply_filters(cands: list[Candidate], opts: FilterOptions | None = None) -> dict[str, int]:
    """Run every filter on every candidate (in order); returns how many pairs each one failed."""
    opts = opts or FilterOptions()
    for c in cands:
        c.failed = [name for name, check in CHECKS.items() if not check(c, opts)]
    mark_duplicates(cands)
    return {name: sum(name in c.failed for c in cands) for name in FILTER_NAMES}
