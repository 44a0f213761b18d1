"""A User-Guided Rewrite through a real local OpenAI-compatible server (`transformers serve`, SmolLM2-135M).

The plumbing, not the quality: the 135M model does not follow a JSON instruction, so the rewrite is its plain
text. One correction is sent (the others relabelled), 16 output tokens: 214 s in all (model conversion, server
start, the call) on the shared 2-core machine under a load average of 15.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2_server(tmp_path_factory):
    pytest.importorskip("fastapi", reason="transformers serve needs fastapi (the train extra)")
    from trainer.model import default_base, load_base

    try:
        gguf = default_base()
    except RuntimeError as e:
        pytest.skip(str(e))
    folder = tmp_path_factory.mktemp("smollm2")
    model, tok = load_base(gguf)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    del model
    cli = shutil.which("transformers", path=str(Path(sys.executable).parent)) or shutil.which("transformers")
    if cli is None:
        pytest.skip("no `transformers` command")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(folder / "serve.log", "w")
    proc = subprocess.Popen([cli, "serve", str(folder), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        deadline = time.time() + 300
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail(f"transformers serve did not start: {(folder / 'serve.log').read_text()[-2000:]}")
                time.sleep(2)
        yield f"http://127.0.0.1:{port}/v1", str(folder)
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
