"""Human-side turns in context, read from the vault for the classifiers.

One pass over the messages of the selected sessions, in file order (`seq`),
main branch only: each human-side message (Kind.HUMAN_SIDE) becomes a `Turn`
holding what a classifier needs to judge it: the assistant's answer just before
(its text and its tool calls, rendered compactly), whether a tool failed in that
answer, the previous human-side turn, a few turns of context, and the head of the
assistant's next answer (its prose and first tool calls: what it did right after).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import duckdb

from miner.classify.after import AWAITING
from miner.classify.base import AFTER_CHARS, Turn
from miner.render import tool_line
from vault.model import Kind, kinds_sql
from vault.sqlfilter import Filter
from vault.sqlstring import sql_string

CONTEXT_TURNS = 6  # (role, text) pairs kept before each turn, for backends that read context
ANSWER_CHARS = 4000  # the assistant answer kept per turn (its end matters most: the claim before the user reacts)
AFTER_CALLS = 20  # the next answer's first tool calls kept per turn (enough to see a redo)
_SESSION_CHUNK = 2000  # sessions per query: bounded memory on large vaults


def awaiting_answer(con) -> dict[str, str]:
    """{msg_id: session_id} of the labels given while the next answer was unknown whose answer has arrived since."""
    return dict(con.execute(
        f"""SELECT l.msg_id, m.session_id FROM labels l JOIN messages m USING (msg_id)
            WHERE l.reasons LIKE '%"{AWAITING}"%' AND EXISTS (
                SELECT 1 FROM messages a WHERE a.session_id = m.session_id AND a.on_main_branch
                AND a.seq > m.seq AND a.kind = {sql_string(Kind.ASSISTANT_TEXT)})""").fetchall())


def _select_sessions(con, session_ids, only_unlabelled: bool, awaiting: dict[str, str]) -> list[str]:
    if session_ids is not None:
        return list(session_ids)
    if only_unlabelled:
        sql = f"""SELECT DISTINCT m.session_id FROM messages m ANTI JOIN labels l USING (msg_id)
                  WHERE m.kind IN ({kinds_sql(Kind.HUMAN_SIDE)}) AND m.on_main_branch ORDER BY 1"""
        return sorted({r[0] for r in con.execute(sql).fetchall()} | set(awaiting.values()))
    else:
        sql = f"""SELECT DISTINCT session_id FROM messages
                  WHERE kind IN ({kinds_sql(Kind.HUMAN_SIDE)}) AND on_main_branch ORDER BY 1"""
    return [r[0] for r in con.execute(sql).fetchall()]


def iter_turns(con: duckdb.DuckDBPyConnection, session_ids: Iterable[str] | None = None,
               only_unlabelled: bool = False) -> Iterator[Turn]:
    """Turns of the selected sessions (default: all), session by session, in order.

    With `only_unlabelled`, sessions with at least one unlabelled human-side turn are read
    whole (context needs the earlier turns) and only the unlabelled turns are yielded, with the
    turns labelled before the assistant's next answer arrived (`awaiting_answer`) once it has.
    """
    awaiting = awaiting_answer(con) if only_unlabelled else {}
    sessions = _select_sessions(con, session_ids, only_unlabelled, awaiting)
    roles = dict(con.execute("SELECT session_id, role_name FROM roles").fetchall())
    for i in range(0, len(sessions), _SESSION_CHUNK):
        chunk = sessions[i:i + _SESSION_CHUNK]
        labelled = set()
        if only_unlabelled:
            labelled = {r[0] for r in con.execute(
                "SELECT msg_id FROM labels WHERE session_id IN (SELECT unnest(?))", [chunk]).fetchall()} - set(awaiting)
        rows = con.execute(
            f"""SELECT m.session_id, m.msg_id, m.kind, m.role, m.text, m.tool_name, m.is_error, m.is_human,
                      CASE WHEN m.kind = {sql_string(Kind.TOOL_CALL)} THEN tc.input END
               FROM messages m LEFT JOIN tool_calls tc ON tc.tool_use_id = m.tool_use_id
               WHERE m.session_id IN (SELECT unnest(?)) AND m.on_main_branch
               ORDER BY m.session_id, m.seq""",
            [chunk],
        ).fetchall()
        yield from _session_turns(rows, roles, labelled)


def _session_turns(rows, roles: dict, skip: set) -> Iterator[Turn]:
    """Turns of the rows (one or more sessions, in order). A turn is yielded once the next human-side
    message (or its session's end) has shown what the assistant did right after it (`next_assistant`,
    `next_calls`: the look-ahead of the `after` family)."""
    current = None
    answer: list[str] = []
    prose: list[str] = []  # the assistant's visible text since the last human-side turn
    calls: list[str] = []  # ... and its tool calls, rendered
    answer_error = False
    context: list[tuple[str, str]] = []
    prev: Turn | None = None
    typed: tuple[str, str] | None = None  # (msg_id, text) of the last typed turn
    position = 0
    for sid, msg_id, kind, role, text, tool_name, is_error, is_human, tool_input in rows:
        if sid != current:
            yield from _finished(prev, prose, calls, True, skip)
            current, answer, prose, calls, answer_error, context, prev, typed, position = \
                sid, [], [], [], False, [], None, None, 0
        if kind in Kind.HUMAN_SIDE:
            yield from _finished(prev, prose, calls, False, skip)
            prev_answer = "\n".join(answer)[-ANSWER_CHARS:] or None
            if kind == Kind.TOOL_REJECTION and not is_human:
                text = ""  # the rejection marker alone: nobody typed a reason
            turn = Turn(
                msg_id=msg_id, session_id=sid, kind=kind, text=text or "", position=position,
                prev_assistant=prev_answer, prev_human=prev.text if prev else None,
                prev_kind=prev.kind if prev else None, prev_assistant_error=answer_error, prev_typed=typed[1] if typed else None,
                prev_typed_id=typed[0] if typed else None,
                context=list(context[-CONTEXT_TURNS:]), role_name=roles.get(sid),
            )
            context.append(("user", turn.text if turn.text and kind != Kind.INTERRUPT else "[interrupted]"))
            prev, position = turn, position + 1
            if turn.text and kind != Kind.INTERRUPT:
                typed = (msg_id, turn.text)
            answer, prose, calls, answer_error = [], [], [], False
        elif kind == Kind.ASSISTANT_TEXT:
            if text:
                answer.append(text)
                context.append(("assistant", text[-1000:]))
                if sum(map(len, prose)) < AFTER_CHARS:
                    prose.append(text)
        elif kind == Kind.TOOL_CALL:
            answer.append(line := tool_line(tool_name, tool_input, text or ""))
            if len(calls) < AFTER_CALLS:
                calls.append(line)
        elif kind in (Kind.TOOL_RESULT, Kind.API_ERROR):
            answer_error = answer_error or bool(is_error) or kind == Kind.API_ERROR
    yield from _finished(prev, prose, calls, True, skip)


def _finished(turn: Turn | None, prose: list[str], calls: list[str], last: bool, skip: set) -> Iterator[Turn]:
    """Set what the assistant did right after `turn`. Followed by another human-side turn, the answer is
    whole: "" if it said nothing. The last turn of a session is known only once the assistant has written
    something after it: until then the answer may not have arrived (a live hook labels a turn before it;
    `vault mine` labels it again once it has, see miner.mine)."""
    if turn is None:
        return
    if prose or not last:
        turn.next_assistant = "\n".join(prose)[:AFTER_CHARS]
        turn.next_calls = list(calls)
    if turn.msg_id not in skip:
        yield turn


def load_turns(con: duckdb.DuckDBPyConnection, session_ids: Iterable[str] | None = None,
               only_unlabelled: bool = False) -> list[Turn]:
    return list(iter_turns(con, session_ids, only_unlabelled))


def labelled_turns(con: duckdb.DuckDBPyConnection, session: str | None = None, label: str | None = None,
                   role: str | None = None, limit: int | None = None) -> list[dict]:
    """The labelled human-side turns as `vault turns --json` prints them (CONTRACTS.md), in session order.

    The effective label wins (a review relabel over the miner's); `confidence` is the miner's,
    absent for a relabel. `session` is an id or prefix.
    """
    from miner.tables import EFFECTIVE_LABELS

    f = (Filter().add_if(session, "e.session_id LIKE ?", f"{session}%")
         .add_if(label, "e.label = ?", label)
         .add_if(role, "e.session_id IN (SELECT session_id FROM roles WHERE role_name = ?)", role)
         .also("e.label IS NOT NULL", "e.label <> 'not_human'"))
    sql = f"""SELECT e.session_id, e.msg_id, e.label, m.text, l.confidence, l.backend, e.relabelled, m.kind
              FROM {EFFECTIVE_LABELS} e JOIN messages m USING (msg_id) LEFT JOIN labels l USING (msg_id)
              {f.where()} ORDER BY e.session_id, m.seq"""
    if limit:
        sql += f" LIMIT {int(limit)}"
    out = []
    for sid, msg_id, lab, text, conf, backend, relabelled, kind in con.execute(sql, f.params).fetchall():
        row = {"session_id": sid, "msg_id": msg_id, "label": lab, "text": text or ""}
        if conf is not None and not relabelled:
            row["confidence"] = conf
        row.update({"kind": kind, "backend": "review" if relabelled else backend})
        out.append(row)
    return out
