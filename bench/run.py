"""Run every bench/*_bench.py present and print their figures.

    python bench/run.py                 # all benchmarks, default sizes
    python bench/run.py ingest search   # only these (names without _bench.py)
    python bench/run.py -- --size-mb 100  # arguments after -- go to every benchmark

Each benchmark prints what it likes and ends with one JSON object on its last stdout line;
the figures of all of them are written to bench/results/latest.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _last_json(stdout: str) -> dict | None:
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    benches = sorted(HERE.glob("*_bench.py"))
    if argv:
        benches = [b for b in benches if b.name[: -len("_bench.py")] in argv]
    results: dict[str, dict | None] = {}
    failed = []
    for bench in benches:
        name = bench.name[: -len("_bench.py")]
        print(f"== {name} ({bench.relative_to(HERE.parent)})", flush=True)
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, str(bench), *extra], stdout=subprocess.PIPE, text=True)
        for line in proc.stdout.splitlines():
            if not line.startswith("{"):
                print(f"   {line}")
        results[name] = _last_json(proc.stdout)
        print(f"   ({time.perf_counter() - t:.0f} s, exit {proc.returncode})", flush=True)
        if proc.returncode != 0:
            failed.append(name)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"figures written to {out / 'latest.json'}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
