"""What a person sees of a vault through the CLI: sessions, `show`, keyword search, mine, pairs, export.

`outputs(run, out_dir)` collects them with `run(*args) -> stdout` (in-process or another version's
CLI in a subprocess), so two vaults, or one vault before and after a migration, can be compared.
Volatile fields (paths of the output folder, times) are left out.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

SEARCH_WORDS = ("error", "test", "fix the", "install", "webhook", "docker", "README")
SHOWN = 40  # sessions shown (each `show` is one command)
VOLATILE = {"out", "elapsed", "seconds", "created_at", "updated_at"}


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k not in VOLATILE and not k.endswith("_seconds")}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _json(text: str) -> Any:
    text = text.strip()
    if not text:
        return None
    try:
        return _clean(json.loads(text))
    except json.JSONDecodeError:  # JSON lines
        return [_clean(json.loads(line)) for line in text.splitlines() if line.strip()]


def outputs(run: Callable[..., str], out_dir: Path) -> dict[str, Any]:
    got: dict[str, Any] = {"sessions": _json(run("sessions", "--json", "--subagents", "--limit", "100000"))}
    for s in got["sessions"][:SHOWN]:
        got[f"show {s['session_id']}"] = _json(run("show", s["session_id"], "--json"))
    for w in SEARCH_WORDS:
        got[f"search {w}"] = _json(run("search", w, "--mode", "keyword", "--json", "-n", "20"))
    got["mine"] = _json(run("mine", "--backend", "heuristic", "--json"))
    got["pairs"] = _json(run("pairs", "--json"))
    got["export"] = _json(run("export", "--format", "trl", "--out", str(out_dir), "--json"))
    for f in sorted(out_dir.glob("*.jsonl")):
        got[f"export {f.name}"] = f.read_text()
    return got


def in_process(db: Path) -> Callable[..., str]:
    """`run` for `outputs`: this version's CLI in-process on `db`, failing the test on a non-zero exit."""
    from support import run_cli

    def run(*args: str) -> str:
        code, out, err = run_cli(*args, db=db)
        assert code == 0, (args, err)
        return out
    return run


def assert_same_outputs(new: Path, old: Path, tmp_path: Path) -> None:
    """A vault written by this version (`new`) and a migrated one (`old`) show a person the same things."""
    fresh = outputs(in_process(new), tmp_path / "export-new")
    migrated = outputs(in_process(old), tmp_path / "export-old")
    assert len(fresh) > 10 and fresh["mine"]["pairs"]["pairs"] > 0  # pairs mined (the gate may keep none)
    assert migrated == fresh


def ingest_one_more_file(db: Path, tmp_path: Path) -> None:
    """A migrated vault takes more: one example session with fresh ids ingested by this version's CLI."""
    from support import EXAMPLES, run_cli

    extra = tmp_path / "more" / "extra.jsonl"
    extra.parent.mkdir()
    extra.write_bytes(next((EXAMPLES / "claude-code").rglob("*.jsonl")).read_bytes().replace(b'"uuid":"', b'"uuid":"x'))
    assert run_cli("ingest", "--no-embed", str(extra), db=db)[0] == 0
