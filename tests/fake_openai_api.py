"""A local HTTP server speaking enough of the OpenAI Chat Completions API for tests.

The real `openai` SDK talks to it (base_url = server.url); nothing is mocked inside the SDK. Behaviour is
scripted with `script`: a queue of 'ok' | 'plain' | 'malformed' | 'empty' | 'no_choices' | an HTTP status (400,
500) consumed by the calls in order (empty queue: 'ok'). `answer(system, user)` makes the JSON a well-behaved model
returns; 'plain' gives the same answer as plain text, as a small local model does (the rewrite itself; the rules
as a list of lines citing their corrections).
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeOpenAI:
    def __init__(self):
        self.script: deque = deque()
        self.requests: list[dict] = []
        self.lock = threading.Lock()

    def answer(self, system: str, user: str) -> dict:
        if system.startswith("You read the corrections"):
            ids = [int(i) for i, t in re.findall(r"^\[(\d+)\] (.*)$", user, re.M) if "emoji" in t.lower()]
            return {"rules": [{"rule": "never use emojis", "corrections": ids}]}
        fb = re.search(r"<user_feedback>\n(.*?)\n</user_feedback>", user, re.S)
        return {"rewrite": f"You're absolutely right! Rewritten per feedback: {fb.group(1)[:40] if fb else ''}"}

    @staticmethod
    def plain(answer: dict) -> str:
        if "rewrite" in answer:
            return "Improved answer: " + answer["rewrite"]
        return "Here are the rules:\n" + "\n".join(
            f"- {r['rule']} ({', '.join(map(str, r['corrections']))})" for r in answer["rules"])

    def handle(self, path: str, body: dict) -> tuple[int, dict]:
        with self.lock:
            self.requests.append({"path": path, "body": body})
            step = self.script.popleft() if self.script else "ok"
        if isinstance(step, int):
            return step, {"error": {"message": f"scripted {step}", "type": "server_error", "code": step}}
        msgs = body["messages"]
        system = next((m["content"] for m in msgs if m["role"] == "system"), "")
        user = next((m["content"] for m in msgs if m["role"] == "user"), "")
        text = {"ok": lambda: json.dumps(self.answer(system, user)),
                "plain": lambda: self.plain(self.answer(system, user)),
                "malformed": lambda: "Sure! I will think about it.",  # neither JSON nor a list of rules
                "empty": lambda: "",
                "no_choices": lambda: None}[step]()
        choices = [] if text is None else [{"index": 0, "finish_reason": "stop",
                                            "message": {"role": "assistant", "content": text}}]
        return 200, {"id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion", "created": 0,
                     "model": body.get("model"), "choices": choices,
                     "usage": {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}}

    def bodies(self) -> str:
        return json.dumps([r["body"] for r in self.requests])


@contextlib.contextmanager
def serving(fake: FakeOpenAI):
    """Serve `fake` on 127.0.0.1 (a free port); yields the base URL (…/v1)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, payload = fake.handle(self.path, json.loads(raw or b"{}"))
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
