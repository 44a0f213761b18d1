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

`OpenAICompatibleLLM` (the official `openai` SDK with `base_url`) talks to Ollama, llama.cpp's server,
vLLM, LM Studio, `transformers serve` or a hosted endpoint. An endpoint on this machine (`is_local`) is
free and sends nothing off it: `paid` is false, so callers ask no confirmation and the plan costs $0.
A remote one is `paid`: the same confirmation, `--max-cost` and redaction as Anthropic (its price is
unknown, so it is estimated at the highest known price). `make_llm` picks the client from the `[llm]`
settings. `made_by` names the backend for the dataset card.

Token counts are estimates: characters / 3.5 (no tokenizer call, no network), plus a fixed
per-request overhead. Real usage reported by the API is stored next to each cached answer.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

import orjson
import pydantic

from vault.redact import Redactor
from vault.store import VaultError  # LLM errors print as one clean CLI error line

DEFAULT_MODEL = "claude-haiku-4-5"
# USD per million tokens (input, output), standard API prices. The Batches API costs half.
PRICES: dict[str, tuple[float, float]] = {
    "claude-haiku-4-5": (1.00, 5.00),
    "claude-sonnet-4-5": (3.00, 15.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-opus-4-5": (5.00, 25.00),
    "claude-opus-4-1": (15.00, 75.00),
    "claude-3-5-haiku-latest": (0.80, 4.00),
}
BATCH_DISCOUNT = 0.5
CHARS_PER_TOKEN = 3.5  # rough average for English prose and code; an estimate, not a tokenizer
REQUEST_OVERHEAD_TOKENS = 10  # role markers and message framing per request
MAX_BATCH_REQUESTS = 10_000  # the API allows 100k per batch; smaller batches finish and fail independently


class LLMError(VaultError):
    """A problem the user must fix (no key, network down, over budget); the message says what to do."""


class CostLimitExceeded(LLMError):
    pass


def price_of(model: str) -> tuple[float, float, bool]:
    """(input, output) USD per million tokens and whether the model is in the table.

    Dated ids (claude-haiku-4-5-20251001) use their alias's price; unknown models are estimated
    at the most expensive price in the table, so an estimate never understates.
    """
    for name, price in sorted(PRICES.items(), key=lambda kv: -len(kv[0])):  # claude-sonnet-4-5 before -4
        if model == name or model.startswith(name + "-"):
            return price[0], price[1], True
    worst = max(PRICES.values())
    return worst[0], worst[1], False


def estimate_tokens(text: str) -> int:
    return int(len(text) / CHARS_PER_TOKEN) + 1


@dataclass(slots=True)
class Request:
    key: str  # cache key: sha256(model, prompt version, redacted payload)
    system: str  # redacted
    user: str  # redacted
    max_tokens: int | None = None  # this request's output bound, below the client's (a rewrite: about its answer's)


@dataclass(slots=True)
class Result:
    value: pydantic.BaseModel | None  # the validated answer, None on failure
    cached: bool = False
    error: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(slots=True)
class Plan:
    model: str
    batch: bool
    requests: int  # distinct requests (identical payloads are sent once)
    cached: int
    to_send: int
    input_tokens: int  # estimated, for the requests to send
    output_tokens: int  # estimated
    cost_usd: float  # estimated
    price_known: bool = True

    def describe(self) -> str:
        mode = "Message Batches API (half price)" if self.batch else "one call per message"
        s = (f"{self.requests} messages for {self.model}: {self.cached} already cached, {self.to_send} to send "
             f"({mode}); estimated {self.input_tokens:,} input + {self.output_tokens:,} output tokens, "
             f"about ${self.cost_usd:.4f}")
        if not self.batch and self.to_send >= 200:
            s += "; --batch would halve the price (answers take minutes to hours)"
        if not self.paid:
            return (f"{self.requests} messages for {self.model} on this machine: {self.cached} already cached, "
                    f"{self.to_send} to send (a local endpoint: free, nothing leaves this machine)")
        if not self.price_known:
            s += " (model not in the price table: estimated at the highest known price)"
        return s

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}

    @property
    def needs_consent(self) -> bool:
        """Something would be sent to a paid (or remote) endpoint: ask first."""
        return self.to_send > 0 and self.paid

    paid: bool = True


@dataclass
class Usage:
    """What a run actually did (from the API's usage fields)."""

    sent: int = 0
    cached: int = 0
    failed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "cost_usd": round(self.cost_usd, 6), "errors": self.errors[:20]}


