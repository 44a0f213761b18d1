"""Issue 17: the README and the top-level help say what the commands do (demo searches, claude-md, filters)."""

from __future__ import annotations

import re
import shlex

import click

from support import EXAMPLES, ROOT
from vault.cli import COMMANDS, cli

README = (ROOT / "README.md").read_text()


def _command(name: str) -> click.Command:
    return cli.get_command(click.Context(cli), name)


def test_the_readme_names_the_search_modes_the_demo_runs():
    modes = []
    for line in (EXAMPLES / "demo.sh").read_text().splitlines():
        words = shlex.split(line, comments=True)
        if words[:3] == ["step", "vault", "search"]:
            modes.append(words[words.index("--mode") + 1] if "--mode" in words else "hybrid")  # the default
    assert modes == ["hybrid", "semantic"]
    para = " ".join(README.split("`make demo` ingests", 1)[1].split("\n\n", 1)[0].split())
    for mode in set(modes):
        assert f"a {mode}" in para, (mode, para)
    assert "keyword and a semantic" not in para and "keyword and semantic" not in para


def test_the_readme_says_claude_md_is_printed():
    row = next(line for line in README.splitlines() if line.startswith("| `vault personas"))
    assert "`--format claude-md` prints" in row and "writes" not in row
    # and it does print: the command has no option that names a file to write
    assert not [p for p in _command("personas").params if isinstance(p.type, (click.Path, click.File))]


def test_the_top_level_help_of_sessions_lists_every_filter():
    short = COMMANDS["sessions"][2]
    filters = [p.opts[0] for p in _command("sessions").params
               if isinstance(p, click.Option) and p.name not in {"limit", "as_json", "help"}]
    assert len(filters) == 6
    for opt in filters:
        assert re.search(rf"{opt}\b", short), (opt, short)
