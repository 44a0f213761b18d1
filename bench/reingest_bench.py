"""Re-ingest: `vault ingest` as a whole process when nothing changed, and when one session grew (the hook's case).

    nice -n 5 python bench/reingest_bench.py                  # the shared 1 GB archive and its vault
    python bench/reingest_bench.py --rounds 7 --changed-rounds 3

Works in `--work` (default /work/bench-data/reingest): a copy of the archive (`cp -a`, times kept) and a
copy of the vault that ingested it, whose `files.path` are moved to the copy, so the copy's files are
the ones the vault knows (the shared archive and vault are only read). Each figure is a fresh process,
median of `--rounds` (wall and CPU = user + system of the process, from wait4; CPU is the steadier one on
a shared machine), beside floors measured in the same run:
- `python -c pass`, and `vault --help` (the CLI's own start);
- `stat loop`: a fresh Python process that os.stat()s the same files from a list, and `walk + stat`, one that
  walks the archive with os.walk and stats each .jsonl file.
Cases:
- unchanged: `vault --db V ingest ARCHIVE --no-embed --json`, nothing changed (checked: 0 files read);
- one session, by path: two records appended to one session file, then `vault ingest FILE --no-embed`;
- one session, whole archive: two more appended, then `vault ingest ARCHIVE --no-embed` (1 file read);
- new session, by path: a new main session file (a corpus file of middling size rendered with fresh ids, as
  `bench/make_archive.py` does) added, then `vault ingest FILE --no-embed`.
For the one-session cases the time of the keyword index update (`index.fts_seconds` in the JSON; a full
rebuild before the incremental index) is shown apart. With `--baseline REF` the by-path cases run with REF's
vault package too, interleaved, each on its own copy of the vault (and its own session file), as the two
versions keep different index layouts.
The first run of each unchanged case is timed apart (`first_run`): this tree writes a vault copy in DuckDB's older
storage format again once (`vault.store.STORAGE_VERSION`), as a user's first `vault ingest` after the upgrade does.
Every process reads compiled bytecode from `--work`/pycache (PYTHONPYCACHEPREFIX), as an installed
package would; the environment may say PYTHONDONTWRITEBYTECODE, which would recompile vault at every start.
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = Path("/work/bench-data")
TARGETS = {"unchanged": 0.2, "one_session_by_path": 0.5, "one_session_whole_archive": 0.5, "new_session_by_path": 0.5}


def env(work: Path) -> dict:
    from _common import src_env

    e = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE" and not k.startswith("VAULT_")}
    return src_env(ROOT, base=e, PYTHONPYCACHEPREFIX=str(work / "pycache"), HF_HUB_OFFLINE="1", NO_COLOR="1",
                   VAULT_HOME=str(work / "home"))  # no config file of the person running it; the processes' cwd too (a
    # `vault` folder in the cwd would shadow the package); this tree first (`--baseline` puts the old one before it)


def vault_cmd(db: Path | None, *args: str) -> list[str]:
    from _common import VAULT  # bench/ is first on the path of a bench run as a script

    return [*VAULT, *(["--db", str(db)] if db is not None else []), *args]


def run(cmd: list[str], environ: dict) -> tuple[float, float, int, bytes, str]:
    """(wall s, CPU s, exit code, stdout, stderr's tail) of one process; CPU from wait4 (user + system)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=environ, cwd=environ["VAULT_HOME"])
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        out.seek(0)
        err.seek(0)
        return wall, usage.ru_utime + usage.ru_stime, proc.returncode, out.read(), err.read().decode()[-400:]


def measure(runs: dict[str, tuple], rounds: int, before=None) -> dict:
    """{name: median wall and CPU} of `rounds` fresh processes of each (cmd, env, check[, before]) in `runs`, taken
    in turn in each round so that they share the machine's load; `before()` (the run's own, else the argument)
    runs untimed before each process, then `check(json output)` unless it is None."""
    got: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": [], "fts": []} for name in runs}
    for _ in range(rounds):
        for name, (cmd, environ, check, *own) in runs.items():
            prepare_run = own[0] if own else before
            if prepare_run:
                prepare_run()
            wall, cpu, code, out, err = run(cmd() if callable(cmd) else cmd, environ)
            if code != 0:
                raise SystemExit(f"{name}: {cmd} failed ({code}): {err}")
            rep = json.loads(out) if check else {}
            if check:
                check(rep)
            for key, value in (("wall", wall), ("cpu", cpu), ("fts", (rep.get("index") or {}).get("fts_seconds"))):
                got[name][key].append(value or 0.0)
    return {name: {"wall_s": round(statistics.median(g["wall"]), 3), "cpu_s": round(statistics.median(g["cpu"]), 3),
                   "wall_all": [round(w, 3) for w in g["wall"]], "cpu_all": [round(c, 3) for c in g["cpu"]],
                   "fts_rebuild_s": round(statistics.median(g["fts"]), 3)} for name, g in got.items()}


def baseline_code(ref: str, work: Path) -> Path:
    """The vault package of git `ref` (`git archive`, no worktree), to run in place of this tree's."""
    dest = work / f"baseline-{ref.replace('/', '-')}"
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    tar = subprocess.run(["git", "archive", ref, "vault"], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=tar, check=True)
    return dest


def prepare(work: Path, archive: Path, vault: Path, name: str = "vault.duckdb") -> tuple[Path, Path]:
    """The archive and vault copies (made once; `--fresh` remakes them); returns their paths."""
    arch, db = work / "archive", work / name
    if not arch.is_dir():
        print(f"copying {archive} to {arch} ...", file=sys.stderr, flush=True)
        tmp = work / "archive.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(["cp", "-a", str(archive), str(tmp)], check=True)
        tmp.rename(arch)
    from _common import fresh_vault

    shutil.copyfile(vault, fresh_vault(db))
    os.chmod(db, 0o600)
    from vault.store import connect

    con = connect(db)
    try:
        old = str(archive.resolve()) + "/"
        n = con.execute("UPDATE files SET path = ? || substr(path, ?) WHERE starts_with(path, ?)",
                        [str(arch.resolve()) + "/", len(old) + 1, old]).fetchone()[0]
        con.execute("CHECKPOINT")
    finally:
        con.close()
    if n == 0:
        raise SystemExit(f"the vault {vault} holds no file under {archive}")
    return arch, db


def session_file(arch: Path, nth: int = 0) -> Path:
    """A main session file of middling size (the one a hook would name); `nth`: another one beside it."""
    files = sorted((p for p in arch.rglob("*.jsonl") if "subagents" not in p.parts), key=lambda p: p.stat().st_size)
    return files[len(files) // 2 + nth]


class NewSessions:
    """Writes a new main session file for each call (a corpus file of middling size, fresh ids): `path` is the last."""

    def __init__(self, folder: Path, seed: int):
        sys.path.insert(0, str(ROOT / "bench"))
        import make_archive

        self.ma, self.folder, self.copy = make_archive, folder, seed
        templates = sorted((t for t in make_archive.load_templates() if t.rel.suffix == ".jsonl"
                            and "subagents" not in t.rel.parts), key=lambda t: t.size)
        self.template = templates[len(templates) // 2]
        self.path: Path | None = None

    def __call__(self) -> None:
        self.copy += 1
        cache: dict[bytes, bytes] = {}

        def mapping(old: bytes) -> bytes:
            return self.ma._new_id(self.copy, old, cache)

        self.path = self.folder / Path(*(self.ma._rename(p, mapping) for p in self.template.rel.parts))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_bytes(self.template.render(mapping))


def append_turn(path: Path) -> None:
    """Append a typed prompt and an assistant answer after the session's last record, with fresh ids."""
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - (1 << 20)))
        tail = fh.read().splitlines()[1:]
    last = next(r for r in map(json.loads, reversed([t for t in tail if t.strip()])) if r.get("sessionId")
                and r.get("uuid"))
    parent, now, lines = last["uuid"], _dt.datetime.now(_dt.UTC), []
    for i, message in enumerate([
        {"role": "user", "content": "run the tests again, please"},
        {"id": f"msg_{uuid.uuid4().hex[:20]}", "type": "message", "role": "assistant", "model": "claude-opus-4-6",
         "content": [{"type": "text", "text": "Ran them again: all pass."}], "stop_reason": "end_turn"},
    ]):
        rec = {k: last[k] for k in ("isSidechain", "userType", "cwd", "sessionId", "version", "gitBranch") if k in last}
        rec.update(parentUuid=parent, type=message["role"], uuid=str(uuid.uuid4()), message=message,
                   timestamp=(now + _dt.timedelta(seconds=i)).isoformat(timespec="milliseconds").replace("+00:00", "Z"))
        lines.append(json.dumps(rec))
        parent = rec["uuid"]
    with open(path, "a") as fh:
        fh.write("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--archive", type=Path, default=SHARED / "archive")
    ap.add_argument("--vault", type=Path, default=SHARED / "vault-1g.duckdb", help="a vault that ingested --archive")
    ap.add_argument("--work", type=Path, default=SHARED / "reingest")
    ap.add_argument("--rounds", type=int, default=7, help="processes per unchanged figure and floor (median)")
    ap.add_argument("--changed-rounds", type=int, default=5, help="processes per one-session figure")
    ap.add_argument("--fresh", action="store_true", help="copy the archive again")
    ap.add_argument("--unchanged-only", action="store_true", help="skip the one-session cases (each rebuilds the "
                                                                  "keyword index)")
    ap.add_argument("--baseline", metavar="GIT_REF", help="also run the unchanged case with the vault package of this "
                                                          "ref (e.g. main), interleaved with this tree's")
    a = ap.parse_args(argv)
    a.work.mkdir(parents=True, exist_ok=True)
    if a.fresh:
        shutil.rmtree(a.work / "archive", ignore_errors=True)
    arch, db = prepare(a.work, a.archive, a.vault)
    environ = env(a.work)
    (a.work / "home").mkdir(exist_ok=True)
    files = sorted(str(p) for p in arch.rglob("*.jsonl"))
    listing = a.work / "files.txt"
    listing.write_text("\n".join(files) + "\n")
    py = [sys.executable, "-c"]
    floors_cmd = {
        "python -c pass": py + ["pass"],
        "vault --help": vault_cmd(None, "--help"),
        "stat loop": py + [f"import os\nfor p in open({str(listing)!r}).read().split():\n    os.stat(p)"],
        "walk + stat": py + [f"import os\nfor d, _, names in os.walk({str(arch)!r}):\n    for n in names:\n"
                             "        if n.endswith('.jsonl'):\n            os.stat(os.path.join(d, n))"],
    }
    n = len(files)

    def unchanged(rep: dict) -> None:
        assert rep["files"] == 0 and rep["files_unchanged"] == n, rep

    def one_file(whole: bool):
        def check(rep: dict) -> None:
            assert rep["files"] == 1 and rep["messages_added"] == 2, rep
            assert rep["files_unchanged"] == (n - 1 if whole else 0), rep
        return check

    ingest_all = vault_cmd(db, "ingest", str(arch), "--no-embed", "--json")
    runs = {name: (cmd, environ, None) for name, cmd in floors_cmd.items()}
    runs["unchanged"] = (ingest_all, environ, unchanged)
    base = f" ({a.baseline})"
    if a.baseline:  # its own copy of the vault: the two versions' keyword indexes differ
        _, base_db = prepare(a.work, a.archive, a.vault, "vault-baseline.duckdb")
        from _common import src_env

        old_env = src_env(baseline_code(a.baseline, a.work), base=environ)
        runs["unchanged" + base] = (vault_cmd(base_db, "ingest", str(arch), "--no-embed", "--json"), old_env, unchanged)
    print(f"{n} files; warming up (bytecode compiled into {a.work / 'pycache'}) ...", file=sys.stderr, flush=True)
    first: dict[str, dict] = {}  # the first run of each: it upgrades a vault in an older storage format (once)
    for name, (cmd, e, _) in runs.items():
        wall, cpu, code, _, err = run(cmd, e)
        if code != 0:
            raise SystemExit(f"{name}: {cmd} failed ({code}): {err}")
        first[name] = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}
    res: dict = {"bench": "reingest", "files": n, "archive": str(a.archive), "floors": {}, "cases": {},
                 "first_run": {k: v for k, v in first.items() if k.startswith("unchanged")}}
    got = measure(runs, a.rounds)
    res["floors"] = {name: got.pop(name) for name in floors_cmd}
    res["cases"] = got
    if a.unchanged_only:
        _print(res)
        print(json.dumps(res))
        return
    target, other = session_file(arch), session_file(arch, 1)
    res["session_file"] = {"path": str(target.relative_to(arch)), "bytes": target.stat().st_size}
    # The whole archive first: the baseline's appends to its own file would be read by this vault too.
    res["cases"].update(measure({"one_session_whole_archive": (ingest_all, environ, one_file(True))},
                                a.changed_rounds, before=lambda: append_turn(target)))
    by_path = {"one_session_by_path": (vault_cmd(db, "ingest", str(target), "--no-embed", "--json"), environ,
                                       one_file(False), lambda: append_turn(target))}
    shutil.rmtree(a.work / "new", ignore_errors=True)
    mine = NewSessions(a.work / "new" / "this", 1 << 20)
    new = {"new_session_by_path": (lambda: vault_cmd(db, "ingest", str(mine.path), "--no-embed", "--json"), environ,
                                   added, mine)}
    if a.baseline:
        by_path["one_session_by_path" + base] = (vault_cmd(base_db, "ingest", str(other), "--no-embed", "--json"),
                                                 old_env, one_file(False), lambda: append_turn(other))
        theirs = NewSessions(a.work / "new" / "baseline", 1 << 21)
        new["new_session_by_path" + base] = (lambda: vault_cmd(base_db, "ingest", str(theirs.path), "--no-embed",
                                                               "--json"), old_env, added, theirs)
    for warm in (by_path, new):  # once untimed (this tree's only: the baseline rebuilds every time anyway)
        measure({k: v for k, v in warm.items() if not k.endswith(base)}, 1)
    res["cases"].update(measure(by_path, a.changed_rounds))
    res["cases"].update(measure(new, a.changed_rounds))
    _print(res)
    print(json.dumps(res))


