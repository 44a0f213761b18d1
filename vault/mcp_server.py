"""`vault mcp`: the vault as a Model Context Protocol server over stdio (official `mcp` SDK, 2.x API).

    claude mcp add vault -- vault mcp

The tools are vault/mcp_tools.py's `VaultTools` methods; here they get their descriptions and typed
arguments (the SDK turns the signatures into JSON schemas and rejects wrong types itself), and our own
argument errors become tool errors the model can read. Imported only by `vault mcp` (the SDK is heavy).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from vault.errors import VaultError
from vault.mcp_tools import RANGES

INSTRUCTIONS = (
    "Search and read this person's past AI-assistant sessions (Claude Code, Codex, Gemini, chat exports). "
    "Use `search` to find where something was discussed, then `get_session` with a result's session_id "
    "(and `at` = its msg_id) to read it. `corrections` shows where the person corrected an assistant and "
    "what it did next; `persona` gives a role's standing preferences; `stats` the correction rates. "
    "Texts are redacted (secrets, e-mails, home paths) and cut to a budget; lists are paged with "
    "offset/next_offset."
)


def bounded(tool: str, name: str, description: str) -> Any:
    """The schema of a whole-number argument: its bounds from vault.mcp_tools.RANGES, which the tool checks too."""
    lo, hi = RANGES[tool, name]
    return Field(ge=lo, le=hi, description=description)


def build(tools) -> Any:
    """An MCPServer exposing `tools` (a VaultTools)."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    server = MCPServer("vault", instructions=INSTRUCTIONS, log_level="WARNING")

    def call(fn, **kwargs) -> dict[str, Any]:
        try:
            return fn(**kwargs)
        except VaultError as e:  # ours: one clear line for the model
            raise ToolError(str(e)) from None

    @server.tool(description=(
        "Search past sessions' messages. Returns {mode, results: [{session_id, msg_id, role, kind, score, "
        "timestamp, project, role_name, snippet}], next_offset?, notes?}; snippets mark matched words "
        "**like this**. keyword = BM25 (fast), semantic = embeddings, hybrid = both fused (default; falls back "
        "to keyword when the vault has no embeddings)."))
    def search(
        query: Annotated[str, Field(description="Words to find; \"quoted phrases\" must match exactly.")],
        mode: Annotated[Literal["keyword", "semantic", "hybrid"], Field(description="Ranking.")] = "hybrid",
        project: Annotated[str | None, Field(description="Project name or cwd substring.")] = None,
        role: Annotated[str | None, Field(description="Only sessions of this role (after `vault mine`).")] = None,
        since: Annotated[str | None, Field(description="Messages on or after this date/time (YYYY-MM-DD[THH:MM]).")] = None,
        until: Annotated[str | None, Field(description="Messages on or before this date/time.")] = None,
        source: Annotated[str | None, Field(description="Only this source: claude_code, codex, gemini, neutral, ...")] = None,
        human_only: Annotated[bool, Field(description="Only what a person typed.")] = False,
        kind: Annotated[list[str] | None, Field(description=(
            "Only these message kinds: e.g. human_prompt, assistant_text, tool_call (commands, paths, patterns), "
            "tool_result (tool output and errors); the groups typed and tools."))] = None,
        limit: Annotated[int, bounded("search", "limit", "Results per page.")] = 10,
        offset: Annotated[int, bounded("search", "offset", "Skip this many (from next_offset).")] = 0,
        max_chars: Annotated[int, bounded("search", "max_chars", "Characters per snippet.")] = 400,
    ) -> dict[str, Any]:
        return call(tools.search, query=query, mode=mode, project=project, role=role, since=since, until=until,
                    source=source, human_only=human_only, kind=kind, limit=limit, offset=offset,
                    max_chars=max_chars)

    @server.tool(description=(
        "Read one session as a conversation, a page at a time, as `vault show` prints it: your turns, the "
        "assistant's text, each tool call on one line, tool errors. Returns {session: {session_id, title, source, "
        "project, git_branch, started_at, ended_at, parent_session_id, subagents, messages_shown, messages_total}, "
        "offset, messages: [{msg_id, timestamp, who, text, label?}], next_offset?}."))
    def get_session(
        session: Annotated[str, Field(description="A session id, a unique prefix of one, or a message id in it.")],
        offset: Annotated[int, bounded("get_session", "offset",
                                       "First message of the page (from next_offset).")] = 0,
        limit: Annotated[int, bounded("get_session", "limit", "Messages per page.")] = 40,
        at: Annotated[str | None, Field(description="Start the page at this message id (a search hit's msg_id).")] = None,
        include_all: Annotated[bool, Field(description="Also thinking, meta and system records.")] = False,
        max_chars: Annotated[int, bounded("get_session", "max_chars", "Characters per message.")] = 2000,
    ) -> dict[str, Any]:
        return call(tools.get_session, session=session, offset=offset, limit=limit, at=at, include_all=include_all,
                    max_chars=max_chars)

    @server.tool(description=(
        "Recent corrections (turns where the person had to correct the assistant, newest first; needs "
        "`vault mine`). Returns {labels, corrections: [{session_id, msg_id, timestamp, project, role, "
        "assistant_before (the answer that was corrected), correction, assistant_after (what it did next), "
        "next_human_turn: {msg_id, label, text}}], next_offset?, notes?}."))
    def corrections(
        project: Annotated[str | None, Field(description="Project name or cwd substring.")] = None,
        role: Annotated[str | None, Field(description="Only sessions of this role.")] = None,
        since: Annotated[str | None, Field(description="On or after this date/time (YYYY-MM-DD[THH:MM]).")] = None,
        limit: Annotated[int, bounded("corrections", "limit", "Corrections per page.")] = 5,
        offset: Annotated[int, bounded("corrections", "offset", "Skip this many (from next_offset).")] = 0,
        max_chars: Annotated[int, bounded("corrections", "max_chars", "Characters per text.")] = 800,
    ) -> dict[str, Any]:
        return call(tools.corrections, project=project, role=role, since=since, limit=limit, offset=offset,
                    max_chars=max_chars)

    @server.tool(description=(
        "The standing preferences (persona) mined from the person's corrections, per role, redacted. Returns "
        "{personas: [{role, text, rules: [str], edited, updated_at}], notes?}."))
    def persona(
        role: Annotated[str | None, Field(description="One role (default: every role).")] = None,
        max_chars: Annotated[int, bounded("persona", "max_chars", "Characters of each persona text.")] = 6000,
    ) -> dict[str, Any]:
        return call(tools.persona, role=role, max_chars=max_chars)

    @server.tool(description=(
        "Counts and correction rates. Returns {sessions, messages, human_messages, by_source, first_message, "
        "last_message, corrections: {definition, threshold, labelled_turns, unlabelled_turns, "
        "abandoned_branch_turns, overall, roles, troubled_sessions: [{session_id, role, source, started_at, "
        "human_turns, corrections, rate, project, title}], troubled_total}, notes?}."))
    def stats(
        role: Annotated[str | None, Field(description="Only this role.")] = None,
        troubled_limit: Annotated[int, bounded("stats", "troubled_limit",
                                               "Troubled sessions listed, worst first.")] = 10,
    ) -> dict[str, Any]:
        return call(tools.stats, role=role, troubled_limit=troubled_limit)

    return server


def serve(settings) -> None:
    """Run the server on stdin/stdout until the client closes it."""
    from vault.mcp_tools import VaultTools

    import threading

    tools = VaultTools(settings.db, settings)
    threading.Thread(target=tools.warm_up, daemon=True).start()
    try:
        build(tools).run("stdio")
    finally:
        tools.close()
