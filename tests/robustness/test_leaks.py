"""The leak scan of issue 13: planted secrets and personal data never come out of the vault.

A small archive (tests/robustness/planted_archive.py) carries Anthropic, OpenAI, AWS, GitHub and Slack
tokens, a database URL with a password, e-mails, phone numbers, IPv4 addresses and Windows, macOS and
Linux home paths. It goes through the real CLI: ingest -> mine -> pairs -> personas (every format) ->
export (every format, parquet and HF datasets folders too) -> dataset and model cards, and the paid paths
(mine, rewrite pairs, personas) against the local fake Anthropic API, and the answers of `vault mcp`'s tools. Every byte of every output is
scanned; the scan reports how many outputs and bytes it read and the leaks it found, and asserts none.
A control run proves the scan can fail: the raw archive and an export made with --no-redact show every
kind of planted value.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

import pytest
from fake_anthropic_api import FakeAnthropic, running
from support import run_cli

sys.path.insert(0, str(Path(__file__).parent))
import planted_archive as P  # noqa: E402

FORMATS = ("trl", "llamafactory", "axolotl", "openai", "sharegpt")


class AnsweringAPI(FakeAnthropic):
    """Answers each of vault's prompts in its schema: labels, rewrites (quoting the feedback) and persona rules."""

    def message(self, params: dict, malformed: bool = False, fence: bool = False) -> dict:
        out = super().message(params, malformed, fence)
        user = params["messages"][0]["content"]
        if params["system"].startswith("You read the corrections"):
            ids = [int(i) for i in re.findall(r"^\[(\d+)\]", user, re.M)]
            answer = {"rules": [{"rule": "never hardcode credentials", "corrections": ids}]}
        elif params["system"].startswith("You improve"):
            fb = re.search(r"<user_feedback>\n(.*?)\n</user_feedback>", user, re.S)
            answer = {"rewrite": f"Rewritten per feedback: {fb.group(1)}"}
        else:
            return out
        out["content"][0]["text"] = json.dumps(answer)
        return out


class Scan:
    def __init__(self) -> None:
        self.outputs = 0
        self.api = 0
        self.bytes = 0
        self.leaks: list[tuple[str, str, list[str]]] = []  # (output, kind, needles)

    def text(self, name: str, text: str) -> None:
        self._check(name, [text, text.replace("\\\\", "\\")], len(text.encode()))

    def file(self, path: Path, root: Path) -> None:
        self._check(str(path.relative_to(root)), P.decoded_views(path), path.stat().st_size)

    def folder(self, root: Path) -> None:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                self.file(p, root.parent)

    def _check(self, name: str, views: list[str], size: int) -> None:
        self.outputs += 1
        self.bytes += size
        found: dict[str, set[str]] = {}
        for v in views:
            for kind, needles in P.leaks(v).items():
                found.setdefault(kind, set()).update(needles)
        self.leaks += [(name, kind, sorted(n)) for kind, n in found.items()]

    def kinds(self) -> set[str]:
        return {k for _, k, _ in self.leaks}

    def report(self, title: str) -> str:
        leaky = len({o for o, _, _ in self.leaks})
        return (f"{title}: {self.outputs} outputs ({self.api} API requests), {self.bytes} bytes scanned, "
                f"{len(self.leaks)} leaks (kind x output) in {leaky} outputs"
                + (f"; outputs by kind: {dict(Counter(k for _, k, _ in self.leaks))}; API requests leaking: "
                   f"{len({o for o, _, _ in self.leaks if o.startswith('API')})}" if self.leaks else "")
                + "".join(f"\n  {o}: {k} {n[:3]}" for o, k, n in self.leaks[:40]))


def _cli(*args: str, db: Path) -> str:
    code, out, err = run_cli(*args, db=db)
    assert code == 0, f"vault {' '.join(args)}: {err}"
    return out


def _accept_all_pairs(db: Path) -> None:
    """Accepted in review: exported although the `secrets` filter removes them (as a person may do)."""
    from vault.store import open_vault

    con = open_vault(db)
    try:
        P.label_corrections(con)
        con.execute("INSERT INTO reviews (target, target_id, decision) SELECT 'pair', pair_id, 'accept' FROM pairs "
                    "WHERE pair_id NOT IN (SELECT target_id FROM reviews)")
    finally:
        con.close()


def _model_card(export_dir: Path) -> str:
    """The trainer's model card of an adapter trained on this export (paths as a user would have them)."""
    from trainer.data import load_pairs
    from trainer.report import model_card

    config = {"base": "/home/lchen/models/qwen-0.5b", "out": P.WIN + "\\adapters\\ledger", "beta": 0.1,
              "learning_rate": 5e-5, "lora_r": 8, "lora_alpha": 16, "lora_targets": ["q_proj"], "max_length": 512,
              "max_steps": 1, "epochs": 1, "batch_size": 1, "seed": 0}
    return model_card({"steps": 1}, config, load_pairs(export_dir))


