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
Unlabelled human turns are left out: those not mined yet are counted in `unlabelled_turns`, those on a branch
the conversation abandoned (never mined: the miner reads the main branch) in `abandoned_branch_turns`.
"""

from __future__ import annotations

import contextlib
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import duckdb

from miner.classify.base import (
    INITIAL_REQUEST,
    LABELS,
    NEW_REQUEST,
    NOT_HUMAN,
    POSITIVE_FEEDBACK,
    REATTEMPT_WITH_FEEDBACK,
    REATTEMPT_WITHOUT_FEEDBACK,
)
from miner.tables import EFFECTIVE_LABELS, unassigned_roles
from vault.settings import CorrectionSettings, Settings
from vault.sqlfilter import Filter
from vault.sqlstring import sql_string, sql_strings

if TYPE_CHECKING:
    from miner.roles import Rule

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

    return corrections_report(con, load_rules(settings), threshold=settings.corrections.threshold, role=role,
                              definition=correction_definition(settings))


@dataclass
class _Agg:
    turns: int = 0
    corrections: int = 0
    rates: list[float] = field(default_factory=list)
    sessions: int = 0
    troubled: int = 0


def _roles_source(con: duckdb.DuckDBPyConnection, rules: Sequence[Rule]) -> str:
    """The roles table, completed on the fly (default rules + `rules`) for sessions it lacks."""
    live = unassigned_roles(con, rules)
    if not live:
        return "roles"
    import pyarrow as pa

    con.register("_live_roles", pa.table({"session_id": list(live), "role_name": list(live.values())}))
    return "(SELECT session_id, role_name FROM roles UNION ALL SELECT session_id, role_name FROM _live_roles)"


def _turns_cte(roles_src: str, d: CorrectionDefinition) -> str:
    num = sql_strings(d.numerator)
    return f"""
    WITH t AS (
        SELECT e.*, r.role_name AS role, s.project, s.source, s.started_at,
               strftime(coalesce(e.timestamp, s.started_at), '%G-W%V') AS week,
               {DENOMINATORS[d.denominator]} AS counted,
               e.label IN ({num}) AS is_correction
        FROM {EFFECTIVE_LABELS} e JOIN sessions s USING (session_id)
        LEFT JOIN {roles_src} r USING (session_id)
        WHERE e.label IS DISTINCT FROM {sql_string(NOT_HUMAN)}
    )
    """


def _rate(c: int, n: int) -> float | None:
    return round(c / n, 6) if n else None


def corrections_report(
    con: duckdb.DuckDBPyConnection,
    rules: Sequence[Rule],
    threshold: float = _DEFAULTS.threshold,
    role: str | None = None,
    definition: CorrectionDefinition | dict | None = None,
) -> dict[str, Any]:
    """The correction report (JSON-able); see the module docstring for the definition.

    `rules`: the role rules of the caller's settings (miner.roles.load_rules(settings); none: each session's
    project), for sessions `vault mine` has not given a role yet. The library reads no configuration.
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
    f = Filter()
    if role is not None:
        f.add("role = ?", role)
    known_roles = [r[0] for r in con.execute(
        cte + "SELECT DISTINCT role FROM t WHERE label IS NOT NULL AND role IS NOT NULL ORDER BY 1").fetchall()]

    coverage = con.execute(cte + f"""
        SELECT count(*) FILTER (WHERE label IS NOT NULL), count(*) FILTER (WHERE relabelled)
        FROM t {f.where()}""", f.params).fetchone()
    # Unlabelled turns: on the main branch they wait for `vault mine`; on a branch the conversation abandoned
    # (an edited prompt, a rewind) they are never mined (the miner reads the main branch), so said apart.
    unlabelled, off_branch = con.execute(cte + f"""
        SELECT count(*) FILTER (WHERE m.on_main_branch), count(*) FILTER (WHERE NOT m.on_main_branch)
        FROM (SELECT msg_id FROM t {f.also("label IS NULL").where()}) JOIN messages m USING (msg_id)""",
        f.params).fetchone()
    session_rows = con.execute(cte + f"""
        SELECT session_id, any_value(role), any_value(project), any_value(source), any_value(started_at),
               count(*) FILTER (WHERE counted) AS turns,
               count(*) FILTER (WHERE counted AND is_correction) AS corrections
        FROM t {f.also("label IS NOT NULL").where()}
        GROUP BY session_id HAVING count(*) FILTER (WHERE counted) > 0
        ORDER BY any_value(started_at) NULLS LAST, session_id""", f.params).fetchall()
    weekly_rows = con.execute(cte + f"""
        SELECT role, week, count(DISTINCT session_id), count(*), count(*) FILTER (WHERE is_correction)
        FROM t {f.also("label IS NOT NULL", "counted").where()}
        GROUP BY role, week ORDER BY role, week NULLS LAST""", f.params).fetchall()
    label_rows = con.execute(cte + f"""
        SELECT label, count(*) FROM t {f.also("label IS NOT NULL").where()}
        GROUP BY label""", f.params).fetchall()

    sessions, by_role = [], {}
    overall = _Agg()
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

    counts = {lab: 0 for lab in LABELS}
    counts.update(dict(label_rows))
    five = sum(counts[k] for k in PAPER_WILDCHAT_PERCENT)
    return {
        "definition": {**asdict(d), "numerator": list(d.numerator), "threshold": threshold,
                       "text": d.describe()},
        "role_filter": role,
        "roles_known": known_roles,
        "labelled_turns": coverage[0],
        "unlabelled_turns": unlabelled,
        "abandoned_branch_turns": off_branch,
        "relabelled_turns": coverage[1],
        "overall": _summary(overall),
        "sessions": sessions,
        "histogram": histogram(sessions),
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


def histogram(sessions: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rated sessions per bin of correction rate ({lo, hi, sessions}, BIN_COUNT bins), from the report's `sessions`
    (all of them, or a role's: the TUI draws a role's own)."""
    bins = [0] * BIN_COUNT
    for s in sessions:
        if s["rated"]:  # integer maths: 15 % lands in 15-20 %
            bins[min(BIN_COUNT - 1, BIN_COUNT * s["corrections"] // s["human_turns"])] += 1
    return [{"lo": round(i / BIN_COUNT, 2), "hi": round((i + 1) / BIN_COUNT, 2), "sessions": n}
            for i, n in enumerate(bins)]


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
