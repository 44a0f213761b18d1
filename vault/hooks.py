"""Claude Code hooks: `vault hooks install|uninstall|status` and what `vault ingest --hook` runs.

Installing adds, per event (SessionEnd, PreCompact and optionally Stop), one hook group of our own to
Claude Code's user settings (`$CLAUDE_CONFIG_DIR/settings.json`, else `~/.claude/settings.json`):

    {"hooks": [{"type": "command", "command": "<this vault> [--db ...] ingest --hook"}]}

Our groups are recognised by that command (`ingest --hook`), so installing twice adds nothing and
uninstalling removes exactly them. The file is parsed, changed and written back atomically with its own
indentation; the original bytes are kept beside it (`settings.json.vault-backup`), and when the file is
still exactly what install wrote, uninstall puts those bytes back (so install + uninstall is a no-op to
the byte). A file that is not valid JSON is refused with its line and column, and never rewritten.

The hook run never disturbs the session. `vault ingest --hook` (the quick half) parses the hook JSON,
records the transcript and its subagent files in a pending folder (`<vault>.hook-pending/`, one small
file per path) and starts a detached worker, then exits 0 without a word: Claude Code waits only for
that. The worker (`work`) ingests everything pending if it gets the vault's write lock within LOCK_WAIT
seconds and clears what it ingested; if another process holds the lock it leaves the paths pending for
the next ingest (any `vault ingest` takes them). Each run is logged in `<vault>.hook-runs.json`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vault.errors import VaultError
from vault.private import write_private

EVENTS = ("SessionEnd", "PreCompact")
OPTIONAL_EVENTS = ("Stop",)
MARKER = "ingest --hook"  # how our hook commands are recognised in settings.json
BACKUP_SUFFIX = ".vault-backup"
WORKER_NICE = 10
MAX_HOOK_INPUT = 1 << 20  # the hook JSON is a few hundred bytes; never read an unbounded stdin


class HookSettingsError(VaultError):
    """settings.json cannot be used (invalid JSON, wrong shape): named with its path and position."""


# -- where things are ----------------------------------------------------------------------

def _mkstemp(**kwargs) -> tuple[int, str]:
    """`tempfile.mkstemp`, imported here: every `vault ingest` imports this module, and tempfile costs it ~5 ms."""
    import tempfile

    return tempfile.mkstemp(**kwargs)


def claude_settings_path(config_dir: str | Path | None = None) -> Path:
    """Claude Code's user settings: `$CLAUDE_CONFIG_DIR/settings.json`, else `~/.claude/settings.json`."""
    base = config_dir or os.environ.get("CLAUDE_CONFIG_DIR") or Path.home() / ".claude"
    return Path(base).expanduser() / "settings.json"


def pending_dir(db: Path) -> Path:
    return db.with_name(db.name + ".hook-pending")


def runs_path(db: Path) -> Path:
    return db.with_name(db.name + ".hook-runs.json")


def hook_command(db: Path | None = None, config: Path | None = None) -> str:
    """The command line Claude Code runs: this installation's `vault`, by absolute path (hooks run with
    Claude Code's PATH, which may not hold our virtualenv), with the vault (and config) baked in."""
    exe = Path(sys.executable).with_name("vault")
    argv = [str(exe)] if exe.exists() else [sys.executable, "-c", "from vault.cli import main; main()"]
    if db is not None:
        argv += ["--db", str(Path(db).expanduser().resolve())]
    if config is not None:
        argv += ["--config", str(Path(config).expanduser().resolve())]
    return shlex.join(argv) + " " + MARKER


def is_ours(hook: Any) -> bool:
    cmd = str(hook.get("command", "")) if isinstance(hook, dict) else ""
    return hook.get("type") == "command" and MARKER in cmd and "vault" in cmd if cmd else False


# -- reading and writing settings.json ------------------------------------------------------

