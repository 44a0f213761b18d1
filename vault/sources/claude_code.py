"""Claude Code transcripts: `~/.claude/projects/<slug>/<sessionId>.jsonl` (v1.0 to v2.1).

One message per `user`/`assistant`/`system` record (msg_id = the record's `uuid`),
plus queued human messages (`queue-operation`, `attachment` queued_command).
Everything else (progress, file-history-snapshot, titles, unknown future types) is
kept raw in `records`; titles and subagent links are read from it.

A prompt typed while the assistant works is written up to twice (v2.1): a `queue-operation`
enqueue, then, when delivered, a `user` record (or an `attachment` queued_command). It is one
human turn: `finalize` marks the copy (`queued_duplicate`) once both are in the vault,
whichever ingest run read them. It also titles sessions from `summary` records and marks the
messages of abandoned branches (`vault.sources.forks`): both may span files.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from vault.model import Kind, LineError, Message, ParseResult, RawRecord, ToolCall, kinds_sql
from vault.sources.base import (
    CLAUDE_CODE_SUMMARY_KEYS,
    DETECT_RECORDS,
    RESULT_TEXT_CHARS,
    TOUCHED,
    Head,
    Parser,
    Touched,
    as_text,
    iter_jsonl,
    json_dumps,
    timestamp,
    tool_summary,
)
from vault.sources.forks import mark_forks, off_branch_of, touched_files
from vault.sources.markers import (
    ANSWERED_PREFIXES,
    CLARIFY_PREFIX,
    COMMAND_PREFIXES,
    DENIED_PREFIX,
    REJECT_PREFIX,
    REJECT_SIBLING_PREFIX,
    classify_user_text,
    rejection_reason,
    strip_system_reminders,
)
from vault.walk import sha1

SOURCE = "claude_code"

KNOWN_TYPES = frozenset(
    {
        "user",
        "assistant",
        "system",
        "summary",
        "file-history-snapshot",
        "queue-operation",
        "progress",
        "attachment",
        "ai-title",
        "custom-title",
    }
)

# AskUserQuestion results: options picked (not typed), or "chat about this" (a template); a person
# types only in the free "Other" field and the notes.
_ASK_PAIR = re.compile(r'"((?:[^"\\]|\\.)*)"="((?:[^"\\]|\\.)*)"')
_CLARIFY_ANSWER = re.compile(r'^- "(.*)"\n\s+Answer: (.*)$', re.M)
_ASK_NOTES = re.compile(r"\b(?:[Uu]ser notes|notes): (.+?)(?=\. Read the answers| You can now continue|\n|$)")
_NO_OPTION = "(no option selected)"


def project_from_cwd(cwd: str | None, path: Path) -> str:
    """The project a session belongs to: the last part of its cwd, else the folder slug."""
    if cwd:
        return Path(cwd.rstrip("/")).name or cwd
    parent = path.parent
    if parent.name == "subagents":
        parent = parent.parent.parent
    return parent.name


def typed_answers(body: str, result: Any, asked: Any) -> list[str]:
    """What a person typed into an AskUserQuestion (free "Other" answers, notes); [] when they only picked options.

    `result` is the record's toolUseResult (the questions with their options, and the answers);
    `asked` is the tool call's input, used when the result lacks them. An answer whose options
    are unknown is not counted as typed: better to miss one than to call an option typed text.
    """
    options: dict[str, list[str]] = {}
    answers: dict[str, str] = {}
    for source in (asked, result):
        if not isinstance(source, dict):
            continue
        for q in source.get("questions") or []:
            if isinstance(q, dict) and isinstance(q.get("question"), str):
                options[q["question"]] = [str(o.get("label")) for o in q.get("options") or [] if isinstance(o, dict)]
        if isinstance(source.get("answers"), dict):
            answers = {str(k): str(v) for k, v in source["answers"].items()}
    if not answers:
        answers = dict(_ASK_PAIR.findall(body)) or dict(_CLARIFY_ANSWER.findall(body))
    typed = [n.strip() for n in _ASK_NOTES.findall(body) if n.strip()]
    for question, answer in answers.items():
        answer, labels = answer.strip(), options.get(question)
        if not answer or answer == _NO_OPTION or labels is None:
            continue
        if answer in labels or all(part.strip() in labels for part in answer.split(", ")):
            continue  # picked (several, for a multi-select question)
        typed.append(answer)
    return typed


class ClaudeCodeParser(Parser):
    name = SOURCE
    incremental = True

    def detect(self, path: Path, head: Head) -> bool:
        # Any of the first records may decide: broken or oddly typed lines must not hide a whole session.
        for obj in head.records(DETECT_RECORDS):
            if isinstance(obj, dict) and isinstance(obj.get("type"), str) and obj["type"] in KNOWN_TYPES and (
                    "sessionId" in obj or "uuid" in obj or "leafUuid" in obj or "messageId" in obj):
                return True
        return False

    def parse(self, path: Path, start_offset: int = 0, start_line: int = 0) -> ParseResult:
        res = ParseResult()
        file_agent = _agent_from_filename(path)
        for line_no, offset, rec, raw in iter_jsonl(path, res, start_offset, start_line):
            rtype = rec.get("type")
            rtype_s = rtype if isinstance(rtype, str) else None
            base_sid = rec.get("sessionId") if isinstance(rec.get("sessionId"), str) else None
            rid = rec.get("uuid") or rec.get("messageId") or rec.get("leafUuid")
            parent = rec.get("parentUuid") or rec.get("logicalParentUuid")
            res.raw.append(
                RawRecord(line_no, offset, rtype_s, rid if isinstance(rid, str) else None, base_sid, raw,
                          parent if isinstance(parent, str) else None)
            )
            if rtype_s not in KNOWN_TYPES:
                key = rtype_s or "<no type>"
                res.unknown_types[key] = res.unknown_types.get(key, 0) + 1
                continue
            try:
                self._record(res, path, file_agent, line_no, rec, rtype_s, base_sid)
            except (TypeError, AttributeError, ValueError, KeyError) as e:
                # Wrong types inside a record: keep it raw, report it, go on.
                res.errors.append(LineError(line_no, f"unexpected {rtype_s} record shape: {e}"))
        if file_agent:
            _read_agent_meta(res, path, file_agent)
        return res

    def keep(self, res: ParseResult) -> Kept | None:
        """The file's `summary` records and its messages on abandoned branches, for `finalize`."""
        summaries = [(r.record_id, r.line_no, r.raw) for r in res.raw
                     if r.record_type == "summary" and r.record_id is not None]
        if sum(len(r[2]) for r in summaries) > KEPT_SUMMARY_BYTES:
            return None
        return Kept(summaries, off_branch_of(res))

    def finalize(self, con, touched: Touched) -> None:
        files = touched_files(con, self.name, touched.sessions)  # every message of a touched session lies in one
        _mark_queued_copies(con, self.name, files)
        kept = {f: k for f, k in touched.kept.items() if isinstance(k, Kept)}
        _titles_from_summaries(con, touched.files, {f: k.summaries for f, k in kept.items()})
        mark_forks(con, self.name, {f: k.off for f, k in kept.items() if k.off is not None}, files)

    # -- one record -----------------------------------------------------------------
    def _record(self, res, path, file_agent, line_no, rec, rtype, base_sid) -> None:
        if rtype in ("progress", "file-history-snapshot", "summary"):
            return  # raw only; progress links and summaries are resolved by the engine in SQL
        if base_sid is None:
            return
        agent_id = _str(rec.get("agentId")) or file_agent
        sidechain = bool(rec.get("isSidechain")) or agent_id is not None
        sid = f"{base_sid}/agent-{agent_id}" if agent_id else base_sid
        sess = res.session(sid, SOURCE)
        if agent_id:
            sess.parent_session_id = base_sid
            sess.agent_id = agent_id
            if str(agent_id).startswith("acompact"):
                sess.agent_type = sess.agent_type or "compaction"
        if _str(rec.get("cwd")) and not sess.cwd:
            sess.cwd = rec["cwd"]
            sess.project = project_from_cwd(rec["cwd"], path)
        if not sess.project:
            sess.project = project_from_cwd(None, path)
        sess.git_branch = _str(rec.get("gitBranch")) or sess.git_branch
        sess.version = _str(rec.get("version")) or sess.version

        if rtype in ("ai-title", "custom-title"):
            title = rec.get("customTitle") or rec.get("aiTitle") or rec.get("title")
            if isinstance(title, str) and title and (rtype == "custom-title" or not sess.title):
                sess.title = title
            return

        ts = timestamp(rec.get("timestamp"))
        common = dict(
            session_id=sid,
            parent_id=_str(rec.get("parentUuid")),
            timestamp=ts,
            is_sidechain=sidechain,
            agent_id=agent_id,
            line_no=line_no,
        )
        if rtype == "queue-operation":
            self._queue(res, rec, common)
        elif rtype == "attachment":
            self._attachment(res, rec, common)
        elif rtype == "user":
            self._user(res, rec, common, sidechain)
        elif rtype == "assistant":
            self._assistant(res, rec, common, sess)
        elif rtype == "system":
            self._system(res, rec, common)

    def _queue(self, res, rec, common) -> None:
        if rec.get("operation") != "enqueue":
            return
        content = as_text(rec.get("content"))
        if not content:
            return
        digest = sha1(f"{common['timestamp']}\0{content}".encode()).hexdigest()[:16]
        kind = classify_user_text(content)
        if kind == Kind.HUMAN_PROMPT:
            kind = Kind.QUEUED_PROMPT
        if content.lstrip().startswith("/"):
            kind = Kind.COMMAND
        text = strip_system_reminders(content) if kind == Kind.QUEUED_PROMPT else content
        res.messages.append(
            Message(
                msg_id=f"queue-{common['session_id'].split('/')[0]}-{digest}",
                role="user",
                kind=kind,
                text=text,
                is_human=kind == Kind.QUEUED_PROMPT,
                extra={"queued": "enqueue"} if kind == Kind.QUEUED_PROMPT else None,
                **{**common, "parent_id": None},
            )
        )

    def _attachment(self, res, rec, common) -> None:
        att = rec.get("attachment")
        if not isinstance(att, dict) or att.get("type") != "queued_command" or not rec.get("uuid"):
            return
        origin = att.get("origin") if isinstance(att.get("origin"), dict) else {}
        content = as_text(att.get("prompt") or att.get("content"))
        human = origin.get("kind") == "human" and classify_user_text(content) == Kind.HUMAN_PROMPT
        res.messages.append(
            Message(
                msg_id=rec["uuid"],
                role="user",
                kind=Kind.QUEUED_PROMPT if human else Kind.OTHER,
                text=strip_system_reminders(content) if human else content,
                is_human=human,
                extra={"queued": "attachment"} if human else None,
                **common,
            )
        )

    def _user(self, res, rec, common, sidechain) -> None:
        uuid = rec.get("uuid")
        if not isinstance(uuid, str):
            return
        msg = rec.get("message") or {}
        content = msg.get("content") if isinstance(msg, dict) else None
        blocks = content if isinstance(content, list) else None
        results = [b for b in blocks or [] if isinstance(b, dict) and b.get("type") == "tool_result"]
        extra: dict[str, Any] = {}
        is_human = False
        tool_use_id = None
        is_error = False
        if results:
            kind = Kind.TOOL_RESULT
            texts, typed = [], []
            tur = rec.get("toolUseResult")
            for b in results:
                body = as_text(b.get("content"))
                err = bool(b.get("is_error"))
                tid = b.get("tool_use_id")
                tool_use_id = tool_use_id or _str(tid)
                is_error = is_error or err
                texts.append(body)
                if isinstance(tid, str):
                    res.tool_calls.append(
                        ToolCall(tool_use_id=tid, session_id=common["session_id"], result_msg_id=uuid,
                                 result_text=body[:RESULT_TEXT_CHARS], is_error=err)
                    )
                stripped = body.lstrip()
                reason = rejection_reason(body) if stripped.startswith(REJECT_PREFIX) else None
                if reason and reason.startswith(CLARIFY_PREFIX):
                    # "Chat about this" on an AskUserQuestion: a template, not a typed reason.
                    kind = Kind.USER_ANSWER
                    typed += typed_answers(reason, tur, _asked(res, tid))
                elif stripped.startswith(REJECT_PREFIX):
                    kind = Kind.TOOL_REJECTION
                    if reason:
                        extra["reason"] = reason
                        is_human = True
                elif stripped.startswith((REJECT_SIBLING_PREFIX, DENIED_PREFIX)) and kind != Kind.TOOL_REJECTION:
                    kind = Kind.TOOL_REJECTION
                    extra["denied"] = stripped.startswith(DENIED_PREFIX)
                elif stripped.startswith(ANSWERED_PREFIXES):
                    kind = Kind.USER_ANSWER
                    typed += typed_answers(body, tur, _asked(res, tid))
            text = extra.get("reason") or "\n".join(texts)
            if kind == Kind.USER_ANSWER and typed:
                # A free answer is the person's words: a human turn holding just what they typed.
                kind, text, is_human = Kind.HUMAN_PROMPT, "\n".join(typed), True
                extra["ask_user_question"] = True
            if isinstance(tur, dict) and tur.get("agentId") and tool_use_id:
                extra["subagent"] = str(tur["agentId"])
        else:
            raw_text = as_text(content)
            has_image = any(isinstance(b, dict) and b.get("type") == "image" for b in blocks or [])
            if rec.get("isCompactSummary"):
                kind = Kind.COMPACT_SUMMARY
            elif rec.get("isMeta"):
                kind = Kind.META
            else:
                kind = classify_user_text(raw_text)
                if kind == Kind.HUMAN_PROMPT and not raw_text.strip():
                    kind = Kind.IMAGE if has_image else Kind.OTHER
            if kind == Kind.HUMAN_PROMPT and sidechain:
                kind = Kind.SUBAGENT_PROMPT  # nobody types into a subagent: its parent agent does
            if kind == Kind.HUMAN_PROMPT:
                text = strip_system_reminders(raw_text)
                if text != raw_text.strip():
                    extra["system_reminder_stripped"] = True
                is_human = bool(text)
                if has_image:
                    extra["images"] = sum(1 for b in blocks or [] if isinstance(b, dict) and b.get("type") == "image")
            else:
                text = raw_text
        res.messages.append(
            Message(
                msg_id=uuid,
                role="user",
                kind=kind,
                text=text,
                is_human=is_human,
                tool_use_id=tool_use_id,
                is_error=is_error,
                extra=extra or None,
                **common,
            )
        )

    def _assistant(self, res, rec, common, sess) -> None:
        uuid = rec.get("uuid")
        if not isinstance(uuid, str):
            return
        msg = rec.get("message") or {}
        if not isinstance(msg, dict):
            msg = {}
        content = msg.get("content")
        blocks = content if isinstance(content, list) else [{"type": "text", "text": as_text(content)}]
        texts, thinking, calls = [], [], []
        for b in blocks:
            if not isinstance(b, dict):
                continue
            bt = b.get("type")
            if bt == "text" and isinstance(b.get("text"), str):
                texts.append(b["text"])
            elif bt in ("thinking", "redacted_thinking"):
                thinking.append(b.get("thinking") or "")
            elif bt in ("tool_use", "server_tool_use"):
                calls.append(b)
        model = msg.get("model") if isinstance(msg.get("model"), str) else None
        if model and model != "<synthetic>":
            sess.model = model
        tool_name = tool_use_id = None
        if calls:
            kind = Kind.TOOL_CALL
            parts = []
            for c in calls:
                name = str(c.get("name") or "tool")
                tid = c.get("id")
                parts.append(tool_summary(name, c.get("input"), CLAUDE_CODE_SUMMARY_KEYS))
                tool_name = tool_name or name
                tool_use_id = tool_use_id or _str(tid)
                if isinstance(tid, str):
                    res.tool_calls.append(
                        ToolCall(tool_use_id=tid, session_id=common["session_id"], call_msg_id=uuid,
                                 name=name, input=c.get("input"))
                    )
            text = "\n".join(texts + parts)
        elif texts:
            kind = Kind.ASSISTANT_TEXT
            text = "\n".join(texts)
        elif thinking:
            kind = Kind.THINKING
            text = "\n".join(thinking)
        else:
            kind, text = Kind.OTHER, ""
        if rec.get("isApiErrorMessage"):
            kind = Kind.API_ERROR
        extra = None
        usage = msg.get("usage")
        if isinstance(usage, dict):
            extra = {"usage": usage}
        res.messages.append(
            Message(
                msg_id=uuid,
                role="assistant",
                kind=kind,
                text=text,
                model=model,
                turn_id=_str(msg.get("id")) or _str(rec.get("requestId")),
                tool_name=tool_name,
                tool_use_id=tool_use_id,
                extra=extra,
                **common,
            )
        )

    def _system(self, res, rec, common) -> None:
        uuid = rec.get("uuid")
        if not isinstance(uuid, str):
            return
        sub = rec.get("subtype")
        text = as_text(rec.get("content"))
        kind = Kind.SYSTEM
        if sub == "local_command":
            kind = Kind.COMMAND if text.lstrip().startswith(COMMAND_PREFIXES) else Kind.COMMAND_OUTPUT
        elif sub == "stop_hook_summary":
            kind = Kind.HOOK_FEEDBACK
        elif sub == "api_error" or rec.get("level") == "error":
            kind = Kind.API_ERROR
        extra = {"subtype": sub} if sub else None
        if sub == "compact_boundary" and isinstance(rec.get("compactMetadata"), dict):
            extra = {"subtype": sub, **rec["compactMetadata"]}
        res.messages.append(
            Message(msg_id=uuid, role="system", kind=kind, text=text, extra=extra, **common)
        )


