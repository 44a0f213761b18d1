"""`OpenAICompatibleLLM`: any OpenAI-compatible endpoint (the official `openai` SDK with `base_url`, imported only
when a call is made): Ollama, llama.cpp's server, vLLM, LM Studio, `transformers serve` or a hosted endpoint.

An endpoint on this machine (`is_local`) is free and sends nothing off it: `paid` is false, so callers ask no
confirmation and the plan costs $0. A remote one is `paid`: the same confirmation, `--max-cost` and redaction as
Anthropic (its price is unknown, so it is estimated at the highest known price).
"""

from __future__ import annotations

import os
from typing import Any, Callable

from miner.llm.answers import Request
from miner.llm.client import LLMClient
from miner.llm.errors import LLMError

DEFAULT_OPENAI_MODEL = "default"  # llama.cpp's server and `transformers serve` accept any name
LOCAL_TIMEOUT = 900.0  # seconds a local server may take for one answer
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})


def is_local(base_url: str | None) -> bool:
    """The endpoint is on this machine: nothing sent leaves it, nothing is paid."""
    from urllib.parse import urlsplit

    host = (urlsplit(base_url or "").hostname or "").lower()
    return host in LOCAL_HOSTS or host.endswith(".localhost")


class OpenAICompatibleLLM(LLMClient):
    """The same flow (redaction, plan, consent, cache, validation) over the OpenAI Chat Completions API.

    No batch API (local servers have none): `batch=True` sends one call per message.
    """

    def __init__(self, con, *, base_url: str, api_key_env: str = "OPENAI_API_KEY", **kw: Any):
        kw.setdefault("model", DEFAULT_OPENAI_MODEL)
        super().__init__(con, **kw)
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.batch = False
        self.paid = not is_local(base_url)
        if not self.paid:
            # A server on this machine answers one request at a time on a shared CPU: a queue of parallel calls
            # only makes each one wait longer, and a slow model needs minutes, not the hosted API's 60 s.
            self.concurrency = 1
            self.timeout = max(self.timeout, LOCAL_TIMEOUT)

    @property
    def made_by(self) -> str:
        from urllib.parse import urlsplit

        return f"openai:{self.model}@{urlsplit(self.base_url).netloc}"

    def _check_key(self) -> None:
        if self.paid and not (self.api_key or os.environ.get(self.api_key_env)):
            raise LLMError(f"the endpoint {self.base_url} is not on this machine and needs an API key: set "
                           f"{self.api_key_env} (nothing was sent)")

    def _sdk(self):
        if self._client is None:
            import openai  # heavy, and only for the opt-in backend

            self._check_key()
            key = self.api_key or os.environ.get(self.api_key_env) or "not-needed"  # local servers ignore it
            self._client = openai.OpenAI(base_url=self.base_url, api_key=key, max_retries=self.max_retries,
                                         timeout=self.timeout)
        return self._client

    def _params(self, req: Request) -> dict[str, Any]:
        return {"model": self.model, "max_tokens": self.out_tokens(req),
                "messages": [{"role": "system", "content": req.system}, {"role": "user", "content": req.user}]}

    def _create(self, req: Request):
        return self._guard(lambda: self._sdk().chat.completions.create(**self._params(req)))

    @staticmethod
    def _status_error() -> type[Exception]:
        import openai

        return openai.APIStatusError

    @staticmethod
    def _answer(completion) -> tuple[str, int, int]:
        usage = getattr(completion, "usage", None)
        choices = completion.choices or []
        text = (choices[0].message.content or "") if choices else ""
        return text, getattr(usage, "prompt_tokens", 0) or 0, getattr(usage, "completion_tokens", 0) or 0

    def _guard(self, call: Callable[[], Any], batch_op: bool = False) -> Any:
        import openai

        try:
            return call()
        except openai.APIConnectionError as e:
            raise LLMError(f"cannot reach the LLM endpoint at {self.base_url} ({type(e).__name__}: {e}); is the "
                           "server running? (answers received so far are cached)") from e
        except (openai.AuthenticationError, openai.PermissionDeniedError) as e:
            raise LLMError(f"the endpoint {self.base_url} refused the key in {self.api_key_env}: {e}") from e
        except openai.NotFoundError as e:
            raise LLMError(f"the endpoint {self.base_url} does not know the model {self.model!r} (or has no "
                           f"/chat/completions): {e}") from e