def _scan_mcp(scan: Scan, db: Path) -> None:
    """What `vault mcp` answers an assistant: every tool, every session."""
    from vault.mcp_tools import VaultTools
    from vault.store import open_vault

    con = open_vault(db, read_only=True)
    sessions = [r[0] for r in con.execute("SELECT session_id FROM sessions").fetchall()]
    con.close()
    tools = VaultTools(db)
    try:
        calls = {"search credentials": lambda: tools.search("credentials key", mode="keyword"),
                 "search deploy": lambda: tools.search("deploy ledger", mode="keyword"),
                 "corrections": tools.corrections, "persona": tools.persona, "stats": tools.stats}
        calls.update({f"get_session {s[:8]}": (lambda s=s: tools.get_session(s, limit=200)) for s in sessions})
        for name, call in calls.items():
            scan.text(f"mcp {name}", json.dumps(call(), ensure_ascii=False, default=str))
    finally:
        tools.close()


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return P.write_archive(tmp_path_factory.mktemp("planted") / "archive")


def test_control_the_scan_finds_every_planted_kind(archive, tmp_path):
    raw = Scan()
    raw.folder(archive)
    assert raw.kinds() == set(P.NEEDLES), raw.report("raw archive")
    db = tmp_path / "vault.duckdb"
    _cli("ingest", "--no-embed", str(archive), db=db)
    _cli("mine", "--backend", "heuristic", db=db)
    _accept_all_pairs(db)
    _cli("pairs", db=db)
    _accept_all_pairs(db)
    _cli("export", "--format", "trl", "--out", str(tmp_path / "plain"), "--no-redact", "--no-persona", db=db)
    plain = Scan()
    plain.folder(tmp_path / "plain")
    print("\n" + plain.report("control, export --no-redact").split("\n")[0])
    assert plain.kinds() == set(P.NEEDLES), plain.report("export --no-redact")


def test_no_planted_value_leaves_the_vault(archive, tmp_path, monkeypatch):
    db = tmp_path / "vault.duckdb"
    scan = Scan()
    scan.text("ingest --json", _cli("ingest", "--no-embed", "--json", str(archive), db=db))
    scan.text("mine --json", _cli("mine", "--backend", "heuristic", "--json", db=db))
    _accept_all_pairs(db)
    scan.text("pairs --json", _cli("pairs", "--json", "--all", db=db))
    _accept_all_pairs(db)  # pair ids are stable: the reviews hold across rebuilds
    scan.text("pairs", _cli("pairs", "--all", "--no-rebuild", db=db))
    scan.text("personas", _cli("personas", "--rebuild", db=db))
    scan.text("personas --json", _cli("personas", "--json", db=db))
    claude_md = _cli("personas", "--format", "claude-md", db=db)
    assert "never hardcode" in claude_md.lower()
    scan.text("personas --format claude-md", claude_md)
    scan.text("roles --json", _cli("roles", "--json", db=db))
    scan.text("stats --corrections --json", _cli("stats", "--corrections", "--json", db=db))
    exported = 0
    for fmt in FORMATS:
        out = tmp_path / "exports" / fmt
        rep = _cli("export", "--format", fmt, "--out", str(out), "--parquet", "--hf", "--json", db=db)
        exported += sum(json.loads(rep)["counts"].values())
        scan.text(f"export --format {fmt} --json", rep)
        scan.folder(out)
    scan.text("model card (vault train on the trl export)", _model_card(tmp_path / "exports" / "trl"))
    _scan_mcp(scan, db)
    assert exported >= 5 * len(P.CORRECTION_PREFIXES)  # every planted correction made a pair, in every format

    with running(monkeypatch, AnsweringAPI()) as api:
        scan.text("mine --backend anthropic --json",
                  _cli("mine", "--backend", "anthropic", "--redo", "--yes", "--json", db=db))
        _accept_all_pairs(db)
        rewritten = _cli("pairs", "--rewrite", "--yes", "--json", "--all", db=db)
        assert rewritten.count('"method": "rewrite"') == len(P.CORRECTION_PREFIXES)
        scan.text("pairs --rewrite --json", rewritten)
        scan.text("personas --backend anthropic --format claude-md",
                  _cli("personas", "--backend", "anthropic", "--yes", "--format", "claude-md", db=db))
        _accept_all_pairs(db)
        out = tmp_path / "exports" / "after-api"
        scan.text("export after the API --json", _cli("export", "--format", "trl", "--out", str(out), "--json", db=db))
        scan.folder(out)
        requests = [json.loads(body) for method, _, body in api.requests if method == "POST"]
        kinds = [("persona" if r["system"].startswith("You read the corrections") else
                  "rewrite" if r["system"].startswith("You improve") else "label") for r in requests]
        # every human turn that needs a model, every correction rewritten, every role's persona
        assert kinds.count("label") >= 10 and kinds.count("rewrite") == 4 and kinds.count("persona") == 3, kinds
        for i, (method, path, body) in enumerate(r for r in api.requests if r[0] == "POST"):
            scan.text(f"API request {i + 1} ({kinds[i]}) POST {path}", body)
            scan.api += 1
    print("\n" + scan.report("leak scan"))
    assert scan.outputs >= 100 and scan.api >= 17
    assert scan.leaks == [], scan.report("leak scan")
