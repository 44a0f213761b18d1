"""The six labellings of the allowed data that bench/pairs_eval.py pools (never the held-back wild sessions).

    python bench/pairs_vaults.py --out DIR [NAME ...]      # default: all six; then
    python bench/pairs_eval.py --db DIR/c0.duckdb --db DIR/ch.duckdb --db DIR/dev.duckdb \\
        --db DIR/wl.duckdb --db DIR/wh.duckdb --db DIR/wd.duckdb --judged FILE

- `c0`, `ch`, `dev`: ../shared/corpora/claude-code and conversations, labelled by the learned miner, the heuristic
  miner, and the hand labels of labels-dev.jsonl;
- `wl`, `wh`, `wd`: only the wild/ files that labels-wild-dev.jsonl labels (the dev sessions), the same three ways.
Each vault is rebuilt from scratch (about 6 minutes in all on the shared 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPORA = ROOT.parent / "shared" / "corpora"


def _rows(name: str) -> list[dict]:
    return [json.loads(ln) for ln in (CORPORA / name).read_text().splitlines() if ln.strip()]


def _hand(rows: list[dict]):
    def label(con) -> None:
        from miner.mine import store_hand_labels
        from miner.tables import assign_roles

        store_hand_labels(con, rows)
        assign_roles(con)
    return label


def _mined(backend: str):
    def label(con) -> None:
        from miner.mine import mine

        mine(con, backend=backend)
    return label


def jobs() -> dict:
    from miner.mine import DEFAULT_BACKEND

    corpora = [CORPORA / "claude-code", CORPORA / "conversations"]
    wild_dev = sorted({CORPORA / r["file"] for r in _rows("labels-wild-dev.jsonl")})  # the dev-labelled files only
    return {"c0": (corpora, _mined(DEFAULT_BACKEND)), "ch": (corpora, _mined("heuristic")),
            "dev": (corpora, _hand(_rows("labels-dev.jsonl"))), "wl": (wild_dev, _mined(DEFAULT_BACKEND)),
            "wh": (wild_dev, _mined("heuristic")), "wd": (wild_dev, _hand(_rows("labels-wild-dev.jsonl")))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("names", nargs="*")
    a = ap.parse_args(argv)
    from vault.ingest import ingest
    from vault.store import open_vault

    todo = jobs()
    for name in a.names or todo:
        sources, label = todo[name]
        path = Path(a.out) / f"{name}.duckdb"
        for p in (path, Path(f"{path}.wal")):
            p.unlink(missing_ok=True)
        t = time.time()
        con = open_vault(path)
        try:
            ingest(con, sources)
            label(con)
        finally:
            con.close()
        print(f"{name}: {time.time() - t:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
