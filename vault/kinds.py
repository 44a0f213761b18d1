"""Message kinds: the constants every part of the vault names a message's kind with.

A module of its own, without vault.model's dataclasses (6 slotted classes: 3-4 ms of a cold keyword
search's CPU to build), so that the search imports only these; vault.model re-exports them.
"""

from __future__ import annotations

from vault.sqlstring import sql_strings


class Kind:
    """Message kinds. `HUMAN_TYPED` are the ones a person typed."""

    HUMAN_PROMPT = "human_prompt"
    QUEUED_PROMPT = "queued_prompt"  # typed while the agent was working
    QUEUED_DUPLICATE = "queued_duplicate"  # the second copy of a queued prompt (delivered later as its own record)
    TOOL_REJECTION = "tool_rejection"  # is_human only when it carries a typed reason
    INTERRUPT = "interrupt"
    ASSISTANT_TEXT = "assistant_text"
    THINKING = "thinking"
    TOOL_CALL = "tool_call"
    TOOL_RESULT = "tool_result"
    USER_ANSWER = "user_answer"  # AskUserQuestion answers (options picked by a person)
    COMMAND = "command"  # slash-command wrapper
    COMMAND_OUTPUT = "command_output"  # <local-command-stdout>
    META = "meta"  # isMeta: expanded command bodies, caveats
    COMPACT_SUMMARY = "compact_summary"
    SYSTEM_REMINDER = "system_reminder"
    HOOK_FEEDBACK = "hook_feedback"
    TASK_NOTIFICATION = "task_notification"
    SUBAGENT_PROMPT = "subagent_prompt"  # a parent agent's prompt to a subagent
    API_ERROR = "api_error"
    SYSTEM = "system"
    IMAGE = "image"
    OTHER = "other"

    HUMAN_TYPED = frozenset({HUMAN_PROMPT, QUEUED_PROMPT})
    # Human-side turns the miner labels: typed text plus structural signals.
    HUMAN_SIDE = frozenset({HUMAN_PROMPT, QUEUED_PROMPT, TOOL_REJECTION, INTERRUPT})


def kinds_sql(kinds) -> str:
    """`'a', 'b'`: kinds for an SQL `IN (...)`, sorted (the same text for the same set)."""
    return sql_strings(sorted(kinds))