@dataclass
class SettingsFile:
    path: Path
    raw: bytes | None  # None: the file does not exist
    data: dict[str, Any]
    indent: int | str | None = 2
    newline: bool = True

    @classmethod
    def read(cls, path: Path) -> SettingsFile:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls(path, None, {})
        except OSError as e:
            raise HookSettingsError(f"{path}: cannot read: {e.strerror}") from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise HookSettingsError(f"{path}: not UTF-8 text (byte {e.start}); fix or move it, nothing was changed")
        if not text.strip():
            return cls(path, raw, {})
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise HookSettingsError(f"{path}:{e.lineno}:{e.colno}: invalid JSON ({e.msg}); "
                                    "fix it first, nothing was changed") from None
        if not isinstance(data, dict):
            raise HookSettingsError(f"{path}: expected a JSON object at the top, found {type(data).__name__}; "
                                    "nothing was changed")
        hooks = data.get("hooks")
        if hooks is not None and not isinstance(hooks, dict):
            raise HookSettingsError(f"{path}: \"hooks\" should be an object, found {type(hooks).__name__}; "
                                    "nothing was changed")
        for event, groups in (hooks or {}).items():
            if not isinstance(groups, list):
                raise HookSettingsError(f"{path}: hooks.{event} should be a list, found {type(groups).__name__}; "
                                        "nothing was changed")
        return cls(path, raw, data, _indent_of(text), text.endswith("\n"))

    def render(self) -> bytes:
        text = json.dumps(self.data, indent=self.indent, ensure_ascii=False)
        return (text + ("\n" if self.newline else "")).encode()

    def write(self, payload: bytes) -> None:
        """Atomically: a temporary file beside it, then a rename (keeping the original's permissions).
        A symlinked settings.json (dotfiles) is written through: the link stays a link."""
        target = self.path.resolve() if self.path.is_symlink() else self.path
        target.parent.mkdir(parents=True, exist_ok=True)
        mode = (target.stat().st_mode & 0o777) if target.exists() else 0o600
        fd, tmp = _mkstemp(prefix=".settings.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _indent_of(text: str) -> int | str:
    """The file's indentation (first indented line), so a rewrite keeps its look."""
    m = re.search(r"\n([ \t]+)\S", text)
    if not m:
        return 2
    ws = m.group(1)
    return ws if "\t" in ws else len(ws)


def installed(data: dict[str, Any]) -> dict[str, list[str]]:
    """Our hook commands per event in parsed settings."""
    out: dict[str, list[str]] = {}
    for event, groups in (data.get("hooks") or {}).items():
        for g in groups if isinstance(groups, list) else []:
            for h in (g.get("hooks") or []) if isinstance(g, dict) else []:
                if is_ours(h):
                    out.setdefault(event, []).append(h["command"])
    return out


@dataclass
class Change:
    path: Path
    added: list[str] = field(default_factory=list)  # events
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    backup: Path | None = None
    restored: bool = False  # uninstall put the original bytes back


def _sha(b: bytes | None) -> str | None:
    import hashlib  # (here: every `vault ingest` imports this module, and loading OpenSSL costs it ~3 ms)

    return hashlib.sha256(b).hexdigest() if b is not None else None


def _state_path(path: Path) -> Path:
    return path.with_name(path.name + BACKUP_SUFFIX + ".json")


def install(path: Path, command: str, events: tuple[str, ...] = EVENTS) -> Change:
    """Add our hook group to each event that lacks one. Idempotent; keeps a backup of the original."""
    sf = SettingsFile.read(path)
    change = Change(path)
    have = installed(sf.data)
    hooks = sf.data.get("hooks")
    for event in events:
        if event in have:
            if set(have[event]) == {command}:
                change.unchanged.append(event)
            else:  # installed from another vault or place: point it here, where it stands
                for g in hooks[event]:
                    for h in g.get("hooks", []) if isinstance(g, dict) else []:
                        if is_ours(h):
                            h["command"] = command
                change.added.append(event)
            continue
        if hooks is None:
            hooks = sf.data["hooks"] = {}
        hooks.setdefault(event, []).append({"hooks": [{"type": "command", "command": command}]})
        change.added.append(event)
    if not change.added:
        return change
    payload = sf.render()
    state = _read_state(path)
    if state is None or state.get("written_sha256") != _sha(sf.raw):
        # The original (the file without any hook of ours): kept beside it, and remembered for uninstall.
        original = sf.raw
        if have:  # ours from an earlier install, edited since by someone else: the original is without them
            before = SettingsFile.read(path)
            _strip_ours(before.data)
            original = before.render()
        change.backup = path.with_name(path.name + BACKUP_SUFFIX)
        if original is not None:
            write_private(change.backup, original)
        state = {"original_existed": original is not None, "original_sha256": _sha(original)}
    sf.write(payload)
    state.update(written_sha256=_sha(payload), installed_at=_now(), events=sorted(installed(sf.data)))
    write_private(_state_path(path), json.dumps(state, indent=2).encode())
    return change


def uninstall(path: Path) -> Change:
    """Remove our hook groups (and the containers that held only them). If the file is still exactly what
    install wrote, the original bytes come back instead."""
    sf = SettingsFile.read(path)
    change = Change(path)
    change.removed = sorted(installed(sf.data))
    state = _read_state(path)
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    if state and sf.raw is not None and state.get("written_sha256") == _sha(sf.raw):
        if not state.get("original_existed"):
            path.unlink()
            change.restored = True
        elif backup.exists() and _sha(backup.read_bytes()) == state.get("original_sha256"):
            sf.write(backup.read_bytes())
            change.restored = True
    if not change.restored and change.removed:
        _strip_ours(sf.data)
        sf.write(sf.render())
    _state_path(path).unlink(missing_ok=True)
    return change


def _strip_ours(data: dict[str, Any]) -> None:
    hooks = data.get("hooks") or {}
    for event in list(hooks):
        groups = []
        for g in hooks[event]:
            if isinstance(g, dict) and isinstance(g.get("hooks"), list) and any(is_ours(h) for h in g["hooks"]):
                g = {**g, "hooks": [h for h in g["hooks"] if not is_ours(h)]}
                if not g["hooks"]:
                    continue
            groups.append(g)
        if groups:
            hooks[event] = groups
        else:
            del hooks[event]
    if "hooks" in data and not data["hooks"]:
        del data["hooks"]


def _read_state(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(_state_path(path).read_text())
    except (OSError, ValueError):
        return None


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


# -- status ---------------------------------------------------------------------------------

def db_of_command(command: str) -> Path | None:
    """The `--db` baked into an installed hook command, if any."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return None
    for i, a in enumerate(argv[:-1]):
        if a == "--db":
            return Path(argv[i + 1])
    return None


def status(path: Path, default_db: Path) -> dict[str, Any]:
    """What is installed where, which vault each hook writes to, and when each event last ran."""
    sf = SettingsFile.read(path)
    events = installed(sf.data)
    out: dict[str, Any] = {"settings": str(path), "exists": sf.raw is not None, "events": {}}
    for event, commands in sorted(events.items()):
        db = db_of_command(commands[0]) or default_db
        runs = read_runs(db)
        out["events"][event] = {"command": commands[0], "duplicates": len(commands) - 1, "db": str(db),
                                "last_run": runs.get(event)}
    dbs = {Path(e["db"]) for e in out["events"].values()} or {default_db}
    out["pending"] = sorted(str(p) for db in dbs for p in list_pending(db))
    return out


# -- the pending list and the run log -------------------------------------------------------

def _entry_name(path: Path) -> str:
    import hashlib

    return hashlib.sha1(str(path).encode()).hexdigest()[:20]


def add_pending(db: Path, paths: list[Path]) -> None:
    """Record paths to ingest: one small file each (atomic, and no lock needed between writers)."""
    d = pending_dir(db)
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    for p in paths:
        target = d / _entry_name(p)
        fd, tmp = _mkstemp(dir=d, prefix=".new-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(str(p))
        os.replace(tmp, target)


def list_pending(db: Path) -> dict[Path, Path]:
    """{transcript path: its entry file}."""
    d = pending_dir(db)
    out: dict[Path, Path] = {}
    try:
        entries = sorted(d.iterdir())
    except OSError:
        return out
    for e in entries:
        if e.name.startswith("."):
            continue
        try:
            out[Path(e.read_text(encoding="utf-8").strip())] = e
        except (OSError, UnicodeDecodeError):
            continue
    return out


def clear_pending(entries: list[Path]) -> None:
    for e in entries:
        e.unlink(missing_ok=True)


def read_runs(db: Path) -> dict[str, Any]:
    try:
        data = json.loads(runs_path(db).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def wait_for_run(db: Path, event: str, after: str, timeout: float, poll: float = 0.1) -> dict[str, Any]:
    """The logged run of `event` at or after `after` (an ISO time, as `record_run` writes it), waited for up to
    `timeout` seconds: the worker runs detached, so who needs its result (a bench, a test) polls the log."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        run = read_runs(db).get(event)
        if run and run["at"] >= after:
            return run
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no {event} run logged at or after {after} in {timeout} s: {read_runs(db)}")
        time.sleep(poll)


def record_run(db: Path, event: str, result: str, seconds: float) -> None:
    """The last run per event, for `vault hooks status` (atomic replace; the last writer wins)."""
    runs = read_runs(db)
    runs[event] = {"at": _now(), "result": result, "seconds": round(seconds, 3)}
    _write_runs(db, runs)


def _write_runs(db: Path, runs: dict[str, Any]) -> None:
    path = runs_path(db)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = _mkstemp(dir=path.parent, prefix=".hook-runs-")
    with os.fdopen(fd, "w") as fh:
        json.dump(runs, fh, indent=1)
    os.replace(tmp, path)


# -- the hook run ---------------------------------------------------------------------------

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
    """The quick half of a hook run: parse the hook JSON and record its files as pending."""
    event, transcript = parse_hook_input(raw)
    files = session_files(transcript)
    add_pending(db, files)  # first: whatever happens next, the next ingest finds them
    return event, files


def unreported_error(db: Path) -> str | None:
    """The error of the last background run, once (the next hook run shows it to the person)."""
    runs = read_runs(db)
    err = runs.get("error")
    if not err or err.get("reported"):
        return None
    err["reported"] = True
    _write_runs(db, runs)
    return f"the background ingest of {err['at']} failed: {err['result']}"


def spawn_worker(db: Path, event: str, config: Path | None = None) -> None:
    """Start the ingest in a detached process, so the session is never kept waiting (nor killed with it)."""
    import subprocess

    argv = [sys.executable, "-c", "from vault.cli import main; main()", "--db", str(db)]
    if config is not None:
        argv += ["--config", str(config)]
    argv += ["ingest", "--hook-worker", event]
    # Niced: the ingest must not take the cores from the session it serves (nor from this process's exit).
    lower = (lambda: os.nice(WORKER_NICE)) if hasattr(os, "nice") else None
    subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     cwd=str(db.parent), start_new_session=True, close_fds=True, preexec_fn=lower)


@dataclass
class HookResult:
    event: str
    queued: bool = False  # the vault was busy: left pending
    ingested_files: int = 0
    messages_added: int = 0
    missing: list[Path] = field(default_factory=list)

    def describe(self) -> str:
        if self.queued:
            return "vault busy: left pending for the next ingest"
        gone = f", {len(self.missing)} pending file(s) gone" if self.missing else ""
        return f"{self.messages_added} new messages from {self.ingested_files} file(s){gone}"


LOCK_WAIT = 3.0  # seconds the detached worker waits for the vault before leaving the files pending
MAX_ROUNDS = 3  # hook runs that arrive while we ingest are taken in the same process


def work(db: Path, event: str, batch_bytes: int | None = None, whole_process: bool = False) -> HookResult:
    """The slow half: ingest everything pending unless another process holds the vault (then leave it).

    `whole_process`: nothing else runs in this process, which computes no embeddings: pyarrow.dataset, dateutil and
    (incremental) numpy stay unloaded (`vault.lightquery.unloaded`)."""
    from vault.lightquery import unloaded

    result = HookResult(event)
    with unloaded() if whole_process else contextlib.nullcontext():
        return _work(db, event, batch_bytes, result, whole_process)


def _work(db: Path, event: str, batch_bytes: int | None, result: HookResult, whole_process: bool) -> HookResult:
    from vault.store import VaultLockedError, open_vault_waiting

    try:  # a reader holds it for a moment (`vault mcp`); an ingest for longer: then leave it pending
        con = open_vault_waiting(db, wait=LOCK_WAIT, appends=True)  # small appends: vault.store.APPEND_ROW_GROUP
    except VaultLockedError:
        result.queued = True
        return result
    try:
        done: set[Path] = set()
        rounds: list = []  # each round's Ingester: what it derived is forgotten after the checkpoint
        for _ in range(MAX_ROUNDS):
            if not ingest_pending(con, db, result, batch_bytes, skip=done, numpy_unused=whole_process,
                                  rounds=rounds):
                break
        if done:  # the keyword index updated here (the changed sessions only), not by the next search
            from vault.index import after_ingest

            after_ingest(con, embed=False)
            for ing in rounds:
                ing.forget_derived(closing=True)  # closed below
    finally:
        con.close()
    return result


def ingest_pending(con, db: Path, result: HookResult, batch_bytes: int | None = None,
                   skip: set[Path] | None = None, numpy_unused: bool = False, rounds: list | None = None) -> set[Path]:
    """Ingest the pending paths into an open vault and clear them; returns the paths taken. With `rounds`, the
    Ingester is appended to it and leaves its derivations pending until the caller's checkpoint
    (`Ingester.forget_derived`); without, it checkpoints them itself."""
    from vault.ingest import Ingester

    skip = skip if skip is not None else set()
    pending = {p: e for p, e in list_pending(db).items() if p not in skip}
    if not pending:
        return set()
    present = [p for p in pending if p.exists()]
    result.missing += [p for p in pending if not p.exists()]
    ing = Ingester(con, batch_bytes=batch_bytes, numpy_unused=numpy_unused)
    ing.ingest_files(present)
    ing.finish(checkpoint_later=rounds is not None)
    if rounds is not None:
        rounds.append(ing)
    result.ingested_files += ing.report.files
    result.messages_added += ing.report.messages_added
    clear_pending(list(pending.values()))
    skip.update(pending)
    return set(pending)
