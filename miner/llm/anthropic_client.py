"""`LLM`: the Anthropic API (the `anthropic` SDK, imported only when a call is made): one call per message, or the
Message Batches API at half price (`batch=True`; an interrupted batch is resumed, not paid again)."""

from __future__ import annotations

import os
import time
from typing import Any, Callable

from miner.llm.answers import Request, Result, parse_answer
from miner.llm.cache import forget, pending_batch, remember_batch
from miner.llm.client import LLMClient
from miner.llm.errors import LLMError

DEFAULT_MODEL = "claude-haiku-4-5"
MAX_BATCH_REQUESTS = 10_000  # the API allows 100k per batch; smaller batches finish and fail independently


class LLM(LLMClient):
    paid = True  # the Anthropic API costs money and leaves the machine

    def __init__(self, con, *, model: str = DEFAULT_MODEL, **kw: Any):
        super().__init__(con, model=model, **kw)

    @property
    def made_by(self) -> str:
        return f"anthropic:{self.model}"

    @staticmethod
    def _status_error() -> type[Exception]:
        import anthropic

        return anthropic.APIStatusError

    @staticmethod
    def _answer(message) -> tuple[str, int, int]:
        return _text_of(message), message.usage.input_tokens, message.usage.output_tokens

    def _create(self, req: Request):
        return self._guard(lambda: self._sdk().messages.create(**self._params(req)))

    def _params(self, req: Request) -> dict[str, Any]:
        return {"model": self.model, "max_tokens": self.out_tokens(req), "system": req.system,
                "messages": [{"role": "user", "content": req.user}]}

    # --- Message Batches API -------------------------------------------------------------------
    def _run_batch(self, todo: list[Request], schema) -> dict[str, Result]:
        out: dict[str, Result] = {}
        for i in range(0, len(todo), MAX_BATCH_REQUESTS):
            out.update(self._one_batch(todo[i:i + MAX_BATCH_REQUESTS], schema))
        return out

    def _one_batch(self, chunk: list[Request], schema) -> dict[str, Result]:
        by_id = {r.key[:64]: r for r in chunk}  # custom_id: 1-64 chars of [A-Za-z0-9_-]
        # The batch id is remembered in llm_cache, so an interrupted run resumes the batch instead of paying again.
        pending_key = "batch:" + self.cache_key(*sorted(by_id))
        batch_id = pending_batch(self.con, pending_key)
        if batch_id is not None:
            self.progress(f"resuming batch {batch_id}")
        else:
            batch = self._guard(lambda: self._sdk().messages.batches.create(
                requests=[{"custom_id": cid, "params": self._params(r)} for cid, r in by_id.items()]), batch_op=True)
            batch_id = batch.id
            remember_batch(self.con, pending_key, self.model, batch_id)
            self.progress(f"batch {batch_id}: {len(by_id)} requests sent")
        while True:
            batch = self._guard(lambda: self._sdk().messages.batches.retrieve(batch_id), batch_op=True)
            if batch.processing_status == "ended":
                break
            c = batch.request_counts
            self.progress(f"batch {batch_id}: {c.processing} processing, {c.succeeded} done")
            time.sleep(self.poll_interval)

        out: dict[str, Result] = {}
        retry: list[Request] = []
        for item in self._guard(lambda: list(self._sdk().messages.batches.results(batch_id)), batch_op=True):
            req = by_id.get(item.custom_id)
            if req is None:
                continue
            if item.result.type != "succeeded":
                retry.append(req)  # errored / expired / canceled: try once more with a direct call
                continue
            msg = item.result.message
            res = Result(None, input_tokens=msg.usage.input_tokens, output_tokens=msg.usage.output_tokens)
            try:
                res.value = parse_answer(_text_of(msg), schema)
                out[req.key] = self._record(req, res)
            except ValueError:
                self._record(req, res)  # paid for, even if malformed
                retry.append(req)
        retry += [r for cid, r in by_id.items() if r.key not in out and r not in retry]  # missing from results
        if retry:
            self.progress(f"batch {batch_id}: retrying {len(retry)} answers one by one")
            saved, self.batch = self.batch, False  # retries are ordinary calls, at the ordinary price
            try:
                for req in retry:
                    res = self._call_validated(req, schema)
                    if res.error and res.value is None:
                        res.error = "batch answer unusable, then " + res.error
                    out[req.key] = self._record(req, res)
            finally:
                self.batch = saved
        forget(self.con, pending_key)
        return out

    # --- SDK and errors -------------------------------------------------------------------------
    def _check_key(self) -> None:
        if not (self.api_key or os.environ.get("ANTHROPIC_API_KEY")):
            raise LLMError("the anthropic backend needs an API key: set ANTHROPIC_API_KEY "
                           "(nothing was sent; the heuristic backend works offline)")

    def _sdk(self):
        if self._client is None:
            import anthropic  # heavy, and only for the opt-in backend

            self._check_key()
            # base_url=None lets the SDK read ANTHROPIC_BASE_URL itself.
            self._client = anthropic.Anthropic(api_key=self.api_key or os.environ["ANTHROPIC_API_KEY"],
                                               max_retries=self.max_retries, timeout=self.timeout)
        return self._client

    def _guard(self, call: Callable[[], Any], batch_op: bool = False) -> Any:
        """Turn the SDK errors no retry fixes into LLMError with a clear message.

        Other API errors of a single call propagate (that message fails); of a batch operation they are fatal.
        """
        import anthropic

        try:
            return call()
        except anthropic.APIConnectionError as e:
            url = os.environ.get("ANTHROPIC_BASE_URL") or "https://api.anthropic.com"
            raise LLMError(f"cannot reach the Anthropic API at {url} ({type(e).__name__}: {e}); "
                           "check the network (answers received so far are cached)") from e
        except (anthropic.AuthenticationError, anthropic.PermissionDeniedError) as e:
            raise LLMError(f"the Anthropic API refused the key in ANTHROPIC_API_KEY: {e}") from e
        except anthropic.NotFoundError as e:
            raise LLMError(f"the Anthropic API does not know this model or resource ({self.model}): {e}") from e
        except anthropic.APIStatusError as e:
            if not batch_op:
                raise
            raise LLMError(f"the Message Batches API failed ({e.status_code}: {e.message}); "
                           "answers received so far are cached") from e


def _text_of(message) -> str:
    return "".join(getattr(b, "text", "") for b in message.content if getattr(b, "type", "") == "text")
