"""Issue 16 acceptance: hooks installed into a Claude Code config that has the user's own hooks, run exactly
as Claude Code runs them (the command from settings.json through a shell, hook JSON on stdin, another cwd),
the busy-vault path, and an uninstall that gives back the settings file byte for byte."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from support import ROOT, VAULT, vault_env, vault_holder
from vault.hooks.command import hook_command
from vault.hooks.install import installed
from vault.hooks.pending import list_pending, now, wait_for_run
from vault.store import open_vault

FIXTURE = ROOT / "tests" / "fixtures" / "claude_code" / "v21-layout" / "-home-USER-projects-demo"
SESSION = "33333333-3333-4333-8333-333333333333"
# The user's own settings: their hooks and keys, 4-space indent, non-ASCII, no trailing newline.
USER_SETTINGS = """{
    "model": "opus",
    "permissions": {"allow": ["Bash(ls:*)"]},
    "hooks": {
        "PreToolUse": [
            {"matcher": "Bash", "hooks": [{"type": "command", "command": "echo 'vérifié' >> ~/log"}]}
        ],
        "SessionEnd": [
            {"hooks": [{"type": "command", "command": "notify-send bye", "timeout": 5}]}
        ]
    }
}"""


def vault_cli(*args: str, env: dict, stdin: bytes | None = None, cwd: Path | None = None):
    return subprocess.run([*VAULT, *args], env=vault_env(env), input=stdin, capture_output=True, cwd=cwd, timeout=300)


def claude_code_runs(command: str, payload: dict, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    """What Claude Code does with a command hook: a shell runs it, the event JSON on stdin."""
    return subprocess.run(["/bin/sh", "-c", command], input=json.dumps(payload).encode(), capture_output=True,
                          cwd=cwd, env=env, timeout=60)


def claude_code_env() -> dict[str, str]:
    """The environment Claude Code gives a hook: none of our VAULT_* variables. The command names the installed `vault`
    program (docs/hooks.md), which imports the `vault` first on its path: in a shared virtualenv another checkout's.
    This checkout is put first on PYTHONPATH here, by `vault_env`, never left to whatever the runner exported."""
    return {k: v for k, v in vault_env().items() if not k.startswith("VAULT_")}


def test_the_hook_environment_runs_this_checkout(tmp_path):
    """The premise of the test below: its hooks (the installed program, and the worker they start) run this
    checkout's code, whatever the virtualenv's install points at."""
    probe = "import vault.hooks.command as c; print(c.__file__)"
    for argv in ([sys.executable, "-c", probe], [sys.executable, "-P", "-c", probe]):  # (-P: the worker's way)
        res = subprocess.run(argv, env=claude_code_env(), cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert Path(res.stdout.strip()) == ROOT / "vault" / "hooks" / "command.py", (argv, res.stderr)


def sessions_in(db: Path) -> set[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {r[0] for r in con.execute("SELECT session_id FROM sessions").fetchall()}
    finally:
        con.close()


def test_install_run_busy_uninstall(tmp_path):
    config_dir, home, elsewhere = tmp_path / "claude", tmp_path / "home", tmp_path / "elsewhere"
    for d in (config_dir, home, elsewhere):
        d.mkdir()
    settings = config_dir / "settings.json"
    settings.write_text(USER_SETTINGS, encoding="utf-8")
    original = settings.read_bytes()
    transcripts = tmp_path / "projects" / "-home-USER-projects-demo"
    shutil.copytree(FIXTURE, transcripts)
    env = {**os.environ, "VAULT_HOME": str(home), "CLAUDE_CONFIG_DIR": str(config_dir)}

    res = vault_cli("hooks", "install", env=env)
    assert res.returncode == 0, res.stderr
    data = json.loads(settings.read_text())
    assert data["model"] == "opus" and data["permissions"] == {"allow": ["Bash(ls:*)"]}
    assert data["hooks"]["PreToolUse"] == json.loads(USER_SETTINGS)["hooks"]["PreToolUse"]
    assert data["hooks"]["SessionEnd"][0] == json.loads(USER_SETTINGS)["hooks"]["SessionEnd"][0]
    ours = {e: installed(data)[e] for e in ("SessionEnd", "PreCompact")}
    assert all(len(c) == 1 for c in ours.values()) and "Stop" not in data["hooks"]
    assert (config_dir / "settings.json.vault-backup").read_bytes() == original
    installed_once = settings.read_bytes()
    assert vault_cli("hooks", "install", env=env).returncode == 0
    assert settings.read_bytes() == installed_once  # idempotent

    # Claude Code's environment: not ours (no VAULT_HOME): the command carries the vault it writes to.
    cc_env = claude_code_env()
    db = home / "vault.duckdb"
    command = ours["SessionEnd"][0]
    assert command == hook_command(db), command  # the installed `vault` program, the vault baked in
    payload = {"session_id": SESSION, "transcript_path": str(transcripts / f"{SESSION}.jsonl"), "cwd": str(elsewhere),
               "hook_event_name": "SessionEnd", "reason": "prompt_input_exit", "permission_mode": "default"}
    before = now()
    t0 = time.perf_counter()
    run = claude_code_runs(command, payload, elsewhere, cc_env)
    answered = time.perf_counter() - t0
    assert (run.returncode, run.stdout, run.stderr) == (0, b"", b""), run
    log = wait_for_run(db, "SessionEnd", before, timeout=120)
    assert log["result"].startswith(tuple("123456789")), log  # some new messages
    assert {SESSION, f"{SESSION}/agent-a7e0c42"} <= sessions_in(db)  # the session and its subagent
    assert not list_pending(db)
    print(f"hook answered in {answered:.2f} s; background ingest {log['seconds']:.2f} s")

    # Busy vault: another process holds the write lock. The hook still answers at once, silently, exit 0,
    # and the transcript waits in the pending list.
    with vault_holder(db):
        with open(transcripts / f"{SESSION}.jsonl", "a", encoding="utf-8") as fh:  # the session went on
            fh.write(json.dumps({"type": "user", "uuid": "9a9a9a9a-0000-4000-8000-000000000001",
                                 "parentUuid": None, "sessionId": SESSION, "timestamp": "2026-01-01T00:00:00Z",
                                 "message": {"role": "user", "content": "one more thing, please"}}) + "\n")
        before = now()
        payload["hook_event_name"] = "PreCompact"
        run = claude_code_runs(ours["PreCompact"][0], {**payload, "trigger": "auto"}, elsewhere, cc_env)
        assert (run.returncode, run.stdout, run.stderr) == (0, b"", b""), run
        log = wait_for_run(db, "PreCompact", before, timeout=120)
        assert log["result"].startswith("vault busy"), log
        assert transcripts / f"{SESSION}.jsonl" in list_pending(db)

    # The next ingest (any `vault ingest`) takes the pending list.
    res = vault_cli("ingest", "--no-embed", "--json", str(tmp_path / "elsewhere"), env=env)
    assert res.returncode in (0, 1), res.stderr
    assert not list_pending(db)
    con = open_vault(db, read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM messages WHERE text = 'one more thing, please'").fetchone()[0] == 1
    finally:
        con.close()

    res = vault_cli("hooks", "status", "--json", env=env)
    st = json.loads(res.stdout)
    assert set(st["events"]) == {"SessionEnd", "PreCompact"} and st["events"]["PreCompact"]["last_run"]

    res = vault_cli("hooks", "uninstall", env=env)
    assert res.returncode == 0, res.stderr
    assert settings.read_bytes() == original
