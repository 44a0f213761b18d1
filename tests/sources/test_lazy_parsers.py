"""The built-in parsers are named in `vault.sources.BUILTIN` and imported when first needed: the table must say what
each parser class says of itself, and a file's ingest must load only the parser it needs."""

from __future__ import annotations

import json
import subprocess
import sys

from support import ROOT

MODULES = ("claude_code", "codex", "gemini", "chatgpt", "claude_ai", "neutral")


def test_the_table_says_what_each_parser_says():
    from vault import sources

    for spec in (*sources.BUILTIN, sources.CATCH_ALL_BUILTIN):
        parser = spec.load()
        assert type(parser).__module__ == spec.module and type(parser).__name__ == spec.cls
        assert (parser.name, tuple(parser.suffixes)) == (spec.name, spec.suffixes)
    assert [p.name for p in sources.PARSERS] == [s.name for s in sources.BUILTIN]
    assert sources.CATCH_ALL.name == "neutral"
    assert sources.parsers()[-1] is sources.CATCH_ALL
    assert sources.builtin_suffixes() == {s for p in (*sources.PARSERS, sources.CATCH_ALL) for s in p.suffixes}


def _loaded_after(code: str) -> dict[str, bool]:
    src = (f"import json, sys\n{code}\n"
           f"print(json.dumps({{m: 'vault.sources.' + m in sys.modules for m in {MODULES!r}}}))")
    out = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_a_claude_code_file_loads_its_parser_only():
    fixture = next((ROOT / "tests" / "fixtures" / "claude_code" / "kinds").glob("*.jsonl"))
    loaded = _loaded_after("from pathlib import Path\nfrom vault.sources import detect_parser\n"
                           f"assert detect_parser(Path({str(fixture)!r})).name == 'claude_code'\n"
                           "from vault.walk import builtin_suffixes\nbuiltin_suffixes()")
    assert loaded == {m: m == "claude_code" for m in MODULES}


def test_a_parser_by_name_loads_that_one():
    loaded = _loaded_after("from vault.sources import parser_by_name\nassert parser_by_name('codex').name == 'codex'")
    assert loaded == {m: m == "codex" for m in MODULES}
