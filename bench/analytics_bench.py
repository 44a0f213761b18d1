"""Roles and correction-analytics benchmark: `assign_roles` and `corrections_report` on a big vault.

    python bench/analytics_bench.py                      # bench/data/archive (make_archive.py), cached vault
    python bench/analytics_bench.py --replicate 20       # also every session and message x20 (ids suffixed)
    python bench/analytics_bench.py --scale small        # the shared corpora only

The vault of the archive is built once (`bench/data/analytics.duckdb`, ingest without embeddings)
and left untouched: the figures come from a temporary vault holding the columns the analytics
read. Labels: the vault's own if it has been mined, else synthetic ones (seeded, in the RLHI
paper's WildChat proportions) on every human-side message: the timing does not depend on which
label a turn has. Baselines measured in the same run:
- roles: the same rules matched in a Python loop (fnmatch / re per session) after one SELECT;
- report: one aggregate scan over labels joined with messages (the floor of any report).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RULES = {"roles": [
    {"name": "docs", "project": ["docs*", "*site*"]},
    {"name": "worktrees", "cwd": "/home/*/projects/*-worktrees/*"},
    {"name": "explorer", "agent_type": "Explore"},
    {"name": "reviews", "first_prompt": "(?i)\\b(review|audit)\\b"},
    {"name": "neutral", "source": "neutral"},
]}


def best_of(fn, n: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def build_source(args, tmp: Path) -> Path:
    from vault.ingest import ingest
    from vault.store import open_vault

    if args.scale == "small":
        path = tmp / "corpora.duckdb"
        shared = ROOT.parent / "shared" / "corpora"
        targets = [shared / "claude-code", shared / "conversations"]
    else:
        path, targets = Path(args.db), [Path(args.archive)]
        if path.exists():
            return path
        if not targets[0].exists():
            sys.exit(f"{targets[0]} does not exist: run bench/make_archive.py first (or --scale small)")
    print(f"ingesting {', '.join(map(str, targets))} into {path} (once) ...", flush=True)
    con = open_vault(path)
    ingest(con, targets)
    con.close()
    return path


def working_vault(src: Path, tmp: Path, replicate: int, seed: int = 0):
    """A temporary vault with the sessions, the analytics' message columns, labels and roles."""
    from miner.analytics import PAPER_WILDCHAT_PERCENT
    from vault.model import Kind
    from vault.sqlstring import sql_string, sql_strings
    from vault.store import open_vault

    path = tmp / "work.duckdb"
    con = open_vault(path)
    con.execute(f"ATTACH {sql_string(src)} AS src (READ_ONLY)")
    suffix = "CASE WHEN r.i = 0 THEN '' ELSE '~' || r.i END"
    con.execute(f"""
        INSERT INTO sessions SELECT s.* REPLACE (
            s.session_id || {suffix} AS session_id,
            CASE WHEN s.parent_session_id IS NULL THEN NULL ELSE s.parent_session_id || {suffix} END
                AS parent_session_id)
        FROM src.sessions s, range({replicate}) r(i)""")
    con.execute(f"""
        INSERT INTO messages (msg_id, session_id, seq, timestamp, role, kind, is_human)
        SELECT m.msg_id || {suffix}, m.session_id || {suffix}, m.seq, m.timestamp, m.role, m.kind, m.is_human
        FROM src.messages m, range({replicate}) r(i)""")
    mined = con.execute("SELECT count(*) FROM src.labels").fetchone()[0]
    if mined:
        con.execute(f"""INSERT INTO labels SELECT l.* REPLACE (l.msg_id || {suffix} AS msg_id,
                        l.session_id || {suffix} AS session_id) FROM src.labels l, range({replicate}) r(i)""")
    else:  # synthetic labels in the paper's proportions; interrupts stay interrupts
        cum, acc = [], 0.0
        for lab, pct in PAPER_WILDCHAT_PERCENT.items():
            acc += pct / 100
            cum.append((acc, lab))
        case = (" ".join(f"WHEN u < {c:.6f} THEN {sql_string(lab)}" for c, lab in cum[:-1])
                + f" ELSE {sql_string(cum[-1][1])}")
        kinds = sql_strings(sorted(Kind.HUMAN_SIDE))
        con.execute(f"""
            INSERT INTO labels (msg_id, session_id, label, confidence, backend, version)
            SELECT msg_id, session_id,
                   CASE WHEN kind = 'interrupt' THEN 'interrupt' ELSE (CASE {case} END) END, 0.5,
                   'bench-synthetic', '0'
            FROM (SELECT *, (hash(msg_id || {sql_string(str(seed))}) % 1000000) / 1e6 AS u  -- deterministic draw
                  FROM messages WHERE kind IN ({kinds}))""")
    con.execute("DETACH src")
    con.execute("CHECKPOINT")
    return con, ("mined" if mined else "synthetic")


