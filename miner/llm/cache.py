"""The `llm_cache` table, its one owner: validated answers by cache key (sha256 of model, prompt version and
redacted payload), with the tokens the API reported; and the id of a Message Batch in flight, so that an
interrupted run resumes the batch instead of paying again."""

from __future__ import annotations

from typing import Any

import orjson


def cached_answers(con, keys: list[str]) -> dict[str, Any]:
    """key -> the stored answer (decoded JSON) of the keys that have one."""
    if not keys:
        return {}
    rows = con.execute(
        "SELECT cache_key, response FROM llm_cache WHERE cache_key IN (SELECT unnest(?::VARCHAR[]))",
        [keys]).fetchall()
    return {k: orjson.loads(v) for k, v in rows if v is not None}


def store_answer(con, key: str, model: str, response_json: str, input_tokens: int, output_tokens: int) -> None:
    con.execute(
        "INSERT OR REPLACE INTO llm_cache (cache_key, model, response, input_tokens, output_tokens) "
        "VALUES (?, ?, ?, ?, ?)",
        [key, model, response_json, input_tokens, output_tokens])


def pending_batch(con, key: str) -> str | None:
    """The id of the batch remembered under `key`, if one is."""
    row = con.execute("SELECT response FROM llm_cache WHERE cache_key = ?", [key]).fetchone()
    return orjson.loads(row[0])["batch_id"] if row else None


def remember_batch(con, key: str, model: str, batch_id: str) -> None:
    con.execute("INSERT OR REPLACE INTO llm_cache (cache_key, model, response) VALUES (?, ?, ?)",
                [key, model, orjson.dumps({"batch_id": batch_id}).decode()])


def forget(con, key: str) -> None:
    con.execute("DELETE FROM llm_cache WHERE cache_key = ?", [key])


def adopt(con, older: dict[str, list[str]]) -> int:
    """Answers stored under an older key of the same request moved to its current key, when the current key has
    none (current key -> its older keys, the first stored wins): a change of how a request is keyed pays nothing
    again. Written first under the new key, then removed under the old one (a crash between leaves both, harmless).
    How many were moved."""
    missing = [k for k, olds in older.items() if olds]
    if not missing:
        return 0
    keys = missing + [o for k in missing for o in older[k]]
    have = {r[0] for r in con.execute(
        "SELECT cache_key FROM llm_cache WHERE cache_key IN (SELECT unnest(?::VARCHAR[]))", [keys]).fetchall()}
    moved = 0
    for key in missing:
        old = next((o for o in older[key] if o in have and o != key), None)
        if key in have or old is None:
            continue
        con.execute("INSERT INTO llm_cache (cache_key, model, response, input_tokens, output_tokens, created_at) "
                    "SELECT ?, model, response, input_tokens, output_tokens, created_at FROM llm_cache "
                    "WHERE cache_key = ?", [key, old])
        con.execute("DELETE FROM llm_cache WHERE cache_key = ?", [old])
        have.add(key)
        have.discard(old)
        moved += 1
    return moved
