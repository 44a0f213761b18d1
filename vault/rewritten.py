"""What a rewritten file's new text makes stale: tool calls it no longer holds, labels of texts that changed.

A file read again whole (an edited transcript, a Gemini session saved again, a regenerated export) keeps its
messages' ids. `vault.ingest` deletes the file's messages and inserts the new ones; rows keyed by those ids
elsewhere would otherwise go on describing the old text:

- `tool_calls` (keyed by the tool's id, filled by an upsert that keeps a stored value where the new row has
  none): a call or result the new text dropped stayed, with its old output. `forget_calls` runs in the
  transaction that deletes the old messages: the halves (call, result) that came from the file are emptied
  and a call left with neither is deleted, unless the new text holds it again (its row is then refilled by
  the insert, keeping what `vault.derive` linked to it). A call whose other half lives in another file
  keeps that half.
- `labels` (the classifier's label of a human-side turn, keyed by msg_id; written by `miner.mine` with a
  hash of the text it judged): `drop_changed_labels` deletes a label whose turn's text changed, in the
  transaction that inserts the new text, so the turn is unlabelled (and the next `vault mine` labels it
  again) rather than carrying a verdict on words it no longer has. A person's relabel (`reviews`) is never
  deleted: the `effective_labels` view (m015) keeps it in effect and flags it `relabel_stale` until the
  person relabels the new text. The core names the miner's table here, as it reads `effective_labels`,
  because the ingest is the one place that sees a text change.
"""

from __future__ import annotations

import duckdb


def text_hash_sql(column: str) -> str:
    """The hash a label or relabel keeps of the text it judged (as m015 computed it for older rows)."""
    return f"md5(coalesce({column}, ''))"


def forget_calls(con: duckdb.DuckDBPyConnection, file_id: int, new_calls) -> None:
    """Before file `file_id`'s messages are deleted: empty the tool-call halves they hold; delete a call left
    with neither half that `new_calls` (the new text's tool calls, an Arrow table) does not hold again.
    (The file's message ids are read first and rows are changed by their key: conditions on a subquery of
    `messages`, or an UPDATE joined to a table of halves, took several times longer on the 1 GB vault.)"""
    msgs = [r[0] for r in con.execute("SELECT msg_id FROM messages WHERE file_id = ?", [file_id]).fetchall()]
    if not msgs:
        return
    rows = con.execute("SELECT tool_use_id, call_msg_id, result_msg_id FROM tool_calls "
                       "WHERE call_msg_id IN (SELECT unnest($m)) OR result_msg_id IN (SELECT unnest($m))",
                       {"m": msgs}).fetchall()
    here = set(msgs)
    kept = set(new_calls.column("tool_use_id").to_pylist()) if new_calls.num_rows else set()
    gone = {t for t, call, result in rows
            if t not in kept and (call is None or call in here) and (result is None or result in here)}
    for ids, fields in (([t for t, _, _ in rows if t in gone], None),
                        ([t for t, call, _ in rows if call in here and t not in gone], _CALL_HALF),
                        ([t for t, _, result in rows if result in here and t not in gone], _RESULT_HALF)):
        if ids and fields is None:
            con.execute("DELETE FROM tool_calls WHERE tool_use_id IN (SELECT unnest($ids))", {"ids": ids})
        elif ids:
            con.execute(f"UPDATE tool_calls SET {', '.join(f'{c} = NULL' for c in fields)} "
                        "WHERE tool_use_id IN (SELECT unnest($ids))", {"ids": ids})


_CALL_HALF = ("call_msg_id", "name", "input")
_RESULT_HALF = ("result_msg_id", "result_text", "is_error")


def drop_changed_labels(con: duckdb.DuckDBPyConnection, file_ids: list[int]) -> int:
    """Delete the labels of these files' messages whose text is not the one labelled; returns how many.
    A label without a hash (written by something other than `vault mine`) is taken as current."""
    if not file_ids:
        return 0
    stale = [r[0] for r in con.execute(
        f"""SELECT l.msg_id FROM labels l JOIN messages m USING (msg_id)
            WHERE m.file_id IN (SELECT unnest($ids)) AND l.text_hash IS NOT NULL
              AND l.text_hash <> {text_hash_sql('m.text')}""", {"ids": file_ids}).fetchall()]
    if stale:
        con.execute("DELETE FROM labels WHERE msg_id IN (SELECT unnest($ids))", {"ids": stale})
    return len(stale)
