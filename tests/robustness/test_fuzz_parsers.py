"""Bad input, fuzzed: every parser on real files of ../shared/corpora, mutated deterministically (seeded).

Line formats (Claude Code, Codex, neutral, Gemini's JSONL): a few lines of each file are truncated, given invalid
UTF-8, a lone surrogate or a NUL, replaced by a JSON value that is not an object or nested past any parser's depth,
have a field's value swapped for one of another type, or carry a huge string (2 MiB). Whole documents (Claude.ai,
ChatGPT, Gemini's JSON): values of other types at random places, a truncated document, invalid UTF-8.

What must hold, through the real `vault ingest` (format forced with --source, so detection is not what is tested):
no traceback and no internal error; every error is one line naming the file and, for a line format, the line;
every broken line is reported, and no line but those and the records given a value of another type (which a
parser may fail to read, saying so); nothing lost: every line that is still a JSON object is
stored raw, byte for byte, and for a document every conversation left untouched gives the same session as before.
Then `vault sessions`, `vault show` of every session, `vault stats` and a keyword search run on what was stored.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path

import orjson
import pytest

from support import CORPORA, ROOT, needs_shared, run_cli

SEED = 20261203
LINES_PER_FILE = 12  # mutated lines in each line-format file
HUGE = 2 << 20  # bytes of the huge string (past the 4 KiB tool-output cut, the 1 MiB raw chunk, DuckDB's pages)
OTHER_VALUES = [None, True, 0, -1, 2**63, 1.5e308, "", "x" * 3, "\u0000", [], [1, "a", None], {}, {"text": 7},
                {"type": None}]

W = CORPORA / "wild"
LINE_FORMATS = {
    "claude_code": [CORPORA / "claude-code/spotter/tool_heavy.jsonl",
                    CORPORA / "claude-code/sniffly/fed8ce56-bc79-401f-a83e-af084253362f.jsonl",
                    W / "claude-code/raze/claude-session.jsonl", W / "claude-code/agentic-wallet/claude-session.jsonl"],
    "codex": [W / "codex/xeus/codex-session.jsonl", W / "codex/vibecodingtracker/codex.jsonl"],
    "neutral": [CORPORA / "conversations/cctrace-js.jsonl"],
    "gemini": [W / "gemini/vibecodingtracker/gemini.jsonl"],
}
DOCUMENTS = {
    "claude_ai": [W / "claude-ai/claude-chat-viewer/claude-bakery-chat.json", W / "claude-ai/claude-to-sqlite/example.json"],
    "gemini": [W / "gemini/vibecodingtracker/test_conversation_gemini.json"],
    # No ChatGPT export in the shared corpora: the project's own fixture (written for it) stands in.
    "chatgpt": [ROOT / "tests/fixtures/sources/chatgpt/conversations.json"],
}

pytestmark = needs_shared


# -- mutations --------------------------------------------------------------------------------------------------


def _paths(value, prefix=(), depth=0):
    """Every (path to a value) inside `value`, to depth 8."""
    if depth > 8:
        return
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for k, v in items:
        yield (*prefix, k)
        yield from _paths(v, (*prefix, k), depth + 1)


def _set(value, path, new):
    for k in path[:-1]:
        value = value[k]
    value[path[-1]] = new


def _get(value, path):
    for k in path:
        value = value[k]
    return value


def wrong_type(rng: random.Random, obj, times: int = 1):
    """`obj` with `times` values, at random places, swapped for a value of another type."""
    for _ in range(times):
        paths = list(_paths(obj))
        if not paths:
            return obj
        path = rng.choice(paths)
        old = _get(obj, path)
        new = rng.choice([v for v in OTHER_VALUES if type(v) is not type(old)])
        _set(obj, path, json.loads(json.dumps(new)))  # a fresh copy
    return obj


def _in_a_string(rng: random.Random, line: bytes, insert: bytes) -> bytes:
    """`line` with `insert` placed inside one of its JSON strings (after an opening quote of a value)."""
    spots = [m.end() for m in re.finditer(rb':\s*"', line)] or [m.end() for m in re.finditer(rb'"', line)]
    at = rng.choice(spots) if spots else len(line) // 2
    return line[:at] + insert + line[at:]


def mutate_line(rng: random.Random, line: bytes, kind: str) -> bytes:
    body = line.rstrip(b"\n")
    if kind == "truncate":
        return body[: rng.randrange(1, max(2, len(body) - 1))] + b"\n"
    if kind == "bad_utf8":
        return _in_a_string(rng, body, rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"])) + b"\n"
    if kind == "surrogate":
        return _in_a_string(rng, body, rng.choice([b"\\ud800", b"\\udfff x", b"\\ud83d"])) + b"\n"
    if kind == "nul":
        return _in_a_string(rng, body, b"\\u0000 and \\u001f") + b"\n"
    if kind == "not_object":
        return rng.choice([b"[1, 2]", b"42", b'"text"', b"null", b"true", b"[{}]"]) + b"\n"
    if kind == "deep":
        n = rng.choice([600, 5000])
        return b'{"a":' + b"[" * n + b"]" * n + b"}\n"
    obj = orjson.loads(body)
    if kind == "wrong_type":
        return orjson.dumps(wrong_type(rng, obj)) + b"\n"
    if kind == "huge":
        strings = [p for p in _paths(obj) if isinstance(_get(obj, p), str)]
        if strings:
            _set(obj, rng.choice(strings), "data:image/png;base64," + "iVBORw0KGgoAAAANSUhEUg" * (HUGE // 22))
        else:
            obj["huge"] = "x" * HUGE
        return orjson.dumps(obj) + b"\n"
    raise AssertionError(kind)


LINE_KINDS = ["truncate", "bad_utf8", "surrogate", "nul", "not_object", "deep", "wrong_type", "wrong_type",
              "wrong_type", "huge"]


def is_record(line: bytes) -> bool:
    """Whether the vault must keep this line: a JSON object in valid UTF-8 (what `iter_jsonl` accepts)."""
    try:
        line.decode("utf-8")
        return isinstance(orjson.loads(line), dict)
    except (UnicodeDecodeError, orjson.JSONDecodeError):
        return False


def mutated_file(rng: random.Random, src: Path, dest: Path) -> tuple[set[int], set[int], set[int]]:
    """Write `src` to `dest` with LINES_PER_FILE lines mutated; returns the line numbers of records, of broken
    lines, and of the records given a value of another type."""
    lines = src.read_bytes().splitlines(keepends=True)
    full = [i for i, ln in enumerate(lines) if is_record(ln.strip())]
    kinds = LINE_KINDS * (LINES_PER_FILE // len(LINE_KINDS) + 1)
    huge_done = False
    retyped = set()
    for i in rng.sample(full, min(LINES_PER_FILE, len(full))):
        kind = kinds.pop(rng.randrange(len(kinds)))
        if kind == "huge":
            if huge_done:  # one huge line per file: enough to test, and the run stays short
                kind = "wrong_type"
            huge_done = True
        lines[i] = mutate_line(rng, lines[i], kind)
        if kind == "wrong_type":
            retyped.add(i + 1)
    if not lines[-1].endswith(b"\n"):
        lines[-1] += b"\n"  # a last line without its newline is a live writer's: not what this test is about
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(b"".join(lines))
    records = {n for n, ln in enumerate(lines, 1) if ln.strip() and is_record(ln.strip())}
    broken = {n for n, ln in enumerate(lines, 1) if ln.strip() and not is_record(ln.strip())}
    return records, broken, retyped


# -- checks ---------------------------------------------------------------------------------------------------


def ingest(db: Path, source: str, folder: Path) -> dict:
    code, out, err = run_cli("ingest", "--no-embed", "--json", "--source", source, str(folder), db=db)
    assert "Traceback" not in err and "internal error" not in err, err
    assert code in (0, 1), err  # 1: nothing could be ingested (a document broken whole)
    rep = json.loads(out)
    for e in rep["errors"]:
        assert set(e) >= {"file", "line", "reason"}, e
        assert Path(e["file"]).is_relative_to(folder) and "\n" not in e["reason"] and len(e["reason"]) <= 500, e
    return rep


def read_back(db: Path) -> None:
    """What was stored reads without a traceback: sessions, each one shown, stats, a keyword search."""
    code, out, err = run_cli("sessions", "--json", "--subagents", db=db)
    assert code == 0, err
    for s in json.loads(out):
        code, shown, err = run_cli("show", s["session_id"], "--all", db=db)
        assert code == 0 and "Traceback" not in err, (s["session_id"], err)
    for args in (("stats", "--json"), ("search", "--mode", "keyword", "--json", "the long line error")):
        code, _, err = run_cli(*args, db=db)
        assert code == 0 and "Traceback" not in err, (args, err)


@pytest.mark.parametrize("source", sorted(LINE_FORMATS))
def test_a_line_format_reports_exactly_the_broken_lines_and_keeps_every_record(source, tmp_path):
    rng = random.Random(f"{SEED}-{source}")
    folder = tmp_path / "in"
    expected = {}
    for n, src in enumerate(LINE_FORMATS[source]):
        dest = folder / f"{n}-{src.parent.name}" / src.name
        expected[dest] = mutated_file(rng, src, dest)
    db = tmp_path / "v.duckdb"
    rep = ingest(db, source, folder)
    assert rep["files"] == len(expected)
    from vault import rawstore
    from vault.store import open_vault

    con = open_vault(db, read_only=True)
    try:
        for dest, (records, broken, retyped) in expected.items():
            reported = {e["line"] for e in rep["errors"] if e["file"] == str(dest)}
            # Every broken line, and perhaps a record whose new type its parser could not read (kept raw, below).
            assert broken <= reported and reported - broken <= retyped, (dest, sorted(reported ^ broken))
            (file_id,) = con.execute("SELECT file_id FROM files WHERE path = ?", [str(dest)]).fetchone()
            lines = dest.read_bytes().splitlines()
            stored = {n: raw for n, raw in rawstore.read_raw(con, "r.file_id = ?", [file_id], ("line_no",))}
            assert set(stored) == records, (dest, sorted(set(stored) ^ records))
            for n, raw in stored.items():
                assert raw.encode() == lines[n - 1].strip(), (dest, n)
    finally:
        con.close()
    read_back(db)


def _document_sessions(db: Path) -> dict[str, int]:
    from vault.store import open_vault

    con = open_vault(db, read_only=True)
    try:
        return dict(con.execute("SELECT session_id, count(*) FROM messages GROUP BY 1").fetchall())
    finally:
        con.close()


@pytest.mark.parametrize("source", sorted(DOCUMENTS))
def test_a_document_with_values_of_other_types_keeps_every_untouched_conversation(source, tmp_path):
    rng = random.Random(f"{SEED}-{source}-doc")
    before_dir, after_dir = tmp_path / "before", tmp_path / "after"
    touched_top: dict[Path, set] = {}
    for n, src in enumerate(DOCUMENTS[source]):
        name = Path(f"{n}-{src.parent.name}") / src.name
        (before_dir / name).parent.mkdir(parents=True)
        shutil.copy(src, before_dir / name)
        doc = orjson.loads(src.read_bytes())
        # A list of conversations: half of them are mutated, the others must come through as before.
        tops = set(rng.sample(range(len(doc)), max(1, len(doc) // 2))) if isinstance(doc, list) and len(doc) > 1 else None
        paths = [p for p in _paths(doc) if len(p) > 1 and (tops is None or p[0] in tops)]
        for _ in range(12):
            _set(doc, rng.choice(paths), json.loads(json.dumps(rng.choice(OTHER_VALUES))))
            paths = [p for p in _paths(doc) if len(p) > 1 and (tops is None or p[0] in tops)] or paths[:1]
        (after_dir / name).parent.mkdir(parents=True)
        (after_dir / name).write_bytes(orjson.dumps(doc))
        touched_top[name] = tops
    ingest(tmp_path / "before.duckdb", source, before_dir)
    ingest(tmp_path / "after.duckdb", source, after_dir)
    read_back(tmp_path / "after.duckdb")
    before, after = _document_sessions(tmp_path / "before.duckdb"), _document_sessions(tmp_path / "after.duckdb")
    # Conversations no mutation reached: the same sessions, the same messages.
    for name, tops in touched_top.items():
        if tops is None:  # one conversation in the document: it was mutated
            continue
        doc = orjson.loads((before_dir / name).read_bytes())
        untouched = [i for i in range(len(doc)) if i not in tops]
        assert untouched, name
        kept = [sid for sid in before if any(_mentions(doc[i], sid) for i in untouched)]
        assert kept, name
        for sid in kept:
            assert after.get(sid) == before[sid], (name, sid)


def _mentions(conversation, session_id: str) -> bool:
    return session_id.split("/")[-1] in orjson.dumps(conversation).decode()


@pytest.mark.parametrize("source", sorted(DOCUMENTS))
@pytest.mark.parametrize("damage", ["truncated", "bad_utf8"])
def test_a_broken_document_is_one_error_for_its_file(source, damage, tmp_path):
    rng = random.Random(f"{SEED}-{source}-{damage}")
    src = DOCUMENTS[source][0]
    data = src.read_bytes()
    at = rng.randrange(len(data) // 4, len(data) - 1)
    folder = tmp_path / "in"
    folder.mkdir()
    broken = folder / src.name
    broken.write_bytes(data[:at] if damage == "truncated" else data[:at] + b"\xff\xfe" + data[at:])
    rep = ingest(tmp_path / "v.duckdb", source, folder)
    mine = [e for e in rep["errors"] if e["file"] == str(broken)]
    assert len(mine) == 1, rep["errors"]
