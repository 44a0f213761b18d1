"""`LLMClient`: the flow every protocol shares: redact and key the requests, plan and confirm the cost, answer from
the cache, send the rest (a few calls in flight, one retry of a malformed answer), validate, record.

A protocol (miner.llm.anthropic_client, miner.llm.openai_client) gives the calls themselves: `_sdk`, `_check_key`,
`_guard`, `_params`, `_create`, `_status_error`, `_answer`, `made_by`, and `_run_batch` if it has a batch API.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, Sequence

from miner.llm.answers import Request, Result, parse_answer
from miner.llm.cache import cached_answers, store_answer
from miner.llm.costs import BATCH_DISCOUNT, REQUEST_OVERHEAD_TOKENS, Plan, Usage, estimate_tokens, price_of
from miner.llm.errors import CostLimitExceeded, LLMError
from vault.redact import Redactor

if TYPE_CHECKING:
    import pydantic


class LLMClient(ABC):
    paid = True  # costs money and leaves the machine, unless a protocol says otherwise

    def __init__(
        self,
        con,
        *,
        prompt_version: str,
        model: str,
        batch: bool = False,
        max_cost: float | None = None,
        redactor: Redactor | None = None,
        api_key: str | None = None,
        max_tokens: int = 400,
        expected_output_tokens: int = 60,
        max_retries: int = 4,
        timeout: float = 60.0,
        concurrency: int = 4,
        poll_interval: float = 30.0,
        progress: Callable[[str], None] | None = None,
    ):
        self.con = con
        self.prompt_version = prompt_version
        self.model = model
        self.batch = batch
        self.max_cost = max_cost
        self.redactor = redactor or Redactor()
        self.api_key = api_key
        self.max_tokens = max_tokens
        self.expected_output_tokens = expected_output_tokens
        self.max_retries = max_retries  # the SDK's own retries with backoff (429, 5xx, connection errors)
        self.timeout = timeout
        self.concurrency = max(1, concurrency)
        self.poll_interval = poll_interval
        self.progress = progress or (lambda msg: None)
        self.usage = Usage()
        self._client = None
        self._redacted_system: dict[str, str] = {}

    @property
    @abstractmethod
    def made_by(self) -> str:
        """The backend, for the dataset card (`anthropic:<model>`, `openai:<model>@<host>`)."""

    # --- building requests and plans ------------------------------------------------------------
    def request(self, system: str, user: str, cache_key_parts: Sequence[str] | None = None,
                max_tokens: int | None = None) -> Request:
        if system not in self._redacted_system:  # the same system prompt for thousands of requests
            self._redacted_system[system] = self.redactor.redact(system)
        system, user = self._redacted_system[system], self.redactor.redact(user)
        parts = list(cache_key_parts) if cache_key_parts is not None else [system, user]
        return Request(key=self.cache_key(*parts), system=system, user=user, max_tokens=max_tokens)

    def out_tokens(self, req: Request) -> int:
        return min(self.max_tokens, req.max_tokens or self.max_tokens)

    def cache_key(self, *parts: str) -> str:
        blob = json.dumps([self.model, self.prompt_version, *parts], ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def plan(self, requests: Sequence[Request]) -> Plan:
        distinct = {r.key: r for r in requests}
        cached = cached_answers(self.con, list(distinct))
        todo = [r for k, r in distinct.items() if k not in cached]
        tin = sum(estimate_tokens(r.system) + estimate_tokens(r.user) + REQUEST_OVERHEAD_TOKENS for r in todo)
        tout = sum(min(self.expected_output_tokens, self.out_tokens(r)) for r in todo)
        pin, pout, known = price_of(self.model)
        cost = (tin * pin + tout * pout) / 1e6 * (BATCH_DISCOUNT if self.batch else 1.0)
        if not self.paid:
            cost, known = 0.0, True
        return Plan(self.model, self.batch, len(distinct), len(distinct) - len(todo), len(todo), tin, tout,
                    round(cost, 6), known, self.paid)

    def check_budget(self, plan: Plan) -> None:
        """Refuse when the estimate, plus what this client already spent, is above max_cost."""
        if self.max_cost is not None and self.usage.cost_usd + plan.cost_usd > self.max_cost:
            spent = f" after ${self.usage.cost_usd:.4f} already spent" if self.usage.cost_usd else ""
            raise CostLimitExceeded(
                f"estimated cost ${plan.cost_usd:.4f}{spent} is above --max-cost ${self.max_cost:.4f}; "
                f"nothing was sent ({plan.describe()})")

    def consent(self, plan: Plan, yes: bool, confirm: Callable[[Plan], bool] | None) -> None:
        """The one paid-confirmation step, before sending what `plan` describes: nothing to pay for passes;
        above --max-cost raises CostLimitExceeded; else `yes`, or `confirm(plan)` returning True, is needed,
        otherwise LLMError. Whatever is refused, nothing was sent."""
        if not plan.needs_consent:
            return
        self.check_budget(plan)
        if yes:
            return
        if confirm is None:
            raise LLMError(f"{plan.describe()}. Not confirmed (--yes to send); nothing was sent")
        if not confirm(plan):
            raise LLMError(f"stopped: the estimate was not confirmed; nothing was sent ({plan.describe()})")

    # --- running --------------------------------------------------------------------------------
    def complete_json(self, system: str, user: str, schema: type[pydantic.BaseModel],
                      cache_key_parts: Sequence[str] | None = None) -> pydantic.BaseModel:
        """One validated answer (cached); raises LLMError if it cannot be had."""
        res = self.run([self.request(system, user, cache_key_parts)], schema)[0]
        if res.value is None:
            raise LLMError(f"the model gave no valid answer: {res.error}")
        return res.value

    def run(self, requests: Sequence[Request], schema: type[pydantic.BaseModel]) -> list[Result]:
        """One Result per request, in order. Cached answers cost nothing; failures are recorded, not raised.

        Raises LLMError only for what no retry can fix: missing key, authentication, network down.
        """
        import pydantic

        distinct = {r.key: r for r in requests}
        results: dict[str, Result] = {}
        for key, response in cached_answers(self.con, list(distinct)).items():
            try:
                results[key] = Result(schema.model_validate(response), cached=True)
            except pydantic.ValidationError:
                pass  # a cached answer from an older schema: ask again
        self.usage.cached += len(results)
        todo = [r for k, r in distinct.items() if k not in results]
        if todo:
            self.check_budget(self.plan(todo))
            self._check_key()
            results.update(self._run_batch(todo, schema) if self.batch else self._run_calls(todo, schema))
        for res in results.values():
            if res.value is None:
                self.usage.failed += 1
                self.usage.errors.append(res.error or "unknown error")
        return [results[r.key] for r in requests]

    def _run_batch(self, todo: list[Request], schema) -> dict[str, Result]:
        """A protocol without a batch API sends one call per message."""
        return self._run_calls(todo, schema)

    def _run_calls(self, todo: list[Request], schema) -> dict[str, Result]:
        out: dict[str, Result] = {}
        stop = None
        api_errors = 0
        # HTTP in a few threads, at most `concurrency` in flight so that a stop stops soon;
        # the DuckDB connection is only touched here, in this thread.
        pool = ThreadPoolExecutor(self.concurrency)
        futures = [pool.submit(self._call_validated, r, schema) for r in todo[:self.concurrency]]
        try:
            for n, req in enumerate(todo, 1):
                res = out[req.key] = self._record(req, futures[n - 1].result())
                api_errors = api_errors + 1 if res.error and res.error.startswith("API error") else 0
                if self.max_cost is not None and self.usage.cost_usd > self.max_cost:
                    stop = f"not sent: --max-cost ${self.max_cost} reached"
                elif api_errors >= 5:
                    stop = f"not sent: stopped after 5 API errors in a row (last: {res.error})"
                if n % 50 == 0 or n == len(todo) or stop:
                    self.progress(f"{n}/{len(todo)} answers, ${self.usage.cost_usd:.4f} spent")
                if stop:
                    break
                if len(futures) < len(todo):
                    futures.append(pool.submit(self._call_validated, todo[len(futures)], schema))
        finally:
            # On a stop or an error: start nothing new, but keep (and cache) the answers already paid for.
            pool.shutdown(wait=True)
            for req, fut in zip(todo, futures):
                if req.key not in out and fut.exception() is None:
                    out[req.key] = self._record(req, fut.result())
        for req in todo:
            out.setdefault(req.key, Result(None, error=stop))
        return out

    def _call_validated(self, req: Request, schema) -> Result:
        """A call, and one more if the answer is not valid JSON for `schema` (every protocol: `_create`,
        `_status_error` and `_answer` are its own)."""
        res = Result(None)
        for attempt in range(2):
            try:
                message = self._create(req)
            except self._status_error() as e:  # 429/5xx after the SDK's retries, 400s: this message fails
                res.error = f"API error {e.status_code}: {e.message}"
                return res
            text, sent, got = self._answer(message)
            res.input_tokens += sent
            res.output_tokens += got
            try:
                res.value, res.error = parse_answer(text, schema), None
                return res
            except ValueError as e:
                res.error = f"malformed answer ({'after retry: ' if attempt else ''}{e})"
        return res

    def _record(self, req: Request, res: Result) -> Result:
        """Account for the tokens and cache a valid answer."""
        pin, pout, _ = price_of(self.model) if self.paid else (0.0, 0.0, True)
        discount = BATCH_DISCOUNT if self.batch else 1.0
        self.usage.sent += 1
        self.usage.input_tokens += res.input_tokens
        self.usage.output_tokens += res.output_tokens
        self.usage.cost_usd += (res.input_tokens * pin + res.output_tokens * pout) / 1e6 * discount
        if res.value is not None:
            store_answer(self.con, req.key, self.model, res.value.model_dump_json(), res.input_tokens,
                         res.output_tokens)
        return res

    # --- what each protocol gives ---------------------------------------------------------------
    @abstractmethod
    def _check_key(self) -> None:
        """Raise LLMError when a key is needed and missing (before anything is sent)."""

    @abstractmethod
    def _sdk(self):
        """The SDK's client, made once."""

    @abstractmethod
    def _guard(self, call: Callable[[], Any], batch_op: bool = False) -> Any:
        """`call()`, the SDK's errors that no retry fixes turned into LLMError."""

    @abstractmethod
    def _params(self, req: Request) -> dict[str, Any]:
        """The SDK call's keyword arguments for `req`."""

    @abstractmethod
    def _create(self, req: Request):
        """One call: the SDK's message for `req`."""

    @staticmethod
    @abstractmethod
    def _status_error() -> type[Exception]:
        """The SDK's error for a refused call (it has `status_code` and `message`)."""

    @staticmethod
    @abstractmethod
    def _answer(message) -> tuple[str, int, int]:
        """An answer's text and its tokens (sent, received)."""
