"""Redaction speed and what it finds, on the real corpora (../shared/corpora; the examples if absent).

    python bench/redact_bench.py

Baseline measured in the same run: the same Redactor with the phone and IPv4 detectors turned off
(what vault.redact did before issue 13), so the ratio is the price of those two detectors.
Ends with one JSON line (bench/run.py collects it).
"""

from __future__ import annotations

import collections
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vault.ingest import ingest  # noqa: E402
from vault.redact import PERSONAL_TYPES, Redactor  # noqa: E402
from vault.store import open_vault  # noqa: E402

CORPORA = ROOT.parent / "shared" / "corpora"


def texts() -> tuple[str, list[tuple[str, str]]]:
    sources = [CORPORA / "claude-code", CORPORA / "conversations"]
    if not all(p.is_dir() for p in sources):
        sources = [ROOT / "examples" / "claude-code"]
    with tempfile.TemporaryDirectory() as d:
        con = open_vault(Path(d) / "v.duckdb")
        ingest(con, sources)
        rows = con.execute("SELECT kind, text FROM messages WHERE text IS NOT NULL AND text <> ''").fetchall()
        con.close()
    return ", ".join(str(p.relative_to(ROOT.parent)) for p in sources), rows


def timed(redactors: list[Redactor], rows, repeat: int = 3) -> tuple[list[float], list]:
    """Best time of each redactor over `repeat` interleaved rounds (a shared machine's load hits both alike)."""
    best, found = [float("inf")] * len(redactors), []
    for _ in range(repeat):
        for i, r in enumerate(redactors):
            t0 = time.perf_counter()
            found = [r.findings(t) for _, t in rows]
            best[i] = min(best[i], time.perf_counter() - t0)
    return best, found  # the findings of the last redactor


def main() -> None:
    where, rows = texts()
    full = Redactor(home="/home/nobody-here", user="nobody-here")
    base = Redactor(home="/home/nobody-here", user="nobody-here")
    base._phone_numbers = base._ip_addresses = lambda text: ()  # the baseline: no phone, no IPv4 detection
    (t_base, t_full), found = timed([base, full], rows)
    by_type = collections.Counter(k for f in found for k in {x[0] for x in f})
    human = [f for (kind, _), f in zip(rows, found) if kind in ("human_prompt", "queued_prompt", "tool_rejection")]
    out = {"messages": len(rows), "ms_per_message": round(t_full / len(rows) * 1000, 3),
           "baseline_ms_per_message": round(t_base / len(rows) * 1000, 3), "ratio": round(t_full / t_base, 2),
           "messages_with_finding_by_type": dict(by_type.most_common()),
           "human_turns": len(human), "human_turns_with_secret": sum(
               1 for f in human if any(k not in PERSONAL_TYPES for k, _, _ in f))}
    print(f"{where}: {len(rows)} messages; redaction {out['ms_per_message']} ms a message, "
          f"{out['ratio']}x the baseline without phone/IPv4 detection ({out['baseline_ms_per_message']} ms)")
    print("messages with a finding, by type:", out["messages_with_finding_by_type"])
    print(json.dumps({"redact": out}))


if __name__ == "__main__":
    main()
