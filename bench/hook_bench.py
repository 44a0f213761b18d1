"""Hook latency: what a Claude Code session waits for when `vault ingest --hook` runs, on the largest
transcript of the shared corpora, against a plain `vault ingest FILE` of the same file in the same run.

    python bench/hook_bench.py                       # largest file under ../shared/corpora
    python bench/hook_bench.py --db VAULT --runs 7   # into a copy of an existing (say, 1 GB) vault

Figures (all wall-clock, median of --runs unless said):
- answered: the hook command run through /bin/sh exactly as Claude Code runs it (hook JSON on stdin,
  another cwd), until it exits: what the session waits for (the ingest itself runs detached);
- worker cold / incremental / unchanged: the detached ingest (`vault ingest --hook --wait`, the same code
  in the foreground) when the transcript is new to the vault, has one more record, or is unchanged;
- busy: `answered` while another process holds the vault's write lock (the files are left pending);
- baseline: `vault ingest --no-embed FILE` (the ordinary command) of the same new transcript.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPORA = ROOT.parent / "shared" / "corpora"

from _common import VAULT, src_env  # noqa: E402  (bench/ is first on the path of a bench run as a script)

# Every child runs this tree: the `vault` program, the hook command (the installed script, as a person's hook names
# it; in a shared virtualenv it would import the install's checkout) and the worker it starts (docs/hooks.md).
ENV = src_env(ROOT, HF_HUB_OFFLINE="1")


def largest_transcript() -> Path:
    files = [p for p in CORPORA.rglob("*.jsonl") if "subagents" not in p.parts and not p.name.startswith("agent-")
             and p.parent.parent.name == "claude-code"]
    return max(files, key=lambda p: p.stat().st_size)


def hook_json(transcript: Path, event: str = "SessionEnd") -> bytes:
    return json.dumps({"session_id": transcript.stem, "transcript_path": str(transcript), "cwd": "/",
                       "hook_event_name": event, "reason": "other"}).encode()


def sh(command: str, stdin: bytes, cwd: Path) -> float:
    t = time.perf_counter()
    res = subprocess.run(["/bin/sh", "-c", command], input=stdin, capture_output=True, cwd=cwd, env=ENV)
    dt = time.perf_counter() - t
    assert res.returncode == 0 and not res.stdout and not res.stderr, res
    return dt


def prepare(work: Path, transcript: Path, base_db: Path | None) -> tuple[Path, Path]:
    """A copy of the transcript (with its subagents) to grow, and a vault holding everything else."""
    proj = work / "projects" / transcript.parent.name
    proj.mkdir(parents=True)
    copy = proj / transcript.name
    shutil.copy2(transcript, copy)
    sub = transcript.with_suffix("")
    if sub.is_dir():
        shutil.copytree(sub, proj / sub.name)
    db = work / "base.duckdb"
    if base_db:
        shutil.copy2(base_db, db)
    else:  # the rest of the Claude Code corpus, so the vault is not empty
        others = [p for p in (CORPORA / "claude-code").iterdir() if p.is_dir()]
        subprocess.run([*VAULT, "--db", str(db), "ingest", "--no-embed", "--json", *map(str, others)],
                       check=True, capture_output=True, env=ENV)
        # ...minus the transcript itself, so that it is new to the vault
        subprocess.run([sys.executable, "-c", (
            "import sys, duckdb; con = duckdb.connect(sys.argv[1]); sid = sys.argv[2]; "
            "[con.execute(q, [sid + '%']) for q in ("
            "'DELETE FROM messages WHERE session_id LIKE ?', 'DELETE FROM tool_calls WHERE session_id LIKE ?', "
            "'DELETE FROM records WHERE session_id LIKE ?', 'DELETE FROM sessions WHERE session_id LIKE ?')]; "
            "con.execute(\"DELETE FROM files WHERE path LIKE '%' || ? || '%'\", [sid]); con.close()"),
            str(db), transcript.stem], check=True)
    return copy, db


def fresh_vault(base: Path, work: Path, name: str) -> Path:
    db = work / f"{name}.duckdb"
    shutil.copy2(base, db)
    return db


def append_record(path: Path) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"type": "user", "uuid": f"bench-{time.time_ns()}", "parentUuid": None,
                             "sessionId": path.stem, "timestamp": "2026-12-01T00:00:00Z",
                             "message": {"role": "user", "content": "one more thing"}}) + "\n")


def med(xs: list[float]) -> float:
    return round(statistics.median(xs), 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file", type=Path, help="the transcript (default: the largest Claude Code one of the corpora)")
    ap.add_argument("--db", type=Path, help="start from a copy of this vault instead of the corpora")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    transcript = args.file or largest_transcript()
    work = Path(tempfile.mkdtemp(prefix="hook-bench-"))
    try:
        copy, base = prepare(work, transcript, args.db)
        elsewhere = work / "elsewhere"
        elsewhere.mkdir()
        from vault.hooks.accept import session_files
        from vault.hooks.command import hook_command
        from vault.hooks.pending import list_pending, now, wait_for_run
        from vault.hooks.worker import LOCK_WAIT

        files = session_files(copy)
        size = sum(p.stat().st_size for p in files)
        print(f"transcript: {transcript} ({transcript.stat().st_size / 1e6:.2f} MB; with {len(files) - 1} "
              f"subagent files {size / 1e6:.2f} MB); vault before: {base.stat().st_size / 1e6:.0f} MB")

        # baseline: the ordinary command on the new transcript
        base_t = []
        for i in range(args.runs):
            db = fresh_vault(base, work, f"baseline{i}")
            t = time.perf_counter()
            subprocess.run([*VAULT, "--db", str(db), "ingest", "--no-embed", "--json", str(copy.parent)],
                           check=True, capture_output=True, env=ENV)
            base_t.append(time.perf_counter() - t)
            db.unlink()

        # the hook, exactly as Claude Code runs it: cold (new transcript), then its worker's own time
        answered, cold_worker = [], []
        for i in range(args.runs):
            db = fresh_vault(base, work, f"hook{i}")
            command = hook_command(db)
            start = now()
            answered.append(sh(command, hook_json(copy), elsewhere))
            run = wait_for_run(db, "SessionEnd", start, timeout=600)
            while list_pending(db):
                time.sleep(0.05)
            cold_worker.append(run["seconds"])
            if i < args.runs - 1:
                db.unlink()
        # incremental and unchanged, foreground (--wait) so the process time is the worker's
        wait_cmd = command + " --wait"
        incremental, unchanged = [], []
        for _ in range(args.runs):
            append_record(copy)
            incremental.append(sh(wait_cmd, hook_json(copy, "PreCompact"), elsewhere))
            unchanged.append(sh(wait_cmd, hook_json(copy, "Stop"), elsewhere))
        cold_fg = []
        for i in range(min(3, args.runs)):
            dbi = fresh_vault(base, work, f"fg{i}")
            cold_fg.append(sh(hook_command(dbi) + " --wait", hook_json(copy), elsewhere))
            dbi.unlink()
        # busy: another process holds the lock
        holder = subprocess.Popen([sys.executable, "-c", "import sys; from vault.store import open_vault; "
                                   f"c = open_vault({str(db)!r}); print('held', flush=True); sys.stdin.read()"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=ENV)
        assert holder.stdout.readline().strip() == "held"
        busy = []
        try:
            for _ in range(args.runs):
                busy.append(sh(command, hook_json(copy, "PreCompact"), elsewhere))
            time.sleep(LOCK_WAIT + 2)
            pending = len(list_pending(db))
        finally:
            holder.communicate("")
        floor = [sh(f"{sys.executable} -c pass", b"", elsewhere) for _ in range(args.runs)]
        print(f"runs: {args.runs} (medians, seconds)")
        print(f"  floor: a bare `python -c pass` in the same minutes:    {med(floor)}")
        print(f"  answered (what the session waits for), new transcript: {med(answered)} (max {max(answered):.3f})")
        print(f"  answered while another process holds the vault:        {med(busy)} (max {max(busy):.3f}); "
              f"left pending: {pending} file(s)")
        print(f"  detached worker, new transcript (logged by the worker): {med(cold_worker)}")
        print(f"  foreground --wait, new transcript (whole process):      {med(cold_fg)}")
        print(f"  foreground --wait, one appended record:                 {med(incremental)}")
        print(f"  foreground --wait, unchanged:                           {med(unchanged)}")
        print(f"  baseline `vault ingest --no-embed` of the new transcript: {med(base_t)}")
        print(f"  ratio answered / baseline: {med(answered) / med(base_t):.3f}; "
              f"foreground / baseline: {med(cold_fg) / med(base_t):.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
