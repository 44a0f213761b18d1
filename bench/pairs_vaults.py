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
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
# The dataset tests' vault builders (tests/datasets/conftest.py) and paths
from _common import fresh_vault  # noqa: E402  (bench/ is first on the path of a bench run as a script)
from support import CORPORA, hand_labelled, jsonl_rows, labelled_vault, mined  # noqa: E402


def jobs() -> dict:
    corpora = [CORPORA / "claude-code", CORPORA / "conversations"]
    wild = jsonl_rows(CORPORA / "labels-wild-dev.jsonl")
    wild_dev = sorted({CORPORA / r["file"] for r in wild})  # the dev-labelled files only
    return {"c0": (corpora, mined()), "ch": (corpora, mined("heuristic")),
            "dev": (corpora, hand_labelled(jsonl_rows(CORPORA / "labels-dev.jsonl"))),
            "wl": (wild_dev, mined()), "wh": (wild_dev, mined("heuristic")), "wd": (wild_dev, hand_labelled(wild))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("names", nargs="*")
    a = ap.parse_args(argv)
    todo = jobs()
    for name in a.names or todo:
        sources, label = todo[name]
        path = fresh_vault(Path(a.out) / f"{name}.duckdb")
        t = time.time()
        labelled_vault(path, sources, label)
        print(f"{name}: {time.time() - t:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
