"""Find passages of pointers-only text (data/labels/pointers-only/: hashes only, the text kept outside the repository
because its source has no licence) quoted in the repository's tracked files.

Words are lower-cased \\w+ runs (punctuation, Markdown and line breaks do not matter). A tracked file is read as
segments, cut at double quotes, backticks and table bars (a window never joins two quotations or two table cells);
in a .py file only its comments and string literals are read (code is not prose anyone quotes), in a JSON line its
decoded strings; a path or URL (a run without spaces holding /) and a file name with a usual extension
(`chat-history.md`) are skipped (a source file's name can hold its first prompt's words; it is the provenance, not a
quote). Two kinds of hit:

- a run of at least `N` (5) consecutive words found in one pointers-only turn, answer_before or answer_after whose
  every `N`-word window is *distinctive* — found in no licensed or shared text (below), in the pointers' text of
  fewer than `AUTHORS` (3) people (else it is the trainees' shared task text or a stock phrase), holding at least
  three words with a letter (dates and numbers are not prose), not part of a phrase in `COMMON` — and whose words
  carry at least `RUN_BITS` of surprise (Table.surprise: everyday words are cheap);
- a short quotation: a segment between quotation marks (double or single) of `SHORT` (3) or 4 words, all of them
  a run of one pointers-only row, distinctive in the same sense, of at least `QUOTE_BITS`.

Quotes of two words, and short quotations of everyday words (below the bits), are not caught: the check finds
sentences and phrases, not every shared word pair.

The licensed and shared text: the licensed label files (data/labels/*.jsonl, data/labels/not-in-model/, every string
of their lines), tests/corpus/, Python's standard library (English docstrings, everyday code) and, where the machine
has them, the shared corpora (/work/shared/corpora: conversations, claude-code, labels-dev.jsonl,
labels-wild-dev.jsonl). A window found there is a common phrase ("can you check the ...") or licensed text, which the
rulebook may quote; one found only in pointers-only text cannot have come from anywhere else.

data/labels/sealed/ is not read while it holds a sealed set's label files (nobody but the labellers opens them until
the rule is judged); with only its README there, the README is checked like any file.

`python tests/mining/pointer_quotes.py [--show]` prints the hits (file, line, words, the pointers file and row;
--show adds the quoted passage): terminal only, never into a file of the repository.
"""

from __future__ import annotations

import io
import json
import math
import re
import subprocess
import sys
import sysconfig
import tokenize
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from miner.classify.dataset import POINTERS_DIR, POINTERS_TEXT

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path("/work/shared/corpora")
N = 5  # words in a window of running text
SHORT = 3  # fewest words of a quotation that counts
# Fewest bits (Table.surprise) of a run and of a short quotation: five everyday words score 30-50 bits, a run with
# a rarer word or two 60 and more; a three-word quotation of everyday words 20-35.
RUN_BITS = 55.0
QUOTE_BITS = 40.0
AUTHORS = 3  # a window in the pointers text of this many authors is shared vocabulary (the trainees' task text)
# Phrases read one by one and judged common, though the licensed text does not hold them (lower-cased words):
COMMON = {
    ("sk", "ant", "api03"): "the prefix of an Anthropic API key, planted as a secret in tests",
    ("docker", "compose", "up", "build"): "a command",
    ("thanks", "for", "the", "correction"): "a stock opener of an assistant's answer (data/pairs/ lists them)",
    ("olet", "aivan", "oikeassa"): "Finnish for \"you're absolutely right\", a stock opener (tests of after.py)",
    ("meeting", "room", "booking", "api"): "the trainees' pre-assignment, as the rulebook names it",
    ("optimizing", "tool", "selection"): "a status line of GitHub Copilot's chat view, typed by no one",
    ("let", "me", "know", "if", "you", "have", "any", "questions"): "an assistant's stock sign-off",
    ("thanks", "for", "catching", "that"): "a stock opener of an assistant's answer after a correction (tests of "
                                           "after.py list it beside \"Good catch\" and \"my bad\")",
    ("you", "ve", "hit", "your", "limit"): "Claude Code's usage-limit message, shown by the tool, typed by no one",
    ("an", "image", "in", "the", "conversation", "exceeds", "the", "dimension", "limit"):
        "the Claude API's error for an oversized image, shown by Claude Code, typed by no one",
    ("gemini", "gemini", "2", "5", "pro"): "the model's name as a Gemini chat's headers write it, a product label",
}
FIELDS = ("text", "answer_before", "answer_after")
# data/labels/sealed/, sealed13/...: a folder not read while it holds a sealed set's label files
SEALED = re.compile(r"data/labels/sealed[^/]*/")
WORD = re.compile(r"\w+")
CUT = re.compile(r"[\"“”„`|]")  # quotation marks, backticks, table bars
OPEN, CLOSE = set("\"“„`"), set("\"”`")
SINGLE = re.compile(r"(?<!\w)[‘']([^'‘’\n]+?)[’'](?!\w)")  # 'a quotation in single quotes' (not an apostrophe)
PATHLIKE = re.compile(r"[^\s\"'`()\[\]<>|]*/[^\s\"'`()\[\]<>|]*")
# A file name with a usual extension (no slash): `copilot-chat-history.md` is 4 words, but a name, not prose.
FILENAME = re.compile(r"(?<![^\s\"'`(\[<|])[^\s\"'`()\[\]<>|/]+\.(?:md|markdown|txt|jsonl?|py|ipynb|js|ts|tsx|jsx|html?"
                      r"|css|ya?ml|toml|csv|log|sh|pdf|png|jpe?g)(?!\w|\.\w)", re.IGNORECASE)


