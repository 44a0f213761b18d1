"""`vault search`'s text output into a pipe or a file, written without rich's console (`vault.cli.search._plain_hits`):
byte for byte what rich writes there, for texts that wrap, fold and crop at many widths, wide and zero-width
characters included; rich itself prints wherever it might style or measure otherwise."""

from __future__ import annotations

import os
import random

import pytest

from vault.cli import search as cli_search
from vault.index.search import Hit

WORDS = ["a", "the", "commit", "pre-commit", "hooks", "…", "café", "naïve", "日本語の", "テスト", "😀",
         "e\u0301",
         "x" * 7, "y" * 19, "z" * 45, "w" * 90, "http://example.com/a/very/long/path?with=query&and=more",
         "{\"key\":", "[1,", "2]", "'q'", "Ａ", "\u0627\u0644"]


def _text(rng: random.Random, n: int) -> str:
    out = []
    for _ in range(n):
        out.append(rng.choice(WORDS))
        out.append(rng.choice([" ", " ", " ", "  ", "   ", ""]))
    return "".join(out)


def _hits(rng: random.Random, n: int) -> list[Hit]:
    return [Hit(session_id=f"{rng.getrandbits(128):032x}", msg_id=f"m-{i}", role="assistant",
                kind=rng.choice(["assistant_text", "human_prompt", "tool_result"]), score=rng.random() * 20,
                snippet=_text(rng, rng.randint(0, 60)), spans=[(0, 1)] if i % 2 else [],
                timestamp=rng.choice([None, "2026-02-12T20:37:01.123"]),
                project=rng.choice([None, "", "spotter-dov", "プロジェクト", "p" * 100, _text(rng, 12)]))
            for i in range(n)]


def _rich_output(hits, query, capsys, monkeypatch) -> str:
    with monkeypatch.context() as m:
        m.setattr(cli_search, "_plain_hits", lambda *a: None)
        cli_search._print_hits(hits, query)
    return capsys.readouterr().out


@pytest.mark.parametrize("width", [1, 2, 3, 8, 13, 37, 79, 80, 81, 120, 237])
def test_the_plain_output_is_rich_s(width, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(width))
    for k in cli_search.RICH_TERMINAL_ENV:
        monkeypatch.delenv(k, raising=False)
    rng = random.Random(width)
    cases = [(_hits(rng, 6), "q") for _ in range(40)] + [([], "nothing here"), ([], "x" * 300)]
    checked = 0
    for hits, query in cases:
        plain = cli_search._plain_hits(hits, query)
        if plain is None:  # (a text rich prints itself: not expected from these words)
            continue
        checked += 1
        assert plain == _rich_output(hits, query, capsys, monkeypatch)
    assert checked == len(cases)


def test_the_width_is_rich_s(monkeypatch):
    from rich.console import Console

    def sizes(by_fd):
        def get(fd=1):
            if fd not in by_fd:
                raise OSError("not a terminal")
            return os.terminal_size(by_fd[fd])
        return get

    for k in (*cli_search.RICH_TERMINAL_ENV, "LINES"):
        monkeypatch.delenv(k, raising=False)
    cases = [(None, {}), (None, {0: (132, 40)}), (None, {2: (61, 20)}), (None, {0: (0, 0)}), ("abc", {0: (99, 9)}),
             ("120", {}), ("120", {0: (99, 9)}), ("0", {}), ("007", {})]
    for columns, by_fd in cases:
        if columns is None:
            monkeypatch.delenv("COLUMNS", raising=False)
        else:
            monkeypatch.setenv("COLUMNS", columns)
        monkeypatch.setattr(os, "get_terminal_size", sizes(by_fd))
        width = cli_search._plain_width()
        console = Console()
        assert not console.is_terminal
        assert width == (console.width or None), (columns, by_fd)


def test_rich_prints_what_it_may_style_or_measure_otherwise(monkeypatch):
    hit = _hits(random.Random(1), 1)[0]
    monkeypatch.setenv("COLUMNS", "80")
    for k in cli_search.RICH_TERMINAL_ENV:
        monkeypatch.delenv(k, raising=False)
    assert cli_search._plain_hits([hit], "q") is not None
    for text in ("a\tb", "a\nb", "a\rb", "bell\x07", "esc\x1b[1m", "nbsp\u2028"):
        assert cli_search._plain_hits([hit._replace(snippet=text)], "q") is None
        assert cli_search._plain_hits([hit._replace(project=text)], "q") is None
    for k in cli_search.RICH_TERMINAL_ENV:  # rich may take the pipe for a terminal: it decides
        with monkeypatch.context() as m:
            m.setenv(k, "1")
            assert cli_search._plain_hits([hit], "q") is None
    with monkeypatch.context() as m:
        m.setattr(cli_search.sys.stdout, "isatty", lambda: True, raising=False)
        assert cli_search._plain_hits([hit], "q") is None
