"""What an ingest derives across files for the sessions it touched (in the table named `TOUCHED`):
session bounds, counts and first prompt, and the links between subagent sessions and the calls that
spawned them. Runs after each parser's `finalize`; recomputed whole for a touched session, so a re-run
after a crash makes it consistent (pending sessions, migration m005).
"""

from __future__ import annotations

from vault.sources.base import TOUCHED


def derive_sessions(con) -> None:
    """Session totals and subagent links of the touched sessions."""
    _refresh_sessions(con)
    _link_subagents(con)


def _refresh_sessions(con) -> None:
    # Totals from the light columns first, then the first prompt's text by rowid: the touched sessions' rows lie apart
    # in the table (a resumed session's copies, sessions of several files), and reading `text` for all of them
    # decompressed most of the column (16 sessions appended to on the 1 GB vault: 0.21 s of CPU; docs/foundation.md).
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _session_totals AS
        SELECT session_id, min(timestamp) AS started, max(timestamp) AS ended, count(*) AS n,
               count(*) FILTER (WHERE is_human) AS h, arg_min(rowid, seq) FILTER (WHERE is_human) AS first_row
        FROM messages WHERE session_id IN (SELECT session_id FROM {TOUCHED})
        GROUP BY session_id
        """
    )
    try:
        con.execute(
            """
            UPDATE sessions SET started_at = a.started, ended_at = a.ended, messages = a.n,
                   human_messages = a.h, first_prompt = f.first
            FROM _session_totals a LEFT JOIN (
                SELECT rowid AS first_row, left(text, 300) AS first FROM messages
                WHERE rowid IN (SELECT first_row FROM _session_totals)
            ) f USING (first_row)
            WHERE sessions.session_id = a.session_id
            """
        )
    finally:
        con.execute("DROP TABLE _session_totals")


def _link_subagents(con) -> None:
    # A parser that reads which subagent a tool result spawned puts its id in extra.subagent
    # (Claude Code: toolUseResult.agentId); a subagent session may name its parent call instead.
    con.execute(
        f"""
        UPDATE tool_calls SET subagent_session_id = m.session_id || '/agent-' || json_extract_string(m.extra, '$.subagent')
        FROM messages m JOIN {TOUCHED} t USING (session_id)
        WHERE m.msg_id = tool_calls.result_msg_id AND json_extract_string(m.extra, '$.subagent') IS NOT NULL
        """
    )
    con.execute(
        """
        UPDATE sessions SET parent_tool_use_id = tc.tool_use_id
        FROM tool_calls tc
        WHERE tc.subagent_session_id = sessions.session_id AND sessions.parent_tool_use_id IS NULL
        """
    )
    con.execute(
        f"""
        UPDATE tool_calls SET subagent_session_id = s.session_id
        FROM sessions s JOIN {TOUCHED} t USING (session_id)
        WHERE s.parent_tool_use_id = tool_calls.tool_use_id AND tool_calls.subagent_session_id IS NULL
        """
    )
