"""`vault.index.stem` gives the words and stems the keyword index was built with (DuckDB's fts extension).

A search stems its query in Python rather than loading the extension; that is only right if every word
gets the extension's stem. Checked on every distinct token of the texts we have: tests/corpus and
examples/ (always), and the shared corpora's Claude Code sessions, conversations and dev labels (not the
held-back wild sessions) when ../shared is there.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from support import CORPORA, ROOT, needs_shared
from vault.index import fts, stem
from vault.store import connect, load_extension

# The extension's `tokenize` macro (vault.index.fts builds the index with these settings): core functions.
TOKENIZE = r"string_split_regex(regexp_replace(lower(strip_accents(t)), '(\.|[^a-z0-9])+', ' ', 'g'), '\s+')"


def _strings(value, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for v in value.values():
            _strings(v, out)
    elif isinstance(value, list):
        for v in value:
            _strings(v, out)


def _texts(paths: list[Path]) -> list[str]:
    """Every string of every JSON line (the text a vault indexes, decoded), and other files whole."""
    out: list[str] = []
    for p in paths:
        raw = p.read_text(encoding="utf-8", errors="replace")
        if p.suffix in (".jsonl", ".json"):
            for line in raw.splitlines():
                try:
                    _strings(json.loads(line), out)
                except ValueError:
                    out.append(line)
        else:
            out.append(raw)
    return out


def _files(*folders: Path) -> list[Path]:
    return sorted(p for f in folders for p in ([f] if f.is_file() else f.rglob("*"))
                  if p.is_file() and p.suffix in (".jsonl", ".json", ".md", ".txt", ".py", ".toml", ".sh"))


@pytest.fixture(scope="module")
def con():
    c = connect()
    load_extension(c, "fts")
    yield c
    c.close()


def _check_vocabulary(con: duckdb.DuckDBPyConnection, texts: list[str]) -> int:
    pairs = con.execute(f"SELECT w, stem(w, 'porter') FROM (SELECT DISTINCT unnest({TOKENIZE}) AS w "
                        "FROM (SELECT unnest(?::VARCHAR[]) AS t)) WHERE w <> '' ORDER BY w", [texts]).fetchall()
    ours = stem.porter([w for w, _ in pairs])
    differ = [(w, theirs, mine) for (w, theirs), mine in zip(pairs, ours) if theirs != mine]
    assert not differ, f"{len(differ)} of {len(pairs)} words stem differently (word, DuckDB, ours): {differ[:20]}"
    return len(pairs)


def test_every_word_of_the_bundled_texts_stems_as_the_extension_stems_it(con):
    n = _check_vocabulary(con, _texts(_files(ROOT / "tests" / "corpus", ROOT / "examples")))
    assert n > 5000  # the check saw a real vocabulary


@needs_shared
def test_every_word_of_the_shared_corpora_stems_as_the_extension_stems_it(con):
    paths = _files(CORPORA / "claude-code", CORPORA / "conversations", CORPORA / "labels-dev.jsonl")
    n = _check_vocabulary(con, _texts(paths))
    assert n > 20000


def test_texts_split_into_the_tokenizers_words(con):
    """Each text's words, ASCII or not (accents, other scripts, dots, underscores), as the tokenizer's."""
    texts = ["Running TESTS, e404 v2.0", "café résumé", "naïve_über-Straße", "日本語 commit", "x.y_z--w", "",
             "Ünïcödé tests. testing, tested", "ÀÉÎÕÜ ǅungla ﬁle Ⅻ ½ ²", "İstanbul KELVIN \u212a", "a\tb\nc\u00a0d"]
    texts += _texts(_files(ROOT / "tests" / "corpus"))[:3000]
    expected = con.execute(f"SELECT {TOKENIZE} FROM (SELECT unnest(?::VARCHAR[]) AS t)", [texts]).fetchall()
    for text, (tokens,) in zip(texts, expected):
        assert stem.words(con, text, ()) == list(dict.fromkeys(t for t in tokens if t)), text


@pytest.mark.parametrize("query", ["Running TESTS, e404 v2.0", "café résumé", "naïve_über-Straße", "the and with",
                                   "日本語 commit", "x.y_z--w", "", "Ünïcödé tests. testing, tested"])
def test_query_stems_are_the_extensions(con, query):
    """What `fts.query_stems` gives is what the extension's tokenizer, stopword list and stemmer give."""
    con.execute("CREATE OR REPLACE TABLE fts_stopwords (sw VARCHAR)")
    con.executemany("INSERT INTO fts_stopwords VALUES (?)", [[w] for w in fts.STOPWORDS])
    reference = fts._STEMS.replace(f"{fts.SCHEMA}.tokenize(?)", TOKENIZE.replace("(t)", "(?)"))
    assert sorted(fts.query_stems(con, query)) == sorted(r[0] for r in con.execute(reference, [query]).fetchall())
