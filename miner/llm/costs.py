"""What a run would cost and what it did: the price table, token estimates, the `Plan` shown before sending and
the `Usage` counted while sending.

Token counts are estimates: characters / 3.5 (no tokenizer call, no network), plus a fixed per-request overhead.
Real usage reported by the API is stored next to each cached answer (miner.llm.cache).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

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
