"""Write the bundled example archive: Claude Code sessions in the v2.1 on-disk layout.

The conversations are written by hand for this project (see examples/README.md): three
projects, subagents, interrupts, tool rejections with and without a typed reason,
explicit and implicit corrections, praise, a queued message, and planted secrets for
the redaction tests. Ids are uuid5 of (session, position) so the output is stable.

    python examples/make_examples.py    # rewrites examples/claude-code/
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from pathlib import Path

from sessions import SESSIONS  # the conversations themselves

OUT = Path(__file__).resolve().parent / "claude-code"
NS = uuid.UUID("5b0c7a52-6d3e-4f64-9a55-0c1e2f3a4b5c")
VERSION = "2.1.39"
MODEL = "claude-sonnet-4-5-20250929"
REJECT = ("The user doesn't want to proceed with this tool use. The tool use was rejected "
          "(eg. if it was a file edit, the new_string was NOT written to the file). ")
REJECT_NO_REASON = REJECT + "STOP what you are doing and wait for the user to tell you how to proceed."
REJECT_WITH_REASON = REJECT + "To tell you how to proceed, the user said:\n"


def slug(cwd: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in cwd)


class Writer:
    def __init__(self, sid: str, cwd: str, branch: str, start: dt.datetime, agent_id: str | None = None):
        self.sid, self.cwd, self.branch, self.agent_id = sid, cwd, branch, agent_id
        self.t = start
        self.n = 0
        self.parent: str | None = None
        self.lines: list[dict] = []

    def _id(self, what: str) -> str:
        self.n += 1
        return str(uuid.uuid5(NS, f"{self.sid}/{self.agent_id}/{self.n}/{what}"))

    def _tick(self, seconds: float) -> str:
        self.t += dt.timedelta(seconds=seconds)
        return self.t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.t.microsecond // 1000:03d}Z"

    def _env(self, kind: str, seconds: float) -> dict:
        u = self._id(kind)
        rec = {"parentUuid": self.parent, "isSidechain": self.agent_id is not None, "userType": "external",
               "cwd": self.cwd, "sessionId": self.sid, "version": VERSION, "gitBranch": self.branch}
        if self.agent_id:
            rec["agentId"] = self.agent_id
        rec.update({"type": kind, "uuid": u, "timestamp": self._tick(seconds)})
        self.parent = u
        return rec

    def user(self, content, seconds: float = 40, **extra) -> dict:
        rec = self._env("user", seconds)
        rec["message"] = {"role": "user", "content": content}
        rec.update(extra)
        self.lines.append(rec)
        return rec

    def assistant(self, blocks: list[dict], seconds: float = 12) -> None:
        msg_id = "msg_" + self._id("msg").replace("-", "")[:24]
        req = "req_" + self._id("req").replace("-", "")[:24]
        usage = {"input_tokens": 1200 + 40 * self.n, "output_tokens": 80 + 7 * len(blocks),
                 "cache_read_input_tokens": 9000}
        for b in blocks:  # one record per content block, as Claude Code writes them
            rec = self._env("assistant", seconds)
            rec["message"] = {"id": msg_id, "type": "message", "role": "assistant", "model": MODEL,
                              "content": [b], "stop_reason": None, "usage": usage}
            rec["requestId"] = req
            self.lines.append(rec)
            seconds = 1

    def tool(self, name: str, inp: dict, result: str, is_error: bool = False, tur=None, text: str | None = None):
        tid = "toolu_" + self._id("toolu").replace("-", "")[:22]
        blocks = ([{"type": "text", "text": text}] if text else []) + [
            {"type": "tool_use", "id": tid, "name": name, "input": inp}]
        self.assistant(blocks)
        self.user([{"tool_use_id": tid, "type": "tool_result", "content": result, "is_error": is_error}],
                  seconds=3, toolUseResult=tur if tur is not None else {"stdout": result, "stderr": ""})
        return tid

    def system(self, subtype: str, content: str, **extra) -> None:
        rec = self._env("system", 1)
        rec.update({"subtype": subtype, "content": content, "level": "info"}, **extra)
        self.lines.append(rec)

    def raw(self, rec: dict) -> None:
        rec.setdefault("sessionId", self.sid)
        rec.setdefault("timestamp", self._tick(1))
        self.lines.append(rec)


def play(w: Writer, script: list, out_dir: Path, project_dir: Path) -> None:
    for step in script:
        op, *args = step
        if op == "user":
            w.user(args[0])
        elif op == "say":
            w.assistant([{"type": "text", "text": args[0]}])
        elif op == "think":
            w.assistant([{"type": "thinking", "thinking": args[0], "signature": "sig"}])
        elif op == "tool":
            name, inp, result = args[:3]
            w.tool(name, inp, result, is_error=len(args) > 3 and args[3])
        elif op == "reject":
            name, inp, reason = args
            tid = "toolu_" + w._id("toolu").replace("-", "")[:22]
            w.assistant([{"type": "tool_use", "id": tid, "name": name, "input": inp}])
            body = REJECT_WITH_REASON + reason if reason else REJECT_NO_REASON
            w.user([{"tool_use_id": tid, "type": "tool_result", "content": body, "is_error": True}],
                   seconds=20, toolUseResult="Error: The user doesn't want to proceed with this tool use.")
        elif op == "interrupt":
            w.user([{"type": "text", "text": "[Request interrupted by user]"}], seconds=5)
        elif op == "queued":
            w.raw({"type": "queue-operation", "operation": "enqueue", "content": args[0]})
        elif op == "command":
            name, cmd_args, output = args
            w.user(f"<command-name>/{name}</command-name>\n<command-message>{name}</command-message>\n"
                   f"<command-args>{cmd_args}</command-args>", seconds=5)
            w.user(f"<local-command-stdout>{output}</local-command-stdout>", seconds=1)
        elif op == "reminder":  # a real prompt with a system reminder embedded by the harness
            w.user(args[0] + "\n\n<system-reminder>\nThe user opened the file src/app.py in the IDE.\n"
                   "</system-reminder>")
        elif op == "title":
            w.raw({"type": "ai-title", "aiTitle": args[0]})
        elif op == "task":
            description, prompt, sub_script, summary = args
            agent_id = "a" + w._id("agent").replace("-", "")[:7]
            tid = "toolu_" + w._id("toolu").replace("-", "")[:22]
            w.assistant([{"type": "tool_use", "id": tid, "name": "Task",
                          "input": {"description": description, "prompt": prompt,
                                    "subagent_type": "Explore"}}])
            sub = Writer(w.sid, w.cwd, w.branch, w.t, agent_id=agent_id)
            sub.user(prompt, seconds=1)
            play(sub, sub_script, out_dir, project_dir)
            sub_dir = project_dir / w.sid / "subagents"
            sub_dir.mkdir(parents=True, exist_ok=True)
            write_jsonl(sub_dir / f"agent-{agent_id}.jsonl", sub.lines)
            (sub_dir / f"agent-{agent_id}.meta.json").write_text(json.dumps(
                {"agentType": "Explore", "description": description, "toolUseId": tid}, indent=2) + "\n")
            w.t = sub.t
            w.user([{"tool_use_id": tid, "type": "tool_result", "content": [{"type": "text", "text": summary}]}],
                   seconds=2, toolUseResult={"status": "completed", "agentId": agent_id,
                                             "content": [{"type": "text", "text": summary}]})
        else:
            raise ValueError(f"unknown step {op!r}")


def write_jsonl(path: Path, lines: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for rec in lines:
            fh.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    for s in SESSIONS:
        project_dir = OUT / slug(s["cwd"])
        project_dir.mkdir(parents=True, exist_ok=True)
        sid = str(uuid.uuid5(NS, s["name"]))
        w = Writer(sid, s["cwd"], s.get("branch", "main"), dt.datetime.fromisoformat(s["start"]))
        w.raw({"type": "file-history-snapshot", "messageId": w._id("snap"),
               "snapshot": {"trackedFileBackups": {}}, "isSnapshotUpdate": False})
        play(w, s["script"], OUT, project_dir)
        write_jsonl(project_dir / f"{sid}.jsonl", w.lines)
    print(f"wrote {len(SESSIONS)} sessions under {OUT}")


if __name__ == "__main__":
    main()
