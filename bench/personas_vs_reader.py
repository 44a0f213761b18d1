"""Persona lines side by side with a careful reader's lists (tests/fixtures/personas/reader_*.json).

    python bench/personas_vs_reader.py --db VAULT   # a mined vault of ../shared/corpora/{conversations,claude-code}
    python bench/personas_vs_reader.py --db VAULT --reader tests/fixtures/personas/reader_sessions2.json

Builds the offline (extractive) personas (the vault is opened read-write: personas are rewritten; use a copy)
and prints, per role of the reader's lists: the persona lines (right when they match a reader item), the
reader's items (covered when some line matches), then the totals per group of roles:
- design: the role read while designing the method (BookMinder);
- diagnosed: held out when they were listed, then read to find why their items were missed (a change of the
  method is allowed only for a reason that is general, not role-specific);
- held out: listed before any change of the session that added them, never read for design
  (reader_heldout.json). Only this group says whether the method generalises.
`--reader FILE` compares with that list only, as one held-out group (e.g. reader_sessions2.json: roles of other
people's licensed sessions, listed before their personas were built).
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
HELD_OUT = ROOT / "tests/fixtures/personas/reader_heldout.json"
DESIGN_ROLES = ("palimondo/BookMinder",)


def readers() -> dict[str, dict[str, list[dict]]]:
    """group -> role -> reader items."""
    listed = json.loads(READER.read_text())["roles"]
    return {"design": {r: i for r, i in listed.items() if r in DESIGN_ROLES},
            "diagnosed": {r: i for r, i in listed.items() if r not in DESIGN_ROLES},
            "held out": json.loads(HELD_OUT.read_text())["roles"]}


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
    ap.add_argument("--reader", help="compare with this reader's list only (one held-out group)")
    a = ap.parse_args(argv)
    from miner.personas import build_personas, load_personas
    from vault.store import open_vault

    con = open_vault(a.db)
    build_personas(con)
    personas = {p["role_name"]: [r["rule"] for r in p["rules"]] for p in load_personas(con)}
    totals = []
    groups = {f"held out ({Path(a.reader).stem})": json.loads(Path(a.reader).read_text())["roles"]} if a.reader \
        else readers()
    for group, reader in groups.items():
        rep = compare(personas, reader)
        for role, r in rep["roles"].items():
            print(f"## {role} ({group})\n| persona line | right |\n|---|---|")
            print("\n".join(f"| {ln} | {'yes' if ln in r['right'] else 'no'} |" for ln in r["lines"]) or "| (none) | |")
            print("| reader item | covered |\n|---|---|")
            print("\n".join(f"| {i} | {'yes' if i in r['covered'] else 'no'} |" for i in r["items"]))
            print()
        per_role = ", ".join(f"{k} {len(v['right'])}/{len(v['lines'])}, {len(v['covered'])}/{len(v['items'])}"
                             for k, v in rep["roles"].items())
        totals.append(f"{group}: lines right {rep['right']}/{rep['lines']}; reader items covered "
                      f"{rep['covered']}/{rep['items']} ({per_role})")
    print("\n".join(totals))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
