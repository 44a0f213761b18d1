"""Malformed lines never crash the ingest and never cost the valid lines around them.

Property-based (hypothesis): real lines from the corpora interleaved with random bytes, truncated
copies of real lines, invalid UTF-8 and valid JSON with wrong types in every field.
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import claude_code_file
from vault.ingest import ingest
from vault.sources.claude_code import ClaudeCodeParser
from vault.store import open_vault

# Real lines of several versions and shapes: user, assistant, tool results, system, progress, snapshot.
REAL_LINES = [
    line for rel in ("spotter/short.jsonl", "sniffly/fed8ce56-bc79-401f-a83e-af084253362f.jsonl")
    for line in claude_code_file(rel).read_bytes().splitlines() if line.strip()
]
MESSAGE_LINES = [ln for ln in REAL_LINES if json.loads(ln).get("type") in ("user", "assistant", "system")]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@st.composite
def wrong_types(draw) -> bytes:
    """A real record with one field (top level or inside `message`) replaced by a random JSON value."""
    rec = json.loads(draw(st.sampled_from(MESSAGE_LINES)))
    rec["uuid"] = draw(st.uuids()).hex  # never collides with a valid line's id
    target = rec["message"] if isinstance(rec.get("message"), dict) and draw(st.booleans()) else rec
    key = draw(st.sampled_from(sorted(target)))
    target[key] = draw(json_values)
    return json.dumps(rec).encode()  # json, not orjson: allows integers beyond 64 bits


@st.composite
def truncated(draw) -> bytes:
    line = draw(st.sampled_from(REAL_LINES))
    return line[: draw(st.integers(1, len(line) - 1))]


garbage = st.one_of(
    st.binary(min_size=1, max_size=200).map(lambda b: b.replace(b"\n", b" ")),
    truncated(),
    wrong_types(),
    st.sampled_from([b"\xff\xfe{\"type\": \"user\"}", b"{\"type\": \"user\", \"x\": \"\xc3\x28\"}",
                     b"[1, 2]", b"42", b"null", b"\"a string\""]),
)


@st.composite
def mixed_files(draw) -> tuple[list[bytes], list[int]]:
    """Lines, and the indexes of the valid real ones in it."""
    valid = draw(st.lists(st.sampled_from(MESSAGE_LINES), min_size=1, max_size=8, unique=True))
    lines: list[bytes] = []
    keep: list[int] = []
    for v in valid:
        lines += draw(st.lists(garbage, max_size=3))
        keep.append(len(lines))
        lines.append(v)
    lines += draw(st.lists(garbage, max_size=3))
    return lines, keep


def _uuid(line: bytes) -> str:
    return json.loads(line)["uuid"]


def _jsonl(path: Path, lines: list[bytes]) -> Path:
    """`lines` written to `path` (its folder made), one a line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(mixed_files())
def test_garbage_never_crashes_and_valid_lines_survive(tmp_path, case):
    lines, keep = case
    path = _jsonl(tmp_path / "s.jsonl", lines)
    res = ClaudeCodeParser().parse(path)
    got = {m.msg_id for m in res.messages}
    for i in keep:
        assert _uuid(lines[i]) in got
    raw_lines = {r.line_no for r in res.raw}
    assert {i + 1 for i in keep} <= raw_lines
    # Every line is accounted for: kept raw, or reported with its line number (blank lines aside).
    reported = {e.line for e in res.errors}
    for n, line in enumerate(lines, 1):
        if line.strip():
            assert n in raw_lines or n in reported, (n, line[:80])
    assert res.end_offset == path.stat().st_size


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mixed_files())
def test_invalid_utf8_and_bad_json_reported_with_line(tmp_path, case):
    lines, keep = case
    path = _jsonl(tmp_path / "s.jsonl", lines)
    res = ClaudeCodeParser().parse(path)
    for e in res.errors:
        bad = lines[e.line - 1]
        assert e.line - 1 not in keep
        assert e.reason
        try:
            obj = orjson.loads(bad)
        except orjson.JSONDecodeError:
            continue  # invalid JSON or UTF-8: reported, correct
        assert not isinstance(obj, dict) or "record shape" in e.reason


