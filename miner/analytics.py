"""Correction analytics: how often a person had to correct the assistant, per session, role and week.

Definition (defaults of the `[corrections]` settings, vault/settings.py; see `CorrectionDefinition`):
- a session's *correction rate* = its `reattempt_with_feedback` turns / its rated human turns;
- rated human turns (`denominator="typed"`) = labelled messages a person typed (`messages.is_human`:
  prompts, queued messages, tool rejections with a typed reason), the CONTRACTS.md notion of a human
  message; `denominator="human_side"` also counts interrupts and reason-less rejections;
- a session gets a rate only with at least `min_turns` (3) such turns: one correction in two turns
  says little; shorter sessions still count in the pooled role and overall rates;
- a session is *troubled* when its rate is strictly above `threshold` (0.15, as in the RLHI paper);
- labels are the effective ones: a person's relabel in review (`reviews` target='turn',
  decision='relabel') overrides the classifier's label; `not_human` removes the turn.
Unlabelled human turns (not mined yet) are left out and counted in `unlabelled_turns`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb

from miner.classify.base import (
    INITIAL_REQUEST,
    INTERRUPT,
    LABELS,
    NEW_REQUEST,
    NOT_HUMAN,
    POSITIVE_FEEDBACK,
    REATTEMPT_WITH_FEEDBACK,
    REATTEMPT_WITHOUT_FEEDBACK,
)
from miner.tables import EFFECTIVE_LABELS, unassigned_roles
from vault.settings import CorrectionSettings, Settings

_DEFAULTS = CorrectionSettings()

# RLHI paper (Jin et al. 2025), label shares of user turns in WildChat-1M, in percent.
PAPER_WILDCHAT_PERCENT = {
    INITIAL_REQUEST: 27.07,
    NEW_REQUEST: 40.40,
    REATTEMPT_WITH_FEEDBACK: 26.51,
    REATTEMPT_WITHOUT_FEEDBACK: 4.77,
    POSITIVE_FEEDBACK: 1.25,
}
DENOMINATORS = {
    "typed": "e.is_human",  # messages a person typed (CONTRACTS.md "human messages")
    "human_side": "true",  # every labelled human-side turn, interrupts included
}
BIN_COUNT = 20  # histogram bins of 5 %


@dataclass(frozen=True)
class CorrectionDefinition:
    numerator: tuple[str, ...] = tuple(_DEFAULTS.numerator)
    denominator: str = _DEFAULTS.denominator
    min_turns: int = _DEFAULTS.min_turns

    def __post_init__(self) -> None:
        if self.denominator not in DENOMINATORS:
            raise ValueError(f"denominator must be one of {', '.join(DENOMINATORS)}, not {self.denominator!r}")
        bad = [x for x in self.numerator if x not in LABELS]
        if bad or not self.numerator:
            raise ValueError(f"numerator labels must be among {', '.join(LABELS)}; got {list(self.numerator)}")
        if self.min_turns < 1:
            raise ValueError("min_turns must be at least 1")

    def describe(self) -> str:
        turns = ("labelled messages a person typed" if self.denominator == "typed"
                 else "labelled human-side turns (interrupts included)")
        return (f"{' + '.join(self.numerator)} / {turns}; "
                f"sessions with fewer than {self.min_turns} such turns are not rated")


def as_definition(definition: CorrectionDefinition | dict | None) -> CorrectionDefinition:
    """A definition from None (defaults), a dict (e.g. a config section or JSON) or itself."""
    if isinstance(definition, CorrectionDefinition):
        return definition
    opts = dict(definition or {})
    if isinstance(opts.get("numerator"), (list, str)):
        n = opts["numerator"]
        opts["numerator"] = (n,) if isinstance(n, str) else tuple(n)
    return CorrectionDefinition(**opts)


def correction_definition(settings: Settings) -> CorrectionDefinition:
    """The definition of the settings' `[corrections]`; a label the miner does not know names its origin."""
    c = settings.corrections
    try:
        return CorrectionDefinition(numerator=tuple(c.numerator), denominator=c.denominator, min_turns=c.min_turns)
    except ValueError as e:
        raise settings.error("corrections.numerator", str(e)) from None


