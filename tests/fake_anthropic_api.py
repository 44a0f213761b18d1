"""A local HTTP server speaking enough of the Anthropic Messages and Message Batches APIs for tests.

The real `anthropic` SDK talks to it (base_url = server.url); nothing is mocked inside the SDK.
It records every request (method, path, raw body) so tests can count calls and inspect what was sent.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MARKER = "Message to label"


def label_rule(text: str) -> str:
    """The fake model's labelling rule; tests compare results to it to check answers reach the right turn."""
    t = text.strip().lower()
    if t in {"continue", "try again", "go on"}:
        return "reattempt_without_feedback"
    if t.startswith(("no", "still", "that's wrong")) or "did you" in t or "traceback" in t:
        return "reattempt_with_feedback"
    if t.startswith(("thanks", "lgtm", "perfect")):
        return "positive_feedback"
    return "new_request"


def message_of(user_content: str) -> str:
    """The text of the message to label, from the classifier's rendered request."""
    return user_content.rsplit(MARKER, 1)[-1].split("\n", 1)[-1]


class FakeAnthropic:
    """Behaviour is scripted with `self.script`: a queue of 'ok' | 'malformed' | 429 | 500 | 'fence'
    consumed by the calls to POST /v1/messages in order (empty queue: 'ok')."""

    def __init__(self, polls_before_end: int = 1):
        self.requests: list[tuple[str, str, str]] = []
        self.script: deque = deque()
        self.polls_before_end = polls_before_end
        self.batches: dict[str, dict] = {}
        self.batch_malformed: set[str] = set()  # message texts answered with garbage inside batches
        self.input_tokens: int | None = None  # reported usage per answer (default: about chars / 4)
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def _reply(self, status: int, body, headers: dict | None = None, ctype="application/json"):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
                fake._log("POST", self.path, raw)
                body = json.loads(raw)
                if self.path == "/v1/messages":
                    with fake._lock:
                        step = fake.script.popleft() if fake.script else "ok"
                    if isinstance(step, int):
                        return self._reply(step, {"type": "error", "error": {
                            "type": "rate_limit_error" if step == 429 else "api_error", "message": "scripted"}},
                            {"retry-after-ms": "5"})
                    return self._reply(200, fake.message(body, malformed=step == "malformed", fence=step == "fence"))
                if self.path == "/v1/messages/batches":
                    with fake._lock:
                        bid = f"msgbatch_{len(fake.batches) + 1:04d}"
                        fake.batches[bid] = {"requests": body["requests"], "polls": 0}
                    return self._reply(200, fake.batch_obj(bid))
                self._reply(404, {"type": "error", "error": {"type": "not_found_error", "message": self.path}})

            def do_GET(self):
                fake._log("GET", self.path, "")
                m = re.fullmatch(r"/v1/messages/batches/([\w-]+)(/results)?", self.path)
                if not m or m.group(1) not in fake.batches:
                    return self._reply(404, {"type": "error", "error": {"type": "not_found_error", "message": "?"}})
                bid = m.group(1)
                if m.group(2):
                    return self._reply(200, fake.results_jsonl(bid), ctype="application/binary")
                fake.batches[bid]["polls"] += 1
                return self._reply(200, fake.batch_obj(bid))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # --- what the server answers ------------------------------------------------------------
    def _log(self, method: str, path: str, body: str) -> None:
        with self._lock:
            self.requests.append((method, path, body))

    def message(self, params: dict, malformed: bool = False, fence: bool = False) -> dict:
        user = params["messages"][0]["content"]
        label = label_rule(message_of(user))
        answer = json.dumps({"label": label, "confidence": 0.9, "reason": "fake rule"})
        text = "Sure, it is probably a request." if malformed else (f"```json\n{answer}\n```" if fence else answer)
        return {"id": "msg_fake", "type": "message", "role": "assistant", "model": params["model"],
                "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": self.input_tokens or len(params["system"] + user) // 4, "output_tokens": 25}}

    def batch_obj(self, bid: str) -> dict:
        b = self.batches[bid]
        ended = b["polls"] >= self.polls_before_end
        n = len(b["requests"])
        return {"id": bid, "type": "message_batch", "processing_status": "ended" if ended else "in_progress",
                "request_counts": {"processing": 0 if ended else n, "succeeded": n if ended else 0,
                                   "errored": 0, "canceled": 0, "expired": 0},
                "created_at": "2026-11-29T10:00:00Z", "expires_at": "2026-11-30T10:00:00Z",
                "ended_at": "2026-11-29T10:01:00Z" if ended else None, "archived_at": None,
                "cancel_initiated_at": None,
                "results_url": f"{self.url}/v1/messages/batches/{bid}/results" if ended else None}

    def results_jsonl(self, bid: str) -> bytes:
        lines = []
        for req in reversed(self.batches[bid]["requests"]):  # results come in any order: match by custom_id
            text = message_of(req["params"]["messages"][0]["content"])
            msg = self.message(req["params"], malformed=text in self.batch_malformed)
            lines.append(json.dumps({"custom_id": req["custom_id"], "result": {"type": "succeeded", "message": msg}}))
        return ("\n".join(lines) + "\n").encode()

    # --- inspection ---------------------------------------------------------------------------
    def count(self, method: str | None = None, path: str | None = None) -> int:
        return sum(1 for m, p, _ in self.requests if (method is None or m == method) and (path is None or p == path))

    def bodies(self) -> str:
        return "\n".join(b for _, _, b in self.requests)


@contextlib.contextmanager
def running(monkeypatch, api: FakeAnthropic | None = None):
    """Serve `api` (default: a plain FakeAnthropic); the real SDK finds it through ANTHROPIC_BASE_URL."""
    api = api or FakeAnthropic()
    api.thread.start()
    monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-dummy-key-not-real")
    try:
        yield api
    finally:
        api.server.shutdown()
        api.server.server_close()
