"""A package outside the vault adds a source format through the `vault.sources` entry point group.

The plugin here is a real installed distribution (a module and its `.dist-info` with `entry_points.txt`
in a folder on sys.path), found by importlib.metadata as pip-installed plugins are.
"""

from __future__ import annotations

import importlib
import json

import pytest
from plugin_site import install
from plugin_site import plugin_site as site  # noqa: F401 (a fixture)
from support import ROOT, run_cli

PLUGIN = '''
from vault.model import Kind, Message, ParseResult
from vault.sources.base import Parser, iter_jsonl, timestamp


class FakeChatParser(Parser):
    """One {"fakechat": 1, "chat": id, "who": "me"|"bot", "said": text, "at": ISO} object per line."""

    name = "fakechat"
    suffixes = (".fchat",)
    finalized = []

    def detect(self, path, head):
        rec = head.first_record()
        return isinstance(rec, dict) and rec.get("fakechat") == 1

    def parse(self, path, start_offset=0, start_line=0):
        res = ParseResult()
        for line_no, _, rec, _ in iter_jsonl(path, res, start_offset, start_line):
            sid = str(rec["chat"])
            res.session(sid, self.name)
            me = rec["who"] == "me"
            res.messages.append(Message(
                msg_id=f"{sid}#{line_no}", session_id=sid, role="user" if me else "assistant",
                kind=Kind.HUMAN_PROMPT if me else Kind.ASSISTANT_TEXT, text=rec["said"], is_human=me,
                timestamp=timestamp(rec.get("at")), line_no=line_no))
        return res

    def finalize(self, con, touched):
        type(self).finalized.append((sorted(touched.sessions), len(touched.files)))
'''


def _install(site, module: str, source: str, entry: str) -> None:
    install(site, module, source, "vault.sources", entry)


def test_a_registered_parser_ingests_its_files_and_finalizes_them(site, tmp_path, con):
    _install(site, "vault_test_plugin_fakechat", PLUGIN, "fakechat = vault_test_plugin_fakechat:FakeChatParser")
    from vault.ingest import ingest
    from vault.sources import parsers

    names = [p.name for p in parsers()]
    assert names[-1] == "neutral" and names[-2] == "fakechat"  # before the catch-all, after the built-ins
    chats = tmp_path / "chats"
    chats.mkdir()
    lines = [{"fakechat": 1, "chat": "c1", "who": "me", "said": "make it faster", "at": "2026-05-01T10:00:00Z"},
             {"fakechat": 1, "chat": "c1", "who": "bot", "said": "done", "at": "2026-05-01T10:00:05Z"},
             {"fakechat": 1, "chat": "c1", "who": "me", "said": "no, keep the cache", "at": "2026-05-01T10:01:00Z"}]
    (chats / "one.fchat").write_text("".join(json.dumps(x) + "\n" for x in lines))
    rep = ingest(con, [chats])
    assert rep.by_source == {"fakechat": 1} and rep.errors == []
    row = con.execute("SELECT source, messages, human_messages, started_at::VARCHAR FROM sessions "
                      "WHERE session_id = 'c1'").fetchone()
    assert row == ("fakechat", 3, 2, "2026-05-01 10:00:00")
    plugin = importlib.import_module("vault_test_plugin_fakechat").FakeChatParser
    assert plugin.finalized == [(["c1"], 1)]


def test_the_cli_knows_a_registered_format(site, tmp_path):
    _install(site, "vault_test_plugin_fakechat", PLUGIN, "fakechat = vault_test_plugin_fakechat:FakeChatParser")
    f = tmp_path / "odd-name.txt"  # not its suffix: --source forces the format
    f.write_text(json.dumps({"fakechat": 1, "chat": "c2", "who": "me", "said": "hello"}) + "\n")
    code, out, _ = run_cli("ingest", "--json", "--source", "fakechat", str(f), db=tmp_path / "v.duckdb")
    assert code == 0 and json.loads(out)["by_source"] == {"fakechat": 1}


def test_a_broken_plugin_is_one_line_naming_it(site, tmp_path):
    _install(site, "vault_test_plugin_broken", "raise RuntimeError('half-installed')\n",
             "broken = vault_test_plugin_broken:Parser")
    f = tmp_path / "a.jsonl"
    f.write_text("{}\n")
    code, out, err = run_cli("ingest", str(f), db=tmp_path / "v.duckdb")
    assert code != 0 and "Traceback" not in out + err
    assert "source plugin 'broken' (vault_test_plugin_broken:Parser) cannot be loaded: RuntimeError: half-installed" \
        in " ".join(err.split())


def test_a_built_in_format_is_detected_without_reading_the_entry_points(tmp_path, monkeypatch):
    """A new session file of a built-in format: no scan of the installed distributions (a new session's ingest)."""
    import vault.sources as sources

    def unread():
        raise AssertionError("the entry points were read")

    monkeypatch.setattr(sources, "_registered", unread)
    sources.parsers.cache_clear()
    try:
        src = next((ROOT / "tests" / "fixtures" / "claude_code" / "kinds").glob("*.jsonl"))
        assert sources.detect_parser(src).name == "claude_code"
    finally:
        sources.parsers.cache_clear()


@pytest.mark.parametrize(("entry", "error"), [
    ("mine = vault_test_plugin_fakechat:Taken",
     "source plugin 'mine' (vault_test_plugin_fakechat:Taken) reuses the format name 'codex'"),
    ("odd = vault_test_plugin_fakechat:timestamp",
     "source plugin 'odd' (vault_test_plugin_fakechat:timestamp) is not a vault.sources.base.Parser with a name"),
])
def test_a_plugin_taking_a_known_name_or_not_a_parser_is_refused(site, entry, error):
    _install(site, "vault_test_plugin_fakechat", PLUGIN + "\n\nclass Taken(FakeChatParser):\n    name = 'codex'\n",
             entry)
    from vault.errors import VaultError
    from vault.sources import parsers

    with pytest.raises(VaultError) as e:
        parsers()
    assert str(e.value) == error