def words(text: str) -> list[tuple[str, int]]:
    """Lower-cased words of `text` with their character offsets (each NFKC-folded: full-width, ligatures)."""
    return [(unicodedata.normalize("NFKC", m.group()).lower(), m.start()) for m in WORD.finditer(text)]


def plain(text: str) -> list[str]:
    return [w for w, _ in words(text)]


def windows(ws: list[str], n: int):
    return (tuple(ws[i:i + n]) for i in range(len(ws) - n + 1))


def lettered(window: tuple[str, ...]) -> int:
    return sum(any(c.isalpha() for c in w) for w in window)


def strings(obj):
    """Every string inside a parsed JSON value."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from strings(v)


def jsonl_strings(path: Path):
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.strip():
            try:
                yield from strings(json.loads(line))
            except json.JSONDecodeError:
                yield line


@dataclass(frozen=True)
class Source:
    file: str
    session: str
    n: int
    field: str


def pointer_rows(text_dir: Path = POINTERS_TEXT):
    """(pointers file name, row) for each row with text on this machine of a pointers-only file of the repository."""
    for ptr in sorted(POINTERS_DIR.glob("external-*.jsonl")):
        path = text_dir / ptr.name
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    yield ptr.name, json.loads(line)


@dataclass(repr=False)
class Table:
    """The distinctive runs of the pointers-only text: `n`-word windows for each length used, with their rows."""
    grams: dict[int, dict[tuple[str, ...], set[Source]]] = field(default_factory=dict)
    total: dict[int, int] = field(default_factory=dict)
    counts: Counter = field(default_factory=Counter)  # words of the licensed and shared text
    n_words: int = 0

    def __repr__(self) -> str:  # never the windows (a test's output may be kept in a log)
        return f"Table({', '.join(f'{k}: {len(g)}' for k, g in self.grams.items())} distinctive windows)"

    def surprise(self, ws) -> float:
        """Bits of a run of words under the licensed text's word frequencies (add-one): common words count ~5,
        rare ones ~20."""
        return sum(math.log2((self.n_words + len(self.counts)) / (self.counts[w] + 1)) for w in ws)


def build(text_dir: Path = POINTERS_TEXT, shared: Path = SHARED, n: int = N, short: int = SHORT) -> Table:
    sizes = sorted({n, *range(short, n)})
    index: dict[int, dict] = {k: defaultdict(set) for k in sizes}
    for name, row in pointer_rows(text_dir):
        for f in FIELDS:
            if isinstance(row.get(f), str):
                src = Source(name, str(row["session"]), int(row["n"]), f)
                ws = plain(row[f])
                for k in sizes:
                    for w in windows(ws, k):
                        index[k][w].add(src)
    common: dict[int, set] = {k: set() for k in sizes}
    counts: Counter = Counter()
    for s in licensed_texts(shared):
        ws = plain(s)
        counts.update(ws)
        for k in sizes:
            common[k].update(w for w in windows(ws, k) if w in index[k])
    table = Table(counts=counts, n_words=sum(counts.values()))
    allowed = {g for c in COMMON for k in sizes for g in windows(list(c), k)}  # a part of a common phrase

    def holds_common(w: tuple[str, ...]) -> bool:  # or a window around one
        return any(w[i:i + len(c)] == c for c in COMMON for i in range(len(w) - len(c) + 1))
    for k in sizes:
        table.total[k] = len(index[k])
        table.grams[k] = {w: src for w, src in index[k].items()
                          if w not in common[k] and w not in allowed and not holds_common(w)
                          and lettered(w) >= min(3, k - 1)
                          and len({s.file for s in src}) < AUTHORS}
    return table


def licensed_texts(shared: Path = SHARED):
    """The licensed or shared text a quote may come from, and the common phrases."""
    labels = ROOT / "data/labels"
    for path in sorted(labels.glob("*.jsonl")) + sorted((labels / "not-in-model").glob("*.jsonl")):
        yield from jsonl_strings(path)
    for path in sorted((ROOT / "tests/corpus").rglob("*.jsonl")):
        yield from jsonl_strings(path)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(stdlib.rglob("*.py")):
        if path.relative_to(stdlib).parts[0] not in ("site-packages", "dist-packages", "test", "idlelib", "lib2to3"):
            yield path.read_text(encoding="utf-8", errors="replace")
    if shared.is_dir():
        for path in sorted((shared / "conversations").glob("*.jsonl")) + \
                sorted((shared / "claude-code").rglob("*.jsonl")) + \
                [shared / "labels-dev.jsonl", shared / "labels-wild-dev.jsonl"]:
            if path.is_file():
                yield from jsonl_strings(path)


def tracked_files(root: Path = ROOT) -> list[str]:
    out = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True, check=True).stdout
    paths = [p for p in out.decode("utf-8").split("\0") if p]
    sealed = {m.group() for p in paths if p.endswith(".jsonl") and (m := SEALED.match(p))}  # nobody reads them yet
    return [p for p in paths if not any(p.startswith(s) for s in sealed)]


def python_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the comments and string literals of Python source; the whole text if it does not
    tokenize."""
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return [(0, len(text))]
    return [(starts[t.start[0] - 1] + t.start[1], starts[t.end[0] - 1] + t.end[1])
            for t in toks if t.type in (tokenize.COMMENT, tokenize.STRING)]


