"""Persona lines side by side with a careful reader's list (tests/fixtures/personas/reader_conversations.json).

    python bench/personas_vs_reader.py --db VAULT   # a vault holding ../shared/corpora/conversations, mined

Builds the offline (extractive) personas in a copy-free way (the vault is opened read-write: personas are
rewritten) and prints, per role of the reader's list: the persona lines (right when they match a reader
item), the reader's items (covered when some line matches), and the totals.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
READER = ROOT / "tests/fixtures/personas/reader_conversations.json"


def compare(personas: dict[str, list[str]], reader: dict[str, list[dict]]) -> dict:
    """lines right / lines, reader items covered / items, per role and in total."""
    out = {"roles": {}, "lines": 0, "right": 0, "items": 0, "covered": 0}
    for role, items in reader.items():
        lines = personas.get(role, [])
        pats = [re.compile(i["match"], re.I) for i in items]
        right = [ln for ln in lines if any(p.search(ln) for p in pats)]
        covered = [i["item"] for i, p in zip(items, pats) if any(p.search(ln) for ln in lines)]
        out["roles"][role] = {"lines": lines, "right": right, "items": [i["item"] for i in items], "covered": covered}
        out["lines"] += len(lines)
        out["right"] += len(right)
        out["items"] += len(items)
        out["covered"] += len(covered)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    a = ap.parse_args(argv)
    from miner.personas import build_personas, load_personas
    from vault.store import open_vault

    con = open_vault(a.db)
    build_personas(con)
    personas = {p["role_name"]: [r["rule"] for r in p["rules"]] for p in load_personas(con)}
    rep = compare(personas, json.loads(READER.read_text())["roles"])
    for role, r in rep["roles"].items():
        print(f"## {role}\n| persona line | right |\n|---|---|")
        print("\n".join(f"| {ln} | {'yes' if ln in r['right'] else 'no'} |" for ln in r["lines"]) or "| (none) | |")
        print("| reader item | covered |\n|---|---|")
        print("\n".join(f"| {i} | {'yes' if i in r['covered'] else 'no'} |" for i in r["items"]))
        print()
    print(f"lines right {rep['right']}/{rep['lines']}; reader items covered {rep['covered']}/{rep['items']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