def test_ten_megabyte_lines_through_the_engine(tmp_path):
    """A real 10 MB tool output is kept whole; a 10 MB broken line is reported and skipped."""
    lines = list(MESSAGE_LINES[:3])
    big = json.loads(next(ln for ln in MESSAGE_LINES if b'"tool_result"' in ln))
    big["uuid"] = "10000000-0000-4000-8000-000000000001"
    block = big["message"]["content"][0]
    block["content"] = "x" * (10 * 1024 * 1024)
    lines.insert(1, orjson.dumps(big))
    lines.insert(3, b'{"type": "user", "message": {"content": "' + b"y" * (10 * 1024 * 1024))  # no closing
    src = _jsonl(tmp_path / "src" / "big.jsonl", lines).parent
    con = open_vault(tmp_path / "v.duckdb")
    try:
        rep = ingest(con, [src])
        assert rep.skipped_lines == 1 and rep.errors[0]["line"] == 4 and rep.errors[0]["file"].endswith("big.jsonl")
        text = con.execute("SELECT text FROM messages WHERE msg_id = ?", [big["uuid"]]).fetchone()[0]
        assert len(text) == 10 * 1024 * 1024
        ids = {r[0] for r in con.execute("SELECT msg_id FROM messages").fetchall()}
        assert {_uuid(ln) for ln in MESSAGE_LINES[:3]} <= ids
    finally:
        con.close()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mixed_files())
def test_garbage_through_the_engine_and_cli_contract(tmp_path_factory, case):
    """The same property end to end: the engine commits the valid lines and reports the bad ones."""
    lines, keep = case
    d = tmp_path_factory.mktemp("g")
    _jsonl(d / "src" / "s.jsonl", lines)
    con = open_vault(d / "v.duckdb")
    try:
        rep = ingest(con, [d / "src"])
        ids = {r[0] for r in con.execute("SELECT msg_id FROM messages").fetchall()}
        assert {_uuid(lines[i]) for i in keep} <= ids
        assert all(isinstance(e["line"], int) and e["line"] >= 1 for e in rep.errors)
        assert con.execute("SELECT byte_offset FROM files").fetchone()[0] == (d / "src" / "s.jsonl").stat().st_size
    finally:
        con.close()


def test_real_line_shapes_parse_without_errors():
    """Sanity for the strategies above: the real lines alone give no error."""
    assert len(MESSAGE_LINES) > 10
    for p in (claude_code_file("spotter/short.jsonl"),):
        assert ClaudeCodeParser().parse(p).errors == []


def test_every_field_of_real_records_with_wrong_types_through_the_engine(tmp_path):
    """Deterministic sweep: each field of real user/assistant/system records set to a list, a number,
    an object and a non-date string, all in one file between valid lines; nothing crashes the file."""
    bad: list[bytes] = []
    for n, line in enumerate(MESSAGE_LINES[:6]):
        rec = json.loads(line)
        for target_name in ("top", "message"):
            target = rec.get("message") if target_name == "message" else rec
            if not isinstance(target, dict):
                continue
            for key in sorted(target):
                for value in ([], 12345678901234567890, {"x": 1}, "not-a-date"):
                    mutated = json.loads(line)
                    where = mutated["message"] if target_name == "message" else mutated
                    where[key] = value
                    mutated["uuid"] = f"bad-{n}-{target_name}-{key}-{type(value).__name__}"
                    bad.append(json.dumps(mutated).encode())
    lines = [MESSAGE_LINES[0], *bad, MESSAGE_LINES[1]]
    src = _jsonl(tmp_path / "src" / "s.jsonl", lines).parent
    con = open_vault(tmp_path / "v.duckdb")
    try:
        rep = ingest(con, [src])
        assert rep.files == 1 and len(bad) > 100
        ids = {r[0] for r in con.execute("SELECT msg_id FROM messages").fetchall()}
        assert {_uuid(MESSAGE_LINES[0]), _uuid(MESSAGE_LINES[1])} <= ids
        assert con.execute("SELECT count(*) FROM records").fetchone()[0] + rep.skipped_lines >= len(lines)
    finally:
        con.close()


def test_a_first_record_whose_type_is_a_list_does_not_hide_the_file(tmp_path):
    """Found by the property above: `"type": []` on the first record made format detection raise (a set lookup of
    a list), so the whole file was taken as no format and its valid lines were not ingested."""
    first = json.loads(MESSAGE_LINES[0])
    first["type"], first["uuid"] = [], "odd-first"
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "s.jsonl").write_bytes(json.dumps(first).encode() + b"\n" + MESSAGE_LINES[1] + b"\n")
    con = open_vault(tmp_path / "v.duckdb")
    try:
        ingest(con, [tmp_path / "src"])
        ids = {r[0] for r in con.execute("SELECT msg_id FROM messages").fetchall()}
        assert json.loads(MESSAGE_LINES[1])["uuid"] in ids
    finally:
        con.close()