def configured_report(con: duckdb.DuckDBPyConnection, settings: Settings, role: str | None = None) -> dict[str, Any]:
    """The correction report under the `[corrections]` and `[[roles]]` settings: what `vault stats
    --corrections` and the TUI both show."""
    from miner.roles import load_rules

    return corrections_report(con, threshold=settings.corrections.threshold, role=role,
                              definition=correction_definition(settings), rules=load_rules(settings))


@dataclass
class _Agg:
    turns: int = 0
    corrections: int = 0
    rates: list[float] = field(default_factory=list)
    sessions: int = 0
    troubled: int = 0


def _roles_source(con: duckdb.DuckDBPyConnection, rules=None) -> str:
    """The roles table, completed on the fly (default rules + `rules`, else the config's) for sessions it lacks."""
    live = unassigned_roles(con, rules)
    if not live:
        return "roles"
    import pyarrow as pa

    con.register("_live_roles", pa.table({"session_id": list(live), "role_name": list(live.values())}))
    return "(SELECT session_id, role_name FROM roles UNION ALL SELECT session_id, role_name FROM _live_roles)"


def _turns_cte(roles_src: str, d: CorrectionDefinition) -> str:
    num = ", ".join(f"'{x}'" for x in d.numerator)
    return f"""
    WITH t AS (
        SELECT e.*, r.role_name AS role, s.project, s.source, s.started_at,
               strftime(coalesce(e.timestamp, s.started_at), '%G-W%V') AS week,
               {DENOMINATORS[d.denominator]} AS counted,
               e.label IN ({num}) AS is_correction
        FROM {EFFECTIVE_LABELS} e JOIN sessions s USING (session_id)
        LEFT JOIN {roles_src} r USING (session_id)
        WHERE e.label IS DISTINCT FROM '{NOT_HUMAN}'
    )
    """


def _rate(c: int, n: int) -> float | None:
    return round(c / n, 6) if n else None


def corrections_report(
    con: duckdb.DuckDBPyConnection,
    threshold: float = _DEFAULTS.threshold,
    role: str | None = None,
    definition: CorrectionDefinition | dict | None = None,
    rules=None,
) -> dict[str, Any]:
    """The correction report (JSON-able); see the module docstring for the definition.

    `rules`: role rules for sessions `vault mine` has not given a role yet (default: the config's).
    """
    d = as_definition(definition)
    # The labelled turns with their role and week, materialised once for the queries below
    # (a TEMP table works on a read-only connection too).
    con.execute("CREATE OR REPLACE TEMP TABLE _correction_turns AS " + _turns_cte(_roles_source(con, rules), d)
                + "SELECT * FROM t")
    try:
        return _report(con, d, threshold, role)
    finally:
        con.execute("DROP TABLE IF EXISTS _correction_turns")
        with contextlib.suppress(Exception):
            con.unregister("_live_roles")


