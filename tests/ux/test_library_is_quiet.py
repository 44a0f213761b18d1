"""The library returns data and never prints: rendering lives in the CLI (`vault/cli/views/`).

Notebooks, the MCP server and the TUI call the same functions as the CLI; a library call that wrote
to the terminal would corrupt an MCP stdio stream or a TUI screen.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil

from support import EXAMPLES

import miner
import vault


def _library_modules():
    """Every module of `miner` and of the vault core (the CLI, the views' home, aside)."""
    for pkg in (miner, vault):
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            if info.name.startswith("vault.cli") or info.name in ("vault.mcp_server",):
                continue
            try:
                yield importlib.import_module(info.name)
            except ImportError:  # an optional extra not installed
                continue


def test_no_library_function_takes_a_console():
    offenders = []
    for mod in _library_modules():
        for name, fn in inspect.getmembers(mod, inspect.isfunction):
            if fn.__module__ != mod.__name__:
                continue
            if "console" in inspect.signature(fn).parameters or name.startswith("print_"):
                offenders.append(f"{mod.__name__}.{name}")
    assert offenders == []


def test_ingest_index_mine_report_and_evaluate_write_nothing(tmp_path, capsys):
    from miner.analytics import corrections_report
    from miner.evaluate import evaluate
    from miner.mine import mine
    from vault.index import after_ingest
    from vault.ingest import ingest
    from vault.store import open_vault

    con = open_vault(tmp_path / "v.duckdb")
    heard: list[tuple[int, int]] = []
    stages: list[str] = []
    try:
        rep = ingest(con, [EXAMPLES / "claude-code"])
        index = after_ingest(con, embed=True, on_progress=lambda d, t: heard.append((d, t)), on_stage=stages.append)
        mined = mine(con, backend="heuristic", on_progress=lambda d, t: heard.append((d, t)))
        corr = corrections_report(con, [])
        msg_ids = [r[0] for r in con.execute("SELECT msg_id FROM labels ORDER BY msg_id LIMIT 5").fetchall()]
        gold = tmp_path / "gold.jsonl"
        gold.write_text("".join(json.dumps({"msg_id": m, "label": "new_request"}) + "\n" for m in msg_ids))
        scored = evaluate(con, gold)
    finally:
        con.close()
    out, err = capsys.readouterr()
    assert (out, err) == ("", "")
    # ...and each call returned its data, with the progress heard through the callbacks.
    assert rep.sessions_touched > 0 and index["embed"]["messages"] > 0
    assert mined["turns_labelled"] > 0 and corr["labelled_turns"] == mined["turns_labelled"]
    assert scored["messages"] == len(msg_ids) == 5
    assert heard and heard[-1][0] == heard[-1][1] and "embedding" in stages