def cut(text: str, line: int):
    """(line, piece, quoted) of `text` cut at quotation marks, backticks and table bars, paths blanked."""
    chunk = FILENAME.sub(lambda m: " " * len(m.group()), PATHLIKE.sub(lambda m: " " * len(m.group()), text))
    edges = [(0, 0)] + [(m.start(), m.end()) for m in CUT.finditer(chunk)] + [(len(chunk), len(chunk))]
    for (_, s), (e, _) in zip(edges, edges[1:]):
        if WORD.search(chunk, s, e):
            quoted = s > 0 and chunk[s - 1] in OPEN and e < len(chunk) and chunk[e] in CLOSE
            yield line + chunk.count("\n", 0, s), chunk[s:e], quoted


# A label row's identifiers (a session id, the source's repository, path and commit) name where the text is; an
# agent's answer may print the same id ("511eb6f3-..."), which is not a quote of it.
IDENTIFIERS = frozenset({"session", "author", "repo", "path", "commit", "msg_id"})


def prose(obj):
    """A parsed JSON value without its identifier fields (IDENTIFIERS), at any depth."""
    if isinstance(obj, dict):
        return {k: prose(v) for k, v in obj.items() if k not in IDENTIFIERS}
    if isinstance(obj, list):
        return [prose(v) for v in obj]
    return obj


def segments(path: str, text: str):
    """(line, piece, quoted): the text a quote could be in. The decoded strings of a JSON line but its identifiers;
    the comments and string literals of a .py file; any other file whole."""
    if path.endswith((".jsonl", ".json")):
        for i, line in enumerate(text.splitlines(), 1):
            try:
                values = list(strings(prose(json.loads(line))))
            except json.JSONDecodeError:
                values = [line]
            for v in values:
                for _, piece, quoted in cut(v, i):
                    yield i, piece, quoted
        return
    spans = python_spans(text) if path.endswith(".py") else [(0, len(text))]
    for a, b in spans:
        yield from cut(text[a:b], text.count("\n", 0, a) + 1)