def _report(con: duckdb.DuckDBPyConnection, d: CorrectionDefinition, threshold: float,
            role: str | None) -> dict[str, Any]:
    cte = "WITH t AS (SELECT * FROM _correction_turns) "
    where, args = ("WHERE role = ?", [role]) if role is not None else ("", [])
    known_roles = [r[0] for r in con.execute(
        cte + "SELECT DISTINCT role FROM t WHERE label IS NOT NULL AND role IS NOT NULL ORDER BY 1").fetchall()]

    coverage = con.execute(cte + f"""
        SELECT count(*) FILTER (WHERE label IS NOT NULL), count(*) FILTER (WHERE label IS NULL),
               count(*) FILTER (WHERE relabelled)
        FROM t {where}""", args).fetchone()
    session_rows = con.execute(cte + f"""
        SELECT session_id, any_value(role), any_value(project), any_value(source), any_value(started_at),
               count(*) FILTER (WHERE counted) AS turns,
               count(*) FILTER (WHERE counted AND is_correction) AS corrections
        FROM t WHERE label IS NOT NULL {where.replace('WHERE', 'AND')}
        GROUP BY session_id HAVING count(*) FILTER (WHERE counted) > 0
        ORDER BY any_value(started_at) NULLS LAST, session_id""", args).fetchall()
    weekly_rows = con.execute(cte + f"""
        SELECT role, week, count(DISTINCT session_id), count(*), count(*) FILTER (WHERE is_correction)
        FROM t WHERE label IS NOT NULL AND counted {where.replace('WHERE', 'AND')}
        GROUP BY role, week ORDER BY role, week NULLS LAST""", args).fetchall()
    label_rows = con.execute(cte + f"""
        SELECT label, count(*) FROM t WHERE label IS NOT NULL {where.replace('WHERE', 'AND')}
        GROUP BY label""", args).fetchall()

    sessions, by_role = [], {}
    overall, hist = _Agg(), [0] * BIN_COUNT
    for sid, rname, project, source, started, turns, corr in session_rows:
        rated = turns >= d.min_turns
        rate = _rate(corr, turns) if rated else None
        troubled = bool(rated and corr / turns > threshold)
        sessions.append({
            "session_id": sid, "role": rname, "project": project, "source": source,
            "started_at": started.isoformat() if started else None,
            "human_turns": turns, "corrections": corr, "rate": rate, "rated": rated, "troubled": troubled,
        })
        for agg in (overall, by_role.setdefault(rname, _Agg())):
            agg.sessions += 1
            agg.turns += turns
            agg.corrections += corr
            if rated:
                agg.rates.append(corr / turns)
                agg.troubled += troubled
        if rated:
            hist[min(BIN_COUNT - 1, BIN_COUNT * corr // turns)] += 1  # integer maths: 15 % lands in 15-20 %

    counts = {lab: 0 for lab in LABELS}
    counts.update(dict(label_rows))
    five = sum(counts[k] for k in PAPER_WILDCHAT_PERCENT)
    return {
        "definition": {**asdict(d), "numerator": list(d.numerator), "threshold": threshold,
                       "text": d.describe()},
        "role_filter": role,
        "roles_known": known_roles,
        "labelled_turns": coverage[0],
        "unlabelled_turns": coverage[1],
        "relabelled_turns": coverage[2],
        "overall": _summary(overall),
        "sessions": sessions,
        "histogram": [{"lo": round(i / BIN_COUNT, 2), "hi": round((i + 1) / BIN_COUNT, 2), "sessions": n}
                      for i, n in enumerate(hist)],
        "troubled": sorted((s for s in sessions if s["troubled"]), key=lambda s: (-s["rate"], s["session_id"])),
        "roles": [{"role": k, **_summary(v)} for k, v in sorted(by_role.items(), key=lambda kv: (-kv[1].turns,
                                                                                                  str(kv[0])))],
        "weekly": [{"role": r, "week": w, "sessions": ns, "turns": n, "corrections": c, "rate": _rate(c, n)}
                   for r, w, ns, n, c in weekly_rows],
        "label_distribution": {
            "counts": counts,
            "percent": {k: round(100 * counts[k] / five, 2) if five else None for k in PAPER_WILDCHAT_PERCENT},
            "paper_wildchat_percent": PAPER_WILDCHAT_PERCENT,
            "note": "percent over the five paper labels (interrupts, which WildChat lacks, left out)",
        },
    }


def _summary(a: _Agg) -> dict[str, Any]:
    rated = len(a.rates)
    return {
        "sessions": a.sessions,
        "rated_sessions": rated,
        "turns": a.turns,
        "corrections": a.corrections,
        "rate": _rate(a.corrections, a.turns),
        "mean_session_rate": round(statistics.fmean(a.rates), 6) if rated else None,
        "median_session_rate": round(statistics.median(a.rates), 6) if rated else None,
        "troubled": a.troubled,
        "troubled_share": _rate(a.troubled, rated),
    }


# ---------------------------------------------------------------- terminal rendering

_BLOCKS = " ▏▎▍▌▋▊▉█"
_SPARK = "▁▂▃▄▅▆▇█"


def _bar(value: float, scale: float, width: int = 40) -> str:
    cells = value / scale * width if scale else 0
    full, part = int(cells), int((cells - int(cells)) * 8)
    return "█" * full + (_BLOCKS[part] if part else "")


def sparkline(values: list[float | None], top: float | None = None) -> str:
    """One character per value, scaled to `top` (default: the largest); gaps as a dot."""
    nums = [v for v in values if v is not None]
    top = top or (max(nums) if nums else 0)
    if not top:
        return "".join("·" if v is None else _SPARK[0] for v in values)
    return "".join("·" if v is None else _SPARK[min(7, int(v / top * 7.999))] for v in values)


def week_axis(weeks: list[str], last: int = 26) -> list[str]:
    """Every ISO week from the first to the last given (gaps included), at most the `last` ones."""
    if not weeks:
        return []
    def monday(w: str) -> _dt.date:
        y, n = w.split("-W")
        return _dt.date.fromisocalendar(int(y), int(n), 1)
    start, end = monday(min(weeks)), monday(max(weeks))
    n = (end - start).days // 7 + 1
    days = [start + _dt.timedelta(weeks=i) for i in range(max(0, n - last), n)]
    return [f"{d.isocalendar()[0]}-W{d.isocalendar()[1]:02d}" for d in days]


def _pct(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{100 * x:.{digits}f}%"


def _print_weekly(console, rep: dict[str, Any], last: int = 26) -> None:
    """Per role: one mark per ISO week from its first to its last dated week (gaps as dots)."""
    by_role: dict[Any, dict[str, dict]] = {}
    for w in rep["weekly"]:
        if w["week"]:
            by_role.setdefault(w["role"], {})[w["week"]] = w
    if not by_role:
        return
    console.print(f"\n[bold]Weekly correction rate[/] (one mark per ISO week, height 0-100 %, · no turns; "
                  f"last {last} weeks at most)")
    width = min(20, max(len(str(r)) for r in by_role))
    for r in (x["role"] for x in rep["roles"]):
        weeks = by_role.get(r)
        if not weeks:
            continue
        axis = week_axis(list(weeks), last)
        end = weeks[axis[-1]]
        name = str(r) if len(str(r)) <= width else str(r)[: width - 1] + "…"
        console.print(f"  {name:<{width}} {axis[0]} {sparkline([weeks[w]['rate'] if w in weeks else None for w in axis], 1.0)}"
                      f" {axis[-1]}  last {_pct(end['rate'], 0)} of {end['turns']}", highlight=False)


def threshold_note(rep: dict[str, Any]) -> str:
    """What the troubled threshold is, where to change it, and a hint when it flags (nearly) every session."""
    d, o = rep["definition"], rep["overall"]
    note = (f"[dim]A session is troubled when its rate is above {_pct(d['threshold'])} (the corrections.threshold "
            f"setting; `--threshold` for one run).[/]")
    median = o.get("median_session_rate")
    if o.get("rated_sessions", 0) >= 3 and (o.get("troubled_share") or 0) >= 0.9 and median is not None:
        note += (f"\n[yellow]{_pct(o['troubled_share'])} of rated sessions are above it[/]: for this archive a "
                 f"threshold near the median session rate ({_pct(median)}) would single out the worse half, "
                 f"e.g. `vault stats --corrections --threshold {median:.2f}`.")
    return note


def print_corrections(console, rep: dict[str, Any]) -> None:
    from rich.table import Table

    d, o = rep["definition"], rep["overall"]
    if not rep["labelled_turns"]:
        console.print("[yellow]No labelled turns" + (f" in role {rep['role_filter']!r}" if rep["role_filter"] else "")
                      + ".[/] Run [bold]vault mine[/] first"
                      + (f" (known roles: {', '.join(map(str, rep['roles_known']))})" if rep["roles_known"] else "")
                      + ".")
        return
    console.print(f"[bold]Correction rate[/] = {d['text']}; troubled above {_pct(d['threshold'])}.")
    console.print(
        f"{o['sessions']} sessions ({o['rated_sessions']} rated), {o['turns']} human turns, "
        f"[bold]{o['corrections']}[/] corrections: pooled rate [bold]{_pct(o['rate'])}[/], "
        f"median session {_pct(o['median_session_rate'])}, "
        f"[bold red]{o['troubled']}[/] troubled ({_pct(o['troubled_share'])} of rated)"
        + (f"; {rep['unlabelled_turns']} turns not labelled yet" if rep["unlabelled_turns"] else "")
        + (f"; {rep['relabelled_turns']} relabelled in review" if rep["relabelled_turns"] else ""))
    console.print(threshold_note(rep), highlight=False)

    console.print("\n[bold]Sessions by correction rate[/]")
    top = max((b["sessions"] for b in rep["histogram"]), default=0)
    last = max((i for i, b in enumerate(rep["histogram"]) if b["sessions"]), default=-1)
    for i, b in enumerate(rep["histogram"][: max(last + 1, 4)]):
        hot = b["lo"] >= d["threshold"]
        color = "red" if hot else "green"
        console.print(f"  {100 * b['lo']:3.0f}-{100 * b['hi']:3.0f}% [{color}]{_bar(b['sessions'], top):<40}[/] "
                      f"{b['sessions']}", highlight=False)

    console.print()
    t = Table(title="per role", header_style="bold underline", box=None, padding=(0, 1))
    t.add_column("role", no_wrap=True, overflow="ellipsis", min_width=8, max_width=20)
    for col in ("sess.", "rated", "turns", "corr.", "pooled", "median", "troubled"):
        t.add_column(col, justify="right", no_wrap=True)
    for r in rep["roles"]:
        t.add_row(str(r["role"]), str(r["sessions"]), str(r["rated_sessions"]), str(r["turns"]),
                  str(r["corrections"]), _pct(r["rate"]), _pct(r["median_session_rate"]),
                  f"{r['troubled']} {_pct(r['troubled_share'], 0)}")
    console.print(t)
    _print_weekly(console, rep)

    if rep["troubled"]:
        console.print()
        t = Table(title=f"troubled sessions (rate > {_pct(d['threshold'])})", header_style="bold underline",
                  box=None, padding=(0, 1))
        t.add_column("session", no_wrap=True, overflow="ellipsis", max_width=28)
        t.add_column("role", no_wrap=True, overflow="ellipsis", max_width=14)
        t.add_column("started", no_wrap=True)
        for col in ("turns", "corr.", "rate"):
            t.add_column(col, justify="right")
        for s in rep["troubled"][:25]:
            t.add_row(s["session_id"], str(s["role"]), (s["started_at"] or "")[:10], str(s["human_turns"]),
                      str(s["corrections"]), f"[red]{_pct(s['rate'])}[/]")
        console.print(t)
        if len(rep["troubled"]) > 25:
            console.print(f"  ... and {len(rep['troubled']) - 25} more (use --json for all)")

    ld = rep["label_distribution"]
    console.print()
    t = Table(title="labels vs the RLHI paper (WildChat-1M)", header_style="bold underline", box=None,
              padding=(0, 1))
    for col in ("label", "turns", "here", "paper"):
        t.add_column(col, justify="left" if col == "label" else "right")
    for k, paper in ld["paper_wildchat_percent"].items():
        here = ld["percent"][k]
        t.add_row(k, str(ld["counts"][k]), "-" if here is None else f"{here:.1f}%", f"{paper:.2f}%")
    t.add_row(INTERRUPT, str(ld["counts"][INTERRUPT]), "", "", style="dim")
    console.print(t)
