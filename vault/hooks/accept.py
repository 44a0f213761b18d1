"""The quick half of a hook run (`vault ingest --hook`): the hook's JSON read, the session's files recorded as pending,
and the detached worker started. Claude Code waits only for this."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from vault.errors import VaultError
from vault.hooks.pending import add_pending

MAX_HOOK_INPUT = 1 << 20  # the hook JSON is a few hundred bytes; never read an unbounded stdin
WORKER_NICE = 10


class HookInputError(VaultError):
    pass


def parse_hook_input(raw: bytes) -> tuple[str, Path]:
    """(event name, transcript path) from the JSON Claude Code writes to the hook's stdin."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise HookInputError(f"vault ingest --hook: stdin is not the hook's JSON ({e})") from None
    if not isinstance(data, dict):
        raise HookInputError("vault ingest --hook: stdin is not a JSON object")
    tp = data.get("transcript_path")
    if not isinstance(tp, str) or not tp:
        raise HookInputError("vault ingest --hook: the hook JSON has no transcript_path")
    path = Path(tp).expanduser()
    if not path.is_absolute():  # relative to the session's cwd, which is not ours
        path = Path(str(data.get("cwd") or ".")) / path
    return str(data.get("hook_event_name") or "unknown"), path


def session_files(transcript: Path) -> list[Path]:
    """The transcript and its subagent files: `<id>/subagents/agent-*.jsonl` (Claude Code 2.1), or
    `agent-*.jsonl` beside it naming this session (2.0)."""
    if not transcript.exists():
        return [transcript]  # recorded anyway: the next ingest reports it gone
    out = [transcript]
    folder = transcript.with_suffix("")
    if folder.is_dir():
        out += sorted(p for p in folder.rglob("*.jsonl") if p.is_file())
    sid = transcript.stem.encode()
    for p in sorted(transcript.parent.glob("agent-*.jsonl")):
        try:
            with open(p, "rb") as fh:
                if sid in fh.read(4096):
                    out.append(p)
        except OSError:
            continue
    return out


def accept_hook(raw: bytes, db: Path) -> tuple[str, list[Path]]:
    """Parse the hook JSON and record its files as pending."""
    event, transcript = parse_hook_input(raw)
    files = session_files(transcript)
    add_pending(db, files)  # first: whatever happens next, the next ingest finds them
    return event, files


def spawn_worker(db: Path, event: str, config: Path | None = None) -> None:
    """Start the ingest in a detached process, so the session is never kept waiting (nor killed with it). It runs the
    `vault` this process runs: this interpreter, its path (PYTHONPATH included), not the vault folder's cwd (-P)."""
    import subprocess

    argv = [sys.executable, "-P", "-m", "vault.cli", "--db", str(db)]
    if config is not None:
        argv += ["--config", str(config)]
    argv += ["ingest", "--hook-worker", event]
    # Niced: the ingest must not take the cores from the session it serves (nor from this process's exit).
    lower = (lambda: os.nice(WORKER_NICE)) if hasattr(os, "nice") else None
    subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     cwd=str(db.parent), start_new_session=True, close_fds=True, preexec_fn=lower)