def _read_agent_meta(res: ParseResult, path: Path, agent_id: str) -> None:
    """v2.1 writes `agent-<id>.meta.json` beside a subagent file: its type, task and spawning call."""
    import orjson

    meta_path = path.with_name(f"agent-{agent_id}.meta.json")
    try:
        meta = orjson.loads(meta_path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return
    if not isinstance(meta, dict):
        return
    for sess in res.sessions.values():
        if sess.agent_id == agent_id:
            sess.agent_type = _str(meta.get("agentType")) or sess.agent_type
            sess.parent_tool_use_id = _str(meta.get("toolUseId")) or sess.parent_tool_use_id
            if isinstance(meta.get("description"), str):
                sess.title = sess.title or meta["description"]


_QUEUE_KINDS = (Kind.HUMAN_PROMPT, Kind.QUEUED_PROMPT, Kind.QUEUED_DUPLICATE)


def _mark_queued_copies(con, source: str, files: list[int]) -> None:
    """One human turn per queued prompt: mark its second copy `queued_duplicate` (see the module doc).

    Recomputed from the rows of the touched sessions, so it holds whichever ingest runs read
    the two copies. A `user` record with the same text after an enqueue carries the turn (the
    enqueue is the copy); an `attachment` queued_command after an enqueue is the copy of it.
    """
    # The rows by rowid, found on the light columns: their text read for all the touched sessions' rows, which lie
    # apart in the table, decompressed most of the column (16 sessions appended to, 1 GB vault: 0.42 s of CPU). The
    # touched sessions' `files` as constants: their row groups only (`mark_forks`).
    if not files:
        return
    rows = con.execute(
        f"""SELECT m.session_id, m.msg_id, m.kind, m.text, json_extract_string(m.extra, '$.queued')
            FROM messages m
            WHERE m.rowid IN (
                SELECT rowid FROM messages WHERE file_id IN ({", ".join(map(str, files))})
                  AND kind IN ({kinds_sql(_QUEUE_KINDS)}) AND role = 'user'
                  AND session_id IN (SELECT session_id FROM {TOUCHED})
                  AND file_id IN (SELECT file_id FROM files WHERE source = ?))
            ORDER BY m.session_id, m.seq""", [source]).fetchall()
    updates = []
    for _, group in itertools.groupby(rows, key=lambda r: r[0]):
        group = list(group)
        copy_of = _queued_copies([(msg_id, kind, (text or "").strip(), queued)
                                  for _, msg_id, kind, text, queued in group])
        for _, msg_id, kind, _, queued in group:
            if queued is None:
                continue
            want = Kind.QUEUED_DUPLICATE if msg_id in copy_of else Kind.QUEUED_PROMPT
            if want != kind:
                updates.append((want, want == Kind.QUEUED_PROMPT, copy_of.get(msg_id), msg_id))
    if updates:
        con.executemany(
            "UPDATE messages SET kind = ?, is_human = ?, "
            "extra = json_merge_patch(extra, json_object('duplicate_of', ?::VARCHAR)) WHERE msg_id = ?", updates)


class Kept(NamedTuple):
    """`ClaudeCodeParser.keep`: (record_id, line_no, raw) of each `summary` record; the ids of the messages on abandoned
    branches (`forks.off_branch_of`; None: only the vault can tell)."""

    summaries: list[tuple[str, int, str]]
    off: list[str] | None


KEPT_SUMMARY_BYTES = 1 << 20  # a file with more summary text is read from the raw store by `finalize`


def _titles_from_summaries(con, file_ids: list[int], kept: Mapping[int, Sequence[tuple]] | None = None) -> None:
    """`summary` records title the session holding their leaf message, which may be in another file. A file's
    summaries come from `kept` (`Touched.kept`: the run read the file whole) or else from the raw store, where each
    one sits in its own frame (the 1 GB archive's 174 titles: 1.2 s of CPU decoding them)."""
    if not file_ids:
        return
    import pyarrow as pa

    from vault import rawstore

    leaves = _untitled_leaves(con, file_ids)
    if not leaves:
        return
    kept = kept or {}
    wanted = set(leaves)
    found = [(f, rid, line_no, _summary_of(raw)) for f in file_ids if f in kept
             for rid, line_no, raw in kept[f] if rid in wanted]
    stored = [f for f in file_ids if f not in kept]
    if stored:
        found += [(f, rid, line_no, _summary_of(raw)) for f, rid, line_no, raw in rawstore.read_raw(
            con, f"r.record_type = 'summary' AND r.file_id IN ({', '.join(map(str, stored))}) "
                 "AND r.record_id IN (SELECT unnest(?::VARCHAR[]))", [leaves],
            columns=("file_id", "record_id", "line_no"))]
    if not found:
        return
    found.sort(key=lambda r: (r[0], r[2]))  # the raw store's order, (file_id, line_no), whatever the source
    _, rid, line_no, summary = zip(*found, strict=True)
    con.register("_summaries", pa.table({"record_id": pa.array(rid, pa.string()), "line_no": pa.array(line_no, pa.int64()),
                                         "summary": pa.array(summary, pa.string())}))
    try:
        con.execute(
            """
            UPDATE sessions SET title = s.summary
            FROM (
                SELECT m.session_id, arg_max(r.summary, r.line_no) AS summary
                FROM _summaries r JOIN messages m ON m.msg_id = r.record_id
                GROUP BY m.session_id
            ) s
            WHERE sessions.session_id = s.session_id AND sessions.title IS NULL
            """
        )
    finally:
        con.unregister("_summaries")


def _untitled_leaves(con, file_ids: list[int]) -> list[str]:
    """The leaf messages named by the files' `summary` records whose session has no title yet: only those can title
    one. Found on light columns, in steps (one join of them read every message id): the raw records are zstd frames
    decoded whole, up to 0.1 s of CPU for one session appended to on the 1 GB vault, most of whose summaries
    titled their session at its first ingest."""
    leaves = [r[0] for r in con.execute(
        f"SELECT DISTINCT record_id FROM records WHERE record_type = 'summary' AND record_id IS NOT NULL "
        f"AND file_id IN ({', '.join(map(str, file_ids))})").fetchall()]
    if not leaves:
        return []
    session_of = dict(con.execute(
        "SELECT msg_id, session_id FROM messages WHERE msg_id IN (SELECT unnest(?::VARCHAR[]))", [leaves]).fetchall())
    if not session_of:
        return []
    untitled = {r[0] for r in con.execute("SELECT session_id FROM sessions WHERE title IS NULL "
                                          "AND session_id IN (SELECT unnest(?::VARCHAR[]))",
                                          [sorted(set(session_of.values()))]).fetchall()}
    return sorted(m for m, sid in session_of.items() if sid in untitled)


def _summary_of(raw: str) -> str | None:
    """`$.summary` of a record as `json_extract_string` gives it: a string as is, another value as JSON text."""
    import orjson

    obj = orjson.loads(raw)
    value = obj.get("summary") if isinstance(obj, dict) else None
    return value if isinstance(value, str) or value is None else json_dumps(value)


def _queued_copies(rows: list[tuple[str, str, str, str | None]]) -> dict[str, str]:
    """{copy msg_id: msg_id carrying the turn} for one session's (msg_id, kind, text, queued) rows in order."""
    pending: dict[str, list[str]] = {}  # text -> enqueues not delivered yet, oldest first
    copies: dict[str, str] = {}
    for msg_id, kind, text, queued in rows:
        waiting = pending.get(text)
        if queued == "enqueue":
            pending.setdefault(text, []).append(msg_id)
        elif queued == "attachment" and waiting:
            copies[msg_id] = waiting.pop(0)
        elif queued is None and kind == Kind.HUMAN_PROMPT and waiting:
            copies[waiting.pop(0)] = msg_id
    return copies


def _asked(res: ParseResult, tool_use_id: Any) -> Any:
    """The input of the AskUserQuestion call answered by `tool_use_id`, when this parse read it."""
    return next((t.input for t in reversed(res.tool_calls)
                 if t.tool_use_id == tool_use_id and t.name == "AskUserQuestion"), None)


def _str(value: Any) -> str | None:
    """A string field, or None when a record carries another type there (never crash the file)."""
    return value if isinstance(value, str) and value else None


def _agent_from_filename(path: Path) -> str | None:
    name = path.name
    if name.startswith("agent-") and name.endswith(".jsonl"):
        return name[len("agent-") : -len(".jsonl")]
    return None
