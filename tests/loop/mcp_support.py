"""A small vault for the `vault mcp` tests, and a client that drives the real server through the SDK."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from support import VAULT, vault_env

SESSION = "77777777-7777-4777-8777-777777777777"
SECRET = "sk-ant-api03-" + "Zq8vT2mN5xR7wK1pL4sD9fG3hJ6bV0cXy"
EMAIL = "jane.doe@example.org"
# (role, text): a person asks, the assistant answers, the person corrects it, the assistant redoes it.
TURNS = [
    ("user", "Write a flaky-test detector for the billing service"),
    ("assistant", "I wrote detector.py using unittest and a retry loop over the billing suite."),
    ("user", f"No, that's wrong: use pytest, never unittest. My key is {SECRET}, mail {EMAIL} if stuck."),
    ("assistant", "Rewrote the flaky-test detector with pytest and pytest-rerunfailures."),
    ("user", "Perfect, thanks! That works."),
]


# A second session of the same project where the person says it again: a standing rule (personas need
# a preference stated in two sessions).
SESSION_2 = "66666666-6666-4666-8666-666666666666"
TURNS_2 = [
    ("user", "Add a test for the invoice rounding"),
    ("assistant", "Added test_rounding as a unittest.TestCase."),
    ("user", "No. Never use unittest, always use pytest."),
    ("assistant", "Switched it to a plain pytest test function."),
]


def write_session(folder: Path, turns=TURNS, session: str = SESSION, day: int = 2) -> Path:
    """A Claude Code 2.1 transcript with these turns."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{session}.jsonl"
    parent = None
    with open(path, "w", encoding="utf-8") as fh:
        for i, (role, text) in enumerate(turns):
            uuid = f"{session[:8]}-{session[-4:]}-4000-8000-{i:012d}"
            rec: dict[str, Any] = {
                "parentUuid": parent, "isSidechain": False, "userType": "external", "cwd": "/home/jane/billing",
                "sessionId": session, "version": "2.1.39", "gitBranch": "main", "type": role, "uuid": uuid,
                "timestamp": f"2026-03-{day:02d}T10:00:{i:02d}.000Z"}
            if role == "user":
                rec["message"] = {"role": "user", "content": text}
            else:
                rec["requestId"] = f"req_{i}"
                rec["message"] = {"model": "claude-opus-4-6", "id": f"msg_{i}", "type": "message",
                                  "role": "assistant", "content": [{"type": "text", "text": text}],
                                  "stop_reason": "end_turn", "usage": {"input_tokens": 1, "output_tokens": 1}}
            fh.write(json.dumps(rec) + "\n")
            parent = uuid
    return path


def mined_vault(tmp_path: Path) -> Path:
    """A vault of `write_session`'s session (project billing), ingested and mined by the heuristic classifier."""
    from miner.mine import mine
    from vault.ingest import ingest
    from vault.store import open_vault

    write_session(tmp_path / "src" / "-home-jane-billing")
    db = tmp_path / "vault.duckdb"
    con = open_vault(db)
    try:
        ingest(con, [tmp_path / "src"])
        mine(con, backend="heuristic", build_pairs_too=False)
    finally:
        con.close()
    return db


def server_env(home: Path) -> dict[str, str]:
    return vault_env({"VAULT_HOME": str(home), "TRANSFORMERS_OFFLINE": "1"})


@contextlib.asynccontextmanager
async def mcp_client(home: Path, *extra: str) -> AsyncIterator[Any]:
    """A ClientSession on a `vault mcp` subprocess (the SDK's own stdio client), initialised."""
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    params = StdioServerParameters(command=VAULT[0], args=[*VAULT[1:], *extra, "mcp"], env=server_env(home),
                                   cwd=str(home))
    async with stdio_client(params) as streams:
        async with ClientSession(*streams) as session:
            await session.initialize()
            yield session


def payload(result) -> dict[str, Any]:
    """The JSON a tool returned (structured content, else its text)."""
    assert not result.is_error, result.content[0].text
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


def error_text(result) -> str:
    assert result.is_error, result
    return result.content[0].text
