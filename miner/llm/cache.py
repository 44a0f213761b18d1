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
