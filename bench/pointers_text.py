"""Is the text of the pointers-only label files here, every hash matching? And where to read again what is not.

    python bench/pointers_text.py                                   # data/labels/pointers-only against POINTERS_TEXT
    python bench/pointers_text.py --labels data/labels/pointers-only --text /work/bench-data/model/pointers-text
    python bench/pointers_text.py --labels data/labels/sealed13 --text /work/bench-data/model/sealed13-text

The label files of repositories without a licence keep only SHA-256 and length of each typed turn and answer
excerpt, and the source pointer (data/labels/README.md, "pointers-only"); their text lives outside the repository
in files of the same name (miner.classify.dataset.POINTERS_TEXT), lost with each machine. Each line is checked as
`read_pointers` checks it (`check_pointers`: the same hashing, the same matching on session and n). Printed: one
line per label file (how many of its lines have their text with every hash matching), and for each line that has
not, one line naming the label file and line number, each field missing or mismatching, the session and n, and the
source (repository, path, commit) to read it again from. No text is ever printed: only names, counts and the
pointers that are in the repository already. Files whose lines keep their text (licensed files in a mixed folder)
are named and skipped. Exit 0 when every line of every pointers file is complete, 1 otherwise; the last line sums up.
To rebuild what it lists from the sources read again: bench/pointers_match.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from miner.classify.dataset import (  # noqa: E402
    EXTERNAL_GLOB, POINTERS_DIR, POINTERS_TEXT, PointerCheck, check_pointers, numbered_rows)


def label_files(labels: Path) -> list[Path]:
    return [labels] if labels.is_file() else sorted(labels.glob(EXTERNAL_GLOB))


def keeps_its_text(path: Path) -> bool:
    """Every line holds its text and no hash: a licensed file, nothing to fetch."""
    rows = numbered_rows(path, ())
    return bool(rows) and all("text_sha256" not in r and "text" in r for _, r in rows)


def missing(c: PointerCheck, field: str) -> bool:
    """The field's text is absent (else it is there and hashes otherwise)."""
    return c.text is None or c.text.get(field) is None


def problem_line(name: str, c: PointerCheck) -> str:
    src = c.pointer.get("source") or {}
    fields = ",".join(f"{f}={'missing' if missing(c, f) else 'mismatch'}" for f in c.bad)
    return (f"  {name}:{c.line} {fields} session {json.dumps(str(c.pointer['session']))} n {c.pointer['n']}"
            f" <- {src.get('repo', '?')} {src.get('path', '?')} @ {src.get('commit', '?')}")


def report(labels: Path, text_dir: Path, out=sys.stdout) -> bool:
    """Prints the check of every label file under `labels` against `text_dir`; True when all is complete."""
    files = label_files(labels)
    n_files = n_lines = n_ok = n_missing = n_mismatch = n_unreadable = n_skipped = 0
    incomplete_files = 0
    for path in files:
        name = path.name
        try:
            if keeps_its_text(path):
                n_skipped += 1
                print(f"{name}: keeps its text (not a pointers file), skipped", file=out)
                continue
            checks = check_pointers(path, text_dir)
        except (ValueError, OSError, UnicodeDecodeError) as e:  # a file not JSON lines of the expected fields
            n_unreadable += 1
            incomplete_files += 1
            print(f"{name}: cannot be checked: {e}", file=out)
            continue
        n_files += 1
        ok = sum(not c.bad for c in checks)
        n_lines, n_ok = n_lines + len(checks), n_ok + ok
        where = "" if (text_dir / name).exists() else f" (no {name} in {text_dir})"
        print(f"{name}: {ok}/{len(checks)} lines with their text, every hash matching{where}", file=out)
        if ok < len(checks):
            incomplete_files += 1
        for c in checks:
            if c.bad:
                if any(missing(c, f) for f in c.bad):
                    n_missing += 1
                else:
                    n_mismatch += 1
                print(problem_line(name, c), file=out)
    complete = n_files > 0 and incomplete_files == 0
    state = "complete" if complete else "INCOMPLETE"
    skipped = f", {n_skipped} keeping their text skipped" if n_skipped else ""
    unreadable = f", {n_unreadable} that cannot be checked" if n_unreadable else ""
    print(f"{state}: {n_ok}/{n_lines} lines of {n_files} pointers files have their text in {text_dir}, every hash "
          f"matching; {n_missing} lines with text missing, {n_mismatch} mismatching; {incomplete_files} files "
          f"incomplete{unreadable}{skipped} ({labels})", file=out)
    return complete


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--labels", type=Path, default=POINTERS_DIR,
                    help="folder of pointers-only label files (external-*.jsonl), or one file")
    ap.add_argument("--text", type=Path, default=POINTERS_TEXT,
                    help="folder holding the same file names with their text (full rows)")
    args = ap.parse_args(argv)
    return 0 if report(args.labels, args.text) else 1


if __name__ == "__main__":
    sys.exit(main())