@dataclass(repr=False)
class Hit:
    path: str
    line: int
    passage: str
    n_words: int
    sources: set[Source]
    kind: str  # "run" or "quotation"
    bits: float = 0.0

    def __repr__(self) -> str:  # never the passage (a test's output may be kept in a log)
        return f"Hit({self.where()})"

    def where(self) -> str:
        src = sorted({(s.file, s.session, s.n, s.field) for s in self.sources})
        shown = ", ".join(f"{f} {sess}#{n} {fld}" for f, sess, n, fld in src[:3])
        more = f" (+{len(src) - 3} more)" if len(src) > 3 else ""
        return f"{self.path}:{self.line}: {self.kind} of {self.n_words} words ({self.bits:.0f} bits) from {shown}{more}"


def scan_text(path: str, text: str, table: Table, n: int = N, short: int = SHORT, bits: float = 1.0) -> list[Hit]:
    """The hits of one file; `bits` scales the thresholds (0: every distinctive match, for reading by hand)."""
    hits: list[Hit] = []
    grams = table.grams[n]
    for line, piece, quoted in segments(path, text):
        toks = words(piece)
        ws = [t for t, _ in toks]
        runs: list[list] = []  # [first window, last window, rows holding the run]
        for i, w in enumerate(windows(ws, n)):
            if w in grams:
                if runs and i == runs[-1][1] + 1:
                    runs[-1][1] = i
                    runs[-1][2] = (runs[-1][2] & grams[w]) or runs[-1][2] | grams[w]
                else:
                    runs.append([i, i, set(grams[w])])
        for first, last, src in runs:
            end = last + n - 1
            if table.surprise(ws[first:end + 1]) < RUN_BITS * bits:
                continue
            a, b = toks[first][1], toks[end][1] + len(ws[end])
            hits.append(Hit(path, line + piece.count("\n", 0, a), piece[a:b], end - first + 1, src, "run",
                            table.surprise(ws[first:end + 1])))
        quotations = [(0, piece)] if quoted else []
        quotations += [(m.start(1), m.group(1)) for m in SINGLE.finditer(piece)]
        for at, q in quotations:
            qt = words(q)
            qs = tuple(t for t, _ in qt)
            if short <= len(qs) < n and qs in table.grams[len(qs)] and table.surprise(qs) >= QUOTE_BITS * bits:
                a, b = at + qt[0][1], at + qt[-1][1] + len(qs[-1])
                hits.append(Hit(path, line + piece.count("\n", 0, a), piece[a:b], len(qs),
                                set(table.grams[len(qs)][qs]), "quotation", table.surprise(qs)))
    return hits


def scan(table: Table, root: Path = ROOT, n: int = N, short: int = SHORT, bits: float = 1.0) -> list[Hit]:
    hits = []
    for rel in tracked_files(root):
        try:
            data = (root / rel).read_bytes()
        except OSError:  # a tracked file deleted in the worktree
            continue
        if b"\0" not in data:
            hits += scan_text(rel, data.decode("utf-8", errors="replace"), table, n, short, bits)
    return hits


def main(argv: list[str]) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pointers-text", default=str(POINTERS_TEXT))
    ap.add_argument("--shared", default=str(SHARED))
    ap.add_argument("-n", type=int, default=N, help="words in a window of running text")
    ap.add_argument("--short", type=int, default=SHORT, help="fewest words of a quotation")
    ap.add_argument("--show", action="store_true", help="print each quoted passage (terminal only)")
    ap.add_argument("--all", action="store_true", help="every distinctive match, whatever its bits")
    a = ap.parse_args(argv)
    table = build(Path(a.pointers_text), Path(a.shared), a.n, a.short)
    print(f"{table.total[a.n]} windows of {a.n} words in the pointers-only text, {len(table.grams[a.n])} distinctive",
          file=sys.stderr)
    hits = scan(table, ROOT, a.n, a.short, 0.0 if a.all else 1.0)
    for h in hits:
        print(h.where())
        if a.show:
            print("    " + " ".join(h.passage.split()))
    print(f"{len(hits)} passages in {len({h.path for h in hits})} files", file=sys.stderr)
    return 1 if hits else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
