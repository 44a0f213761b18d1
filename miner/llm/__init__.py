"""The opt-in LLM clients (Anthropic, any OpenAI-compatible endpoint): redact, estimate, confirm, cache, call, validate.

Nothing here runs unless a user picks a networked backend. Every text is redacted
(vault.redact.Redactor) before it is sent; answers are cached in `llm_cache` under
sha256(model, prompt version, redacted payload), so a re-run never pays twice.

Flow for a caller (see miner/classify/anthropic.py):
    llm = LLM(con, prompt_version="v1", model=..., batch=..., max_cost=...)
    reqs = [llm.request(system, user) for ...]
    plan = llm.plan(reqs)                 # counts, cached, tokens, dollars (shown for confirmation)
    llm.check_budget(plan)                # raises CostLimitExceeded above --max-cost
    results = llm.run(reqs, Schema)       # one Result per request, in order; failures recorded, not raised

The modules: `client` (`LLMClient`, the flow every protocol shares), `anthropic_client` (`LLM`, the Anthropic
API and its Message Batches), `openai_client` (`OpenAICompatibleLLM`), `costs` (prices, token estimates, `Plan`,
`Usage`), `answers` (`Request`, `Result`, `parse_answer`), `cache` (the `llm_cache` table), `errors`; `server`, not
imported here, runs a local OpenAI-compatible endpoint (`python -m miner.llm.server`, llama-cpp-python's).
`make_llm` picks the client from the `[llm]` settings; `made_by` names the backend for the dataset card.
"""

from __future__ import annotations

from typing import Any

from miner.llm.answers import Request, Result, parse_answer
from miner.llm.anthropic_client import DEFAULT_MODEL, LLM, MAX_BATCH_REQUESTS
from miner.llm.client import LLMClient
from miner.llm.costs import (
    BATCH_DISCOUNT,
    CHARS_PER_TOKEN,
    PRICES,
    REQUEST_OVERHEAD_TOKENS,
    Plan,
    Usage,
    estimate_tokens,
    price_of,
)
from miner.llm.errors import CostLimitExceeded, LLMError
from miner.llm.openai_client import DEFAULT_OPENAI_MODEL, LOCAL_HOSTS, LOCAL_TIMEOUT, OpenAICompatibleLLM, is_local

__all__ = [
    "BATCH_DISCOUNT", "CHARS_PER_TOKEN", "DEFAULT_MODEL", "DEFAULT_OPENAI_MODEL", "LLM", "LLMClient", "LLMError",
    "LOCAL_HOSTS", "LOCAL_TIMEOUT", "MAX_BATCH_REQUESTS", "PRICES", "REQUEST_OVERHEAD_TOKENS", "CostLimitExceeded",
    "OpenAICompatibleLLM", "Plan", "Request", "Result", "Usage", "estimate_tokens", "is_local", "make_llm",
    "parse_answer", "price_of",
]


def make_llm(con, settings=None, **kw: Any) -> LLMClient:
    """The client the `[llm]` settings (vault.settings.LLMSettings) name; `kw` as for `LLM`."""
    if settings is not None and settings.backend == "openai":
        if not settings.base_url:
            raise LLMError("the openai LLM backend needs a base URL: set [llm] base_url (or VAULT_LLM_BASE_URL)")
        if kw.get("model") in (None, DEFAULT_MODEL):  # an Anthropic default means nothing to this endpoint
            kw["model"] = settings.model or DEFAULT_OPENAI_MODEL
        return OpenAICompatibleLLM(con, base_url=settings.base_url, api_key_env=settings.api_key_env, **kw)
    if settings is not None and settings.model and "model" not in kw:
        kw["model"] = settings.model
    return LLM(con, **kw)
