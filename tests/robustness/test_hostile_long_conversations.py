"""Message order (`seq`) stays exact in conversations far longer than anything seen so far (issue 13).

`seq` once packed (file_id, line, position in the line) with 12 bits for the position: message 4096 of
one conversation sorted next to message 0. Neutral JSONL and ChatGPT exports hold a whole
conversation in one record, so 10,000 messages must come back in their order.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support import forget_migration
from vault.ingest import ingest
from vault.store import open_vault

N = 10_000


def ordered(con, session: str) -> list[str]:
    return [r[0] for r in con.execute("SELECT msg_id FROM messages WHERE session_id = ? ORDER BY seq",
                                      [session]).fetchall()]


def neutral_file(path: Path, lines: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))


def long_neutral(cid: str, n: int = N) -> dict:
    return {"id": cid, "messages": [{"role": "user" if i % 2 == 0 else "assistant", "content": f"m{i}"}
                                    for i in range(n)]}


def test_neutral_conversation_of_10000_messages_keeps_its_order(tmp_path):
    neutral_file(tmp_path / "src" / "long.jsonl", [long_neutral("short", 3), long_neutral("long")])
    con = open_vault(tmp_path / "v.duckdb")
    ingest(con, [tmp_path / "src"])
    assert ordered(con, "long") == [f"long#{i}" for i in range(N)]
    assert ordered(con, "short") == [f"short#{i}" for i in range(3)]
    # An appended conversation sorts after everything already there, in its own order too.
    with open(tmp_path / "src" / "long.jsonl", "a") as fh:
        fh.write(json.dumps(long_neutral("later", 5000)) + "\n")
    ingest(con, [tmp_path / "src"])
    assert ordered(con, "later") == [f"later#{i}" for i in range(5000)]
    first = con.execute("SELECT min(seq) FROM messages WHERE session_id = 'later'").fetchone()[0]
    last_before = con.execute("SELECT max(seq) FROM messages WHERE session_id = 'long'").fetchone()[0]
    assert first > last_before
    con.close()


def test_chatgpt_conversation_of_10000_messages_keeps_its_order(tmp_path):
    ids = [f"n{i}" for i in range(N)]
    mapping = {"root": {"id": "root", "message": None, "parent": None, "children": [ids[0]]}}
    for i, node in enumerate(ids):
        mapping[node] = {
            "id": node, "parent": ids[i - 1] if i else "root", "children": [ids[i + 1]] if i + 1 < N else [],
            "message": {"id": node, "author": {"role": "user" if i % 2 == 0 else "assistant"},
                        "content": {"content_type": "text", "parts": [f"m{i}"]}, "create_time": 1.7e9},
        }
    conv = [{"id": "c-long", "title": "long", "create_time": 1.7e9, "current_node": ids[-1], "mapping": mapping}]
    src = tmp_path / "conversations.json"
    src.write_text(json.dumps(conv))
    con = open_vault(tmp_path / "v.duckdb")
    ingest(con, [src])
    assert ordered(con, "c-long") == ids
    con.close()


OLD_SEQ = "(file_id::BIGINT << 40) | (line_no::BIGINT << 12) | (CAST(split_part(msg_id, '#', 2) AS BIGINT) & 4095)"


def test_m004_marks_files_with_colliding_seq_for_a_reread_and_keeps_the_rest(tmp_path):
    """A vault written with the old packing: the next ingest re-reads the files whose order was lost."""
    src = tmp_path / "src"
    neutral_file(src / "long.jsonl", [long_neutral("long", 5000)])
    neutral_file(src / "fine.jsonl", [long_neutral("fine", 10)])
    path = tmp_path / "v.duckdb"
    con = open_vault(path)
    ingest(con, [src])
    con.execute(f"UPDATE messages SET seq = {OLD_SEQ}")  # as the old packing wrote them
    forget_migration(con, "m004_seq_ordinal")
    count_before = con.execute("SELECT count(*) FROM messages").fetchone()[0]
    con.close()

    con = open_vault(path)  # migrates
    assert ordered(con, "long") != [f"long#{i}" for i in range(5000)]  # still the old, wrong order...
    rep = ingest(con, [src])
    assert rep.files == 1 and rep.files_unchanged == 1  # ...until the one damaged file is read again
    assert ordered(con, "long") == [f"long#{i}" for i in range(5000)]
    assert ordered(con, "fine") == [f"fine#{i}" for i in range(10)]
    assert con.execute("SELECT count(*) FROM messages").fetchone()[0] == count_before
    assert len(list(path.parent.glob("v.duckdb.bak-*"))) == 1
    con.close()


@pytest.mark.parametrize("tail", [1, 4097])
def test_appends_to_a_file_written_with_the_old_packing_sort_after_it(tmp_path, tail):
    src = tmp_path / "src"
    neutral_file(src / "a.jsonl", [long_neutral("a", 4000)])
    path = tmp_path / "v.duckdb"
    con = open_vault(path)
    ingest(con, [src])
    con.execute(f"UPDATE messages SET seq = {OLD_SEQ}")
    with open(src / "a.jsonl", "a") as fh:
        fh.write(json.dumps(long_neutral("b", tail)) + "\n")
    ingest(con, [src])
    assert ordered(con, "b") == [f"b#{i}" for i in range(tail)]
    assert con.execute("SELECT (SELECT min(seq) FROM messages WHERE session_id = 'b') > "
                       "(SELECT max(seq) FROM messages WHERE session_id = 'a')").fetchone()[0]
    con.close()
