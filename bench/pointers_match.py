"""Rebuild a pointers-only file's text from its source read again: each hashed field found by SHA-256 alone.

    python bench/pointers_match.py data/labels/pointers-only/external-x.jsonl SRC [SRC ...] --out TEXT_DIR

A pointers-only label line keeps, for each of its typed turn, answer tail and next answer's head, only the SHA-256
and the length in characters (`<field>_sha256`, `<field>_chars`). When the text outside the repository is lost with
a machine, the sources are read again at the recorded commit (`bench/pointers_text.py` names them) and kept outside
the repository as SRC files (whole pages, or excerpts holding every typed turn and the ends of the answers). This
script then looks, in each SRC under each of a few readings labellers used (NORMALISATIONS: line ends, trailing
spaces, `> ` quote markers, two-space continuation indents, curly quotes, console output lines, a terminal's soft
wraps joined), at every window of exactly the recorded length (in each SRC alone and in all of them joined in reading
order, `page-<offset>` names by their offset, so that contiguous pages find a field that runs over their boundary),
and keeps a window whose SHA-256 is the pointer's. Nothing is guessed: a field no window matches is left out and
listed (session, n, field, length), for the one who reads the source to rebuild by hand.

The rows found are merged into TEXT_DIR/<label file name> (rows already there keep their matching fields), the file
`miner.classify.dataset.read_pointers` reads; `python bench/pointers_text.py --labels ... --text TEXT_DIR` then
checks the whole folder. No text is printed, only names, counts and lengths.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from miner.classify.dataset import check_pointers, numbered_rows, pointer_fields, text_sha256  # noqa: E402

_CURLY = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def _lines(f: Callable[[str], str]) -> Callable[[str], str]:
    return lambda s: "\n".join(f(line) for line in s.split("\n"))


# A terminal copy's wrapped lines never start with these (list items, console markers, box drawing).
_NEVER_JOINED = re.compile(r"([-*] |\d{1,2}\. |[⎿⏺❯✻│╭╰])")


def soft_wraps_joined(source: str, width: int = 80, dedent: bool = False) -> str:
    """A terminal copy (Claude Code's console) as labellers read it: padding right-stripped, the `⏺ ` / `❯ ` markers
    dropped, and a line break taken for the terminal's soft wrap, so joined with one space, where the line before plus
    a space plus the next line's first word would not fit in `width` columns; a line starting a list item or console
    marker is never joined onto the one before. `dedent`: the answers' two-space indent dropped too."""
    out: list[str] = []
    prev_width = 0  # the physical line before, as the terminal showed it
    for raw in source.replace("\r\n", "\n").split("\n"):
        line = raw.rstrip()
        body = line.lstrip()
        for marker in ("⏺ ", "❯ "):
            if body.startswith(marker):
                line = body = body[len(marker):]
        if dedent and line.startswith("  "):
            line = line[2:]
        wrapped = (out and out[-1] and body and not _NEVER_JOINED.match(body)
                   and prev_width + 1 + len(body.split()[0]) > width)
        if wrapped:
            out[-1] += " " + body
        else:
            out.append(line)
        prev_width = len(raw.rstrip())
    return "\n".join(out)


# Readings of a source a labeller's excerpt may have used; each is tried alone and after the line-end/trailing-space
# ones. Order does not matter: every window of every reading is tried.
NORMALISATIONS: dict[str, Callable[[str], str]] = {
    "as read": lambda s: s,
    "unquoted": _lines(lambda x: x[2:] if x.startswith("> ") else (x[1:] if x.startswith(">") else x)),
    "dedented": _lines(lambda x: x[2:] if x.startswith("  ") else x),
    "straight quotes": lambda s: s.translate(_CURLY),
    "no console output": lambda s: re.sub(r"(?m)^\s*⎿.*\n?", "", s),
    "blank lines collapsed": lambda s: re.sub(r"\n{3,}", "\n\n", s),
    "soft wraps joined": soft_wraps_joined,
    "soft wraps joined, dedented": lambda s: soft_wraps_joined(s, dedent=True),
}
_BASES: dict[str, Callable[[str], str]] = {
    "": lambda s: s,
    "LF, right-stripped, ": lambda s: "\n".join(x.rstrip() for x in s.replace("\r\n", "\n").split("\n")),
}


def readings(source: str) -> dict[str, str]:
    out = {}
    for base_name, base in _BASES.items():
        b = base(source)
        for name, f in NORMALISATIONS.items():
            out[base_name + name] = f(b)
    return out


def targets(label_file: Path) -> dict[tuple[str, int, str], tuple[str, int]]:
    """(session, n, field) -> (sha256, length) of every hashed field of every line. answer_before of length 0 is ""."""
    out = {}
    for _, r in numbered_rows(label_file, ("session", "n", "text_sha256")):
        for field in pointer_fields(r):
            out[(str(r["session"]), int(r["n"]), field)] = (r[f"{field}_sha256"], int(r.get(f"{field}_chars", -1)))
    return out


def find(wanted: dict[tuple[str, int, str], tuple[str, int]], texts: list[str]) -> dict[tuple[str, int, str], str]:
    """The value of each wanted field found as a window of exactly its length in one of `texts`."""
    found: dict[tuple[str, int, str], str] = {}
    by_length: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for key, (sha, length) in wanted.items():
        if length == 0 and sha == text_sha256(""):
            found[key] = ""
        elif length > 0:
            by_length[length][sha].append(key)
    for text in texts:
        for length, shas in by_length.items():
            if all(k in found for keys in shas.values() for k in keys):
                continue
            for i in range(len(text) - length + 1):
                keys = shas.get(text_sha256(text[i:i + length]))
                if keys:
                    for k in keys:
                        found.setdefault(k, text[i:i + length])
    return found


def page_order(sources: list[Path]) -> list[Path]:
    """The sources in reading order: by the offset in a `page-<offset>...` name (a shell's glob sorts page-112000
    before page-16000), the others after them in the order given."""
    def key(item: tuple[int, Path]) -> tuple[float, int]:
        m = re.match(r"page-(\d+)", item[1].name)
        return (int(m.group(1)) if m else float("inf"), item[0])
    return [src for _, src in sorted(enumerate(sources), key=key)]


def rebuild(label_file: Path, sources: list[Path], out_dir: Path) -> tuple[int, int, list[tuple[str, int, str, int]]]:
    """Merges the fields found into out_dir/<name>: (lines complete, lines, the (session, n, field, length) missing)."""
    wanted = targets(label_file)
    out_path = out_dir / label_file.name
    rows: dict[tuple[str, int], dict] = {}
    if out_path.exists():
        for c in check_pointers(label_file, out_dir):  # keep what already matches
            if c.text is not None:
                key = (str(c.pointer["session"]), int(c.pointer["n"]))
                rows[key] = {"session": key[0], "n": key[1]}
                for field in pointer_fields(c.pointer):
                    if field not in c.bad:
                        rows[key][field] = c.text.get(field) or ""
    todo = {k: v for k, v in wanted.items() if k[2] not in rows.get(k[:2], {})}
    pages = [src.read_text(encoding="utf-8") for src in page_order(sources)]
    # each page alone, and all of them joined in order: a field may run over a page boundary
    texts = [t for page in pages + (["".join(pages)] if len(pages) > 1 else []) for t in readings(page).values()]
    for (session, n, field), value in find(todo, texts).items():
        rows.setdefault((session, n), {"session": session, "n": n})[field] = value
    out_dir.mkdir(parents=True, exist_ok=True)
    order = list(dict.fromkeys(key[:2] for key in wanted))  # the lines in file order (every line names its text)
    with out_path.open("w", encoding="utf-8") as fh:
        for key in order:
            if key in rows:
                fh.write(json.dumps(rows[key], ensure_ascii=False) + "\n")
    missing = [(s, n, f, wanted[(s, n, f)][1]) for (s, n, f) in wanted if f not in rows.get((s, n), {})]
    return len(order) - len({(s, n) for s, n, _, _ in missing}), len(order), missing


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("label_file", type=Path)
    ap.add_argument("sources", type=Path, nargs="+", help="the source as read again (pages or excerpts)")
    ap.add_argument("--out", type=Path, required=True, help="folder of the text files (outside the repository)")
    args = ap.parse_args(argv)
    try:
        complete, total, missing = rebuild(args.label_file, args.sources, args.out)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{args.label_file.name}: {complete}/{total} lines complete in {args.out}")
    for session, n, field, length in missing:
        print(f"  missing: session {json.dumps(session)} n {n} {field} ({length} chars)")
    return 0 if complete == total else 1


if __name__ == "__main__":
    sys.exit(main())