def python_loop_roles(con, rules) -> list[tuple[str, str]]:
    """Baseline: the same first-match rules evaluated per session in Python."""
    rows = con.execute("SELECT session_id, parent_session_id, project, cwd, agent_type, source, user_id, "
                       "first_prompt FROM sessions").fetchall()
    cols = ["session_id", "parent_session_id", "project", "cwd", "agent_type", "source", "user_id", "first_prompt"]
    compiled = [(r, [(k, [re.compile(p) if k == "first_prompt" else p for p in pats]) for k, pats in r.match])
                for r in rules]
    out = []
    for row in rows:
        s = dict(zip(cols, row, strict=True))
        name = s["project"] or s["source"]
        for r, match in compiled:
            if all(any(p.search(s[k] or "") if k == "first_prompt" else fnmatch.fnmatchcase(s[k] or "", p)
                       for p in pats) for k, pats in match):
                name = r.name
                break
        out.append((s["session_id"], name))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--archive", default=str(ROOT / "bench" / "data" / "archive"))
    ap.add_argument("--db", default=str(ROOT / "bench" / "data" / "analytics.duckdb"))
    ap.add_argument("--scale", choices=["full", "small"], default="full")
    ap.add_argument("--replicate", type=int, default=1, help="Copies of every session and message.")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="analytics-bench-") as tmp:
        run(args, Path(tmp))


def run(args, tmp: Path) -> None:
    from miner.analytics import corrections_report
    from miner.roles import compute_roles, parse_rules
    from miner.tables import assign_roles

    from _common import open_bench_vault

    src = build_source(args, tmp)
    open_bench_vault(src).close()  # the copy below takes its columns as they are: an old layout ends here, in one line
    t0 = time.perf_counter()
    con, label_kind = working_vault(src, tmp, args.replicate)
    n_sessions, n_messages, n_labels = con.execute(
        "SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM messages), (SELECT count(*) FROM labels)"
    ).fetchone()
    print(f"working vault: {n_sessions} sessions, {n_messages} messages, {n_labels} {label_kind} labels "
          f"(built in {time.perf_counter() - t0:.1f} s)")
    rules = parse_rules(RULES, "bench rules")

    t_compute, _ = best_of(lambda: compute_roles(con, rules))
    t_assign, counts = best_of(lambda: assign_roles(con, rules))
    t_loop, loop = best_of(lambda: python_loop_roles(con, rules))
    # the SQL rules and the Python baseline agree on every main session (subagents inherit in ours)
    ours = dict(con.execute("SELECT r.session_id, r.role_name FROM roles r JOIN sessions s USING (session_id) "
                            "WHERE s.parent_session_id IS NULL").fetchall())
    disagree = sum(1 for sid, name in loop if sid in ours and ours[sid] != name)
    t_report, rep = best_of(lambda: corrections_report(con, rules))
    t_floor, _ = best_of(lambda: con.execute(
        "SELECT l.session_id, count(*), count(*) FILTER (WHERE l.label = 'reattempt_with_feedback') "
        "FROM labels l JOIN messages m USING (msg_id) WHERE m.is_human GROUP BY l.session_id").fetchall())
    json_bytes = len(json.dumps(rep))
    con.close()

    fig = {
        "sessions": n_sessions, "messages": n_messages, "labels": n_labels, "label_source": label_kind,
        "replicate": args.replicate, "roles": len(counts), "rules": len(rules),
        "compute_roles_s": round(t_compute, 4), "assign_roles_s": round(t_assign, 4),
        "python_loop_roles_s": round(t_loop, 4),
        "compute_vs_python_loop": round(t_compute / t_loop, 2) if t_loop else None,
        "roles_disagreements_with_baseline": disagree,
        "report_s": round(t_report, 4), "floor_scan_s": round(t_floor, 4),
        "report_vs_floor": round(t_report / t_floor, 1) if t_floor else None,
        "report_json_kb": round(json_bytes / 1024, 1),
        "report_sessions": len(rep["sessions"]), "pooled_rate": rep["overall"]["rate"],
        "median_session_rate": rep["overall"]["median_session_rate"],
    }
    print(f"roles for {n_sessions} sessions ({len(counts)} roles): compute_roles {t_compute * 1000:.0f} ms, "
          f"assign_roles (with the table rewrite) {t_assign * 1000:.0f} ms; Python loop baseline "
          f"{t_loop * 1000:.0f} ms (compute x{fig['compute_vs_python_loop']}); {disagree} disagreements")
    print(f"corrections_report: {t_report * 1000:.0f} ms; floor scan {t_floor * 1000:.0f} ms "
          f"(x{fig['report_vs_floor']}); JSON {fig['report_json_kb']} KB")
    print(json.dumps(fig))


if __name__ == "__main__":
    main()
