"""A query's words and their stems, as the keyword index made them, without DuckDB's fts extension.

The index (`vault.index.fts`) is built by the fts extension with `stemmer='porter'`: Snowball's
original Porter algorithm, from libstemmer. PyStemmer wraps that same C library, so a search stems
its words here (microseconds) instead of loading the extension into its connection, which cost a
cold `vault search` 35-40 ms of CPU, more than the ranking itself. The extension is still what
builds the index.

Identical stems are a tested fact, not an assumption: `tests/search/test_stem.py` compares both
stemmers on every distinct token of tests/corpus, examples/ and the shared corpora (on the 1 GB
bench vault's 49,630 distinct tokens, none differ: `bench/search_cli_bench.py --check-stems`).

The words are the index tokenizer's (the `tokenize` macro the extension defines):
`string_split_regex(regexp_replace(lower(strip_accents(s)), '(\\.|[^a-z0-9])+', ' ', 'g'), '\\s+')`.
An ASCII text is lowercased and split here; any other text is lowercased and stripped of accents
by DuckDB's own core functions (Unicode case and accent rules are DuckDB's, exactly), then split here.
"""

from __future__ import annotations

import functools
import re

import duckdb

SPLIT = re.compile(r"[^a-z0-9]+")  # the tokenizer's `(\.|[^a-z0-9])+`: a dot is not a letter or a digit


@functools.cache
def _porter():
    import Stemmer  # PyStemmer: libstemmer's C code; ~2 ms to import

    return Stemmer.Stemmer("porter")


def porter(words: list[str]) -> list[str]:
    """The Porter stem of each (lowercased) word, as DuckDB's `stem(word, 'porter')` gives it."""
    return _porter().stemWords(words)


def words(con: duckdb.DuckDBPyConnection, text: str, stopwords) -> list[str]:
    """The distinct words of `text` in order, as the index's tokenizer splits them, `stopwords` out."""
    if text.isascii():
        text = text.lower()
    else:  # lower() and strip_accents() are DuckDB core functions: no extension needed
        text = con.execute("SELECT lower(strip_accents(?))", [text]).fetchone()[0]
    return [w for w in dict.fromkeys(SPLIT.split(text)) if w and w not in stopwords]


def stems(con: duckdb.DuckDBPyConnection, text: str, stopwords) -> list[str]:
    """The distinct stems of `text`'s words, in order: the terms the index would hold for it."""
    return list(dict.fromkeys(porter(words(con, text, stopwords))))