class LLM:
    def __init__(
        self,
        con,
        *,
        prompt_version: str,
        model: str = DEFAULT_MODEL,
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

    paid = True  # the Anthropic API costs money and leaves the machine

    @property
    def made_by(self) -> str:
        return f"anthropic:{self.model}"

    def cache_key(self, *parts: str) -> str:
        blob = json.dumps([self.model, self.prompt_version, *parts], ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def plan(self, requests: Sequence[Request]) -> Plan:
        distinct = {r.key: r for r in requests}
        cached = self._cached(list(distinct))
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
        distinct = {r.key: r for r in requests}
        results: dict[str, Result] = {}
        for key, response in self._cached(list(distinct)).items():
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

    @staticmethod
    def _status_error() -> type[Exception]:
        """The SDK's error for a refused call (it has `status_code` and `message`)."""
        import anthropic

        return anthropic.APIStatusError

    @staticmethod
    def _answer(message) -> tuple[str, int, int]:
        """An answer's text and its tokens (sent, received)."""
        return _text_of(message), message.usage.input_tokens, message.usage.output_tokens

    def _create(self, req: Request):
        return self._guard(lambda: self._sdk().messages.create(**self._params(req)))

    def _params(self, req: Request) -> dict[str, Any]:
        return {"model": self.model, "max_tokens": self.out_tokens(req), "system": req.system,
                "messages": [{"role": "user", "content": req.user}]}

    def _record(self, req: Request, res: Result) -> Result:
        """Account for the tokens and cache a valid answer."""
        pin, pout, _ = price_of(self.model) if self.paid else (0.0, 0.0, True)
        discount = BATCH_DISCOUNT if self.batch else 1.0
        self.usage.sent += 1
        self.usage.input_tokens += res.input_tokens
        self.usage.output_tokens += res.output_tokens
        self.usage.cost_usd += (res.input_tokens * pin + res.output_tokens * pout) / 1e6 * discount
        if res.value is not None:
            self.con.execute(
                "INSERT OR REPLACE INTO llm_cache (cache_key, model, response, input_tokens, output_tokens) "
                "VALUES (?, ?, ?, ?, ?)",
                [req.key, self.model, res.value.model_dump_json(), res.input_tokens, res.output_tokens])
        return res

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
        row = self.con.execute("SELECT response FROM llm_cache WHERE cache_key = ?", [pending_key]).fetchone()
        if row:
            batch_id = orjson.loads(row[0])["batch_id"]
            self.progress(f"resuming batch {batch_id}")
        else:
            batch = self._guard(lambda: self._sdk().messages.batches.create(
                requests=[{"custom_id": cid, "params": self._params(r)} for cid, r in by_id.items()]), batch_op=True)
            batch_id = batch.id
            self.con.execute("INSERT OR REPLACE INTO llm_cache (cache_key, model, response) VALUES (?, ?, ?)",
                             [pending_key, self.model, orjson.dumps({"batch_id": batch_id}).decode()])
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
        self.con.execute("DELETE FROM llm_cache WHERE cache_key = ?", [pending_key])
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

    def _cached(self, keys: list[str]) -> dict[str, Any]:
        if not keys:
            return {}
        rows = self.con.execute(
            "SELECT cache_key, response FROM llm_cache WHERE cache_key IN (SELECT unnest(?::VARCHAR[]))",
            [keys]).fetchall()
        return {k: orjson.loads(v) for k, v in rows if v is not None}


def _text_of(message) -> str:
    return "".join(getattr(b, "text", "") for b in message.content if getattr(b, "type", "") == "text")


_FENCE_RE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def parse_answer(text: str, schema: type[pydantic.BaseModel]) -> pydantic.BaseModel:
    """The JSON object in a model's answer (bare, or in a ```json fence), validated; else, for a schema with a
    `from_text` classmethod, what it makes of the plain text (small local models rarely follow a JSON
    instruction); ValueError otherwise."""
    try:
        return _parse_json(text, schema)
    except ValueError:
        from_text = getattr(schema, "from_text", None)
        if from_text is None:
            raise
        return from_text(text)  # raises ValueError when the text holds nothing usable


def _parse_json(text: str, schema: type[pydantic.BaseModel]) -> pydantic.BaseModel:
    m = _FENCE_RE.search(text)
    body = m.group(1) if m else text
    start, end = body.find("{"), body.rfind("}")
    if start < 0 or end <= start:
        raise ValueError(f"no JSON object in {text[:80]!r}")
    try:
        return schema.model_validate_json(body[start:end + 1])
    except pydantic.ValidationError as e:
        raise ValueError(f"invalid answer: {e.errors()[0].get('msg', e)} in {text[:80]!r}") from e


# --- any OpenAI-compatible endpoint ------------------------------------------------------------

DEFAULT_OPENAI_MODEL = "default"  # llama.cpp's server and `transformers serve` accept any name
LOCAL_TIMEOUT = 900.0  # seconds a local server may take for one answer
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})


def is_local(base_url: str | None) -> bool:
    """The endpoint is on this machine: nothing sent leaves it, nothing is paid."""
    from urllib.parse import urlsplit

    host = (urlsplit(base_url or "").hostname or "").lower()
    return host in LOCAL_HOSTS or host.endswith(".localhost")


class OpenAICompatibleLLM(LLM):
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

    def _run_batch(self, todo: list[Request], schema) -> dict[str, Result]:
        return self._run_calls(todo, schema)

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


def make_llm(con, settings=None, **kw: Any) -> LLM:
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
