"""The dates and times people type for `--since`/`--until` (and the TUI's `since:`/`until:` filters).

Vault timestamps are UTC without a zone. An ISO date or time is read as UTC, like the stored values
(an explicit offset, `...+02:00`, is converted); the words `today` and `yesterday` mean the local
calendar day, converted to UTC; durations (`7d`, `3 days ago`) count back from now.
As an upper bound (`end=True`) a day names its last moment: `--until 2026-01-31` includes that day.
"""

from __future__ import annotations

import datetime as _dt
import re

from vault.errors import VaultError

ACCEPTED = ("a date (2026-01-31), a date and time (2026-01-31T14:30), today, yesterday, "
            "a duration (30m, 12h, 7d, 2w) or '3 days ago'")

_UNITS = {"m": "minutes", "min": "minutes", "mins": "minutes", "minute": "minutes", "minutes": "minutes",
          "h": "hours", "hr": "hours", "hrs": "hours", "hour": "hours", "hours": "hours",
          "d": "days", "day": "days", "days": "days", "w": "weeks", "week": "weeks", "weeks": "weeks"}
_DURATION = re.compile(r"(\d+)\s*([a-z]+)(?:\s+ago)?")


class BadTimeError(VaultError):
    """A `--since`/`--until` value that is not a date, a time or a duration."""


def parse_when(text: str, *, end: bool = False, now: _dt.datetime | None = None) -> _dt.datetime:
    """A naive UTC datetime for `text`; raises BadTimeError naming the accepted forms."""
    now = now or _dt.datetime.now(_dt.UTC)
    s = " ".join(str(text).strip().lower().split())
    if s in ("today", "yesterday"):
        local = now.astimezone()
        day = local.date() - _dt.timedelta(days=s == "yesterday")
        return _utc(_day_bound(day, end, local.tzinfo))
    if s == "now":
        return _utc(now)
    m = _DURATION.fullmatch(s)
    if m and m.group(2) in _UNITS:
        return _utc(now - _dt.timedelta(**{_UNITS[m.group(2)]: int(m.group(1))}))
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
            return _day_bound(_dt.date.fromisoformat(s), end, None)
        return _utc(_dt.datetime.fromisoformat(s.upper().replace(" ", "T")))
    except ValueError:
        pass
    raise BadTimeError(f"cannot read {text!r} as a date or time; use {ACCEPTED}")


def iso_when(text: str | None, *, end: bool = False) -> str | None:
    """parse_when as an ISO string (what SQL filters take), None kept."""
    return None if text is None or text == "" else parse_when(text, end=end).isoformat(sep=" ")


def _day_bound(day: _dt.date, end: bool, tz) -> _dt.datetime:
    start = _dt.datetime.combine(day, _dt.time(), tz)
    return start + _dt.timedelta(days=1, microseconds=-1) if end else start


def _utc(t: _dt.datetime) -> _dt.datetime:
    return t if t.tzinfo is None else t.astimezone(_dt.UTC).replace(tzinfo=None)
