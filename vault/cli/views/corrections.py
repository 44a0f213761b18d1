"""`vault stats --corrections`: the report of `miner.analytics.corrections_report` as text, bars and tables."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from vault.cli.common import esc
from vault.render import counted, cut

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
        name = cut(str(r), width)
        console.print(f"  {esc(f'{name:<{width}}')} {axis[0]} {sparkline([weeks[w]['rate'] if w in weeks else None for w in axis], 1.0)}"
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

    from miner.classify.base import INTERRUPT

    d, o = rep["definition"], rep["overall"]
    if not rep["labelled_turns"]:
        console.print("[yellow]No labelled turns" + (f" in role {esc(repr(rep['role_filter']))}" if rep["role_filter"] else "")
                      + ".[/] Run [bold]vault mine[/] first"
                      + (f" (known roles: {esc(', '.join(map(str, rep['roles_known'])))})" if rep["roles_known"] else "")
                      + ".")
        return
    console.print(f"[bold]Correction rate[/] = {d['text']}; troubled above {_pct(d['threshold'])}.")
    console.print(
        f"{counted(o['sessions'], 'session')} ({o['rated_sessions']} rated), {counted(o['turns'], 'human turn')}, "
        f"{counted(o['corrections'], 'correction', style='bold')}: pooled rate [bold]{_pct(o['rate'])}[/], "
        f"median session {_pct(o['median_session_rate'])}, "
        f"[bold red]{o['troubled']}[/] troubled ({_pct(o['troubled_share'])} of rated)"
        + (f"; {counted(rep['unlabelled_turns'], 'turn')} not labelled yet" if rep["unlabelled_turns"] else "")
        + (f"; {counted(rep['abandoned_branch_turns'], 'turn')} on an abandoned branch (never mined)"
           if rep.get("abandoned_branch_turns") else "")
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
        t.add_row(esc(r["role"]), str(r["sessions"]), str(r["rated_sessions"]), str(r["turns"]),
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
            t.add_row(esc(s["session_id"]), esc(s["role"]), (s["started_at"] or "")[:10], str(s["human_turns"]),
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
