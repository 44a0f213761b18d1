"""A message of megabytes (a pasted log, a file read whole): `vault show` renders its start and names the rest,
`vault show --json` keeps it whole. Rendering 8 MiB through rich took 47 s of CPU (found by the parser fuzz)."""

from __future__ import annotations

import json

import orjson

from support import EXAMPLES, run_cli

SESSION = "43dd531a-0cbc-5e9f-95e6-e92314c5062d"
SIZE = 600_000


def test_a_huge_message_is_shown_cut_and_kept_whole(tmp_path):
    src = EXAMPLES / "claude-code/-home-jdoe-code-billing-api" / f"{SESSION}.jsonl"
    lines = src.read_bytes().splitlines()
    big = {"human": "log line 17: connection reset\n" * (SIZE // 30), "assistant": "Here is the table: | a | b |\n" * (SIZE // 30)}
    for i, line in enumerate(lines):
        rec = orjson.loads(line)
        if rec.get("type") == "user" and isinstance(rec["message"]["content"], str) and big.get("human"):
            rec["message"]["content"] = big.pop("human")
        elif rec.get("type") == "assistant" and big.get("assistant"):
            rec["message"]["content"] = [{"type": "text", "text": big.pop("assistant")}]
        lines[i] = orjson.dumps(rec)
    assert not big
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / src.name).write_bytes(b"\n".join(lines) + b"\n")
    db = tmp_path / "v.duckdb"
    assert run_cli("ingest", "--no-embed", "--json", str(tmp_path / "in"), db=db)[0] == 0
    code, out, err = run_cli("show", SESSION, db=db)
    assert code == 0, err
    assert out.count("more characters (`vault show --json` has them all)") == 2
    assert len(out) < 200_000
    code, out, err = run_cli("show", SESSION, "--json", db=db)
    texts = [m["text"] for m in json.loads(out)["messages"]]
    assert sum(len(t or "") > SIZE * 0.9 for t in texts) == 2