def added(rep: dict) -> None:
    assert rep["files"] == 1 and rep["messages_added"] > 0, rep


def _print(res: dict) -> None:
    fl = res["floors"]
    for name, f in res.get("first_run", {}).items():
        print(f"first run, {name}: {f['wall_s']:.3f} s wall, {f['cpu_s']:.3f} s CPU (this tree writes a vault copy in "
              "an older storage format again, once)")
    print(f"{res['files']} files; median wall / CPU (s) of fresh processes")
    for name, f in fl.items():
        print(f"  floor {name:22} {f['wall_s']:7.3f} {f['cpu_s']:7.3f}")
    base, stat = fl["vault --help"], fl["stat loop"]
    for name, c in res["cases"].items():
        goal = TARGETS[name.split(" ")[0]]
        print(f"  {name:28} {c['wall_s']:7.3f} {c['cpu_s']:7.3f}   x{c['wall_s'] / base['wall_s']:.1f} / "
              f"x{c['cpu_s'] / base['cpu_s']:.1f} `vault --help`, x{c['wall_s'] / stat['wall_s']:.1f} / "
              f"x{c['cpu_s'] / stat['cpu_s']:.1f} stat loop (wall / CPU); target {goal} s: "
              f"{'met' if c['wall_s'] <= goal else 'NOT met'} (wall), {'met' if c['cpu_s'] <= goal else 'NOT met'} (CPU)")
        if c["fts_rebuild_s"]:
            print(f"  {'':28} of which the keyword index (`index.fts_seconds`, wall): {c['fts_rebuild_s']:.3f}; "
                  f"the rest {c['wall_s'] - c['fts_rebuild_s']:.3f}")


if __name__ == "__main__":
    main()
