"""`vault search` parsed without click (`vault.cli.quick`): it takes exactly what click would, hands the command the
same values, prints the same output, and leaves every other form to click; a cold search does not import click."""

from __future__ import annotations

import subprocess
import sys

import pytest

from support import ROOT, VAULT, run_cli

TAKEN = [
    ["search", "commit"],
    ["search", "git", "push"],
    ["search", '"pre-commit hooks"'],
    ["search", "--mode", "keyword", "--json", "commit"],
    ["search", "--json", "commit", "--mode", "keyword", "-n", "3"],
    ["search", "--mode=keyword", "--limit=5", "review", "diff"],
    ["search", "--limit", "007", "--mode", "semantic", "tests"],
    ["search", "-n", "1000000000", "x"],
    ["--db", "other.duckdb", "search", "--mode", "hybrid", "a"],
    ["--db=other.duckdb", "search", "a", "--json"],
    ["search", ""],
]
LEFT_TO_CLICK = [
    [], ["search"], ["search", "--json"], ["--help"], ["search", "--help"], ["-h"], ["--version"], ["stats"],
    ["search", "-n5", "x"], ["search", "-n=5", "x"], ["search", "-n", "0", "x"], ["search", "-n", "1000000001", "x"],
    ["search", "-n", " 5", "x"], ["search", "-n", "+5", "x"], ["search", "-n", "²", "x"], ["search", "-n"],
    ["search", "--mode", "fuzzy", "x"], ["search", "--mode", "--json", "x"], ["search", "--mode"],
    ["search", "--json", "--json", "x"], ["search", "--json=1", "x"], ["search", "-n", "3", "-n", "4", "x"],
    ["search", "--mode", "keyword", "--mode", "hybrid", "x"], ["search", "--", "-x"], ["search", "-", "x"],
    ["search", "-x"], ["search", "--kind", "typed", "x"], ["search", "--human-only", "x"], ["search", "--since", "7d", "x"],
    ["search", "--project", "p", "x"], ["search", "--source", "codex", "x"], ["search", "x", "--db", "v"],
    ["--config", "c.toml", "search", "x"],
    ["--debug", "search", "x"], ["--db", "a", "--db", "b", "search", "x"], ["--db", "-v", "search", "x"],
    ["--db=", "search", "x"], ["--db"], ["searc", "x"],
]


def _click_params(argv: list[str]) -> tuple:
    """What click parses from `argv`: the group's --db and the search command's parameters."""
    from vault.cli.group import cli

    ctx = cli.make_context("vault", list(argv))
    rest = [*getattr(ctx, "_protected_args", ctx.protected_args), *ctx.args]
    name, cmd, args = cli.resolve_command(ctx, rest)
    sub = cmd.make_context(name, args, parent=ctx)
    return ctx.params["db"], sub.params


@pytest.mark.parametrize("argv", TAKEN, ids=" ".join)
def test_the_forms_taken_parse_as_click_parses_them(argv):
    from vault.cli import quick
    from vault.index.search import expand_kinds

    p = quick.parse(argv)
    assert p is not None
    db, params = _click_params(argv)
    assert params == {"query": p.words, "mode": p.mode, "limit": p.limit, "project": None, "role": None,
                      "session": None, "source": None, "since": None, "until": None, "kinds": expand_kinds(()),
                      "human_only": False,
                      "model": None, "as_json": p.as_json}
    assert db == p.db


@pytest.mark.parametrize("argv", LEFT_TO_CLICK, ids=lambda a: " ".join(a) or "(none)")
def test_every_other_form_is_left_to_click(argv):
    from vault.cli import quick

    assert quick.parse(argv) is None


@pytest.mark.parametrize("args", [
    ["--mode", "keyword", "--json", "commit"],
    ["--mode", "keyword", "-n", "3", "review", "diff"],
    ["--json", "--mode", "keyword", '"git status"'],
    ["--mode", "keyword", "zzzznotaword"],
    ["--json", "commit"],  # hybrid asked, no embeddings: a note, then keyword hits
])
def test_the_output_is_click_s(examples_vault, capsys, args):
    from vault.cli import main

    code, out, err = run_cli("search", *args, db=examples_vault)  # through click (CliRunner invokes the group)
    main(["--db", str(examples_vault), "search", *args])  # vault.cli.quick
    quick = capsys.readouterr()
    assert (quick.out, quick.err) == (out, err) and code == 0


def test_an_error_reads_as_click_s(tmp_path, capsys):
    from vault.cli import main

    missing = tmp_path / "none.duckdb"
    code, out, err = run_cli("search", "--json", "x", db=missing)
    with pytest.raises(SystemExit) as exit_:
        main(["--db", str(missing), "search", "--json", "x"])
    quick = capsys.readouterr()
    assert (exit_.value.code, quick.out, quick.err) == (code, out, err) == (2, "", err)
    assert err.startswith("Error: no vault at")


@pytest.mark.parametrize("form", [["--json"], []], ids=["json", "text"])
def test_a_cold_keyword_search_does_not_import_click(examples_vault, form):
    """Nor rich's console (its text goes to a pipe here: `vault.cli.search._plain_hits`), nor dataclasses."""
    src = ("import sys; from vault.cli import main, common\n"
           f"main(['--db', {str(examples_vault)!r}, 'search', '--mode', 'keyword', *{form!r}, 'commit'])\n"
           "print(sorted(m for m in sys.modules if m.split('.')[0] in ('click', 'dataclasses', 'inspect')\n"
           "             or m in ('rich.console', 'rich.text')))")
    out = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_the_program_answers_and_rebuilds_a_stale_index_first(ex_db):
    """As the program (`whole_process`: its read-only connection is left to the process's end), twice: a stale index
    is brought up to date by a writer first, then the same answer from a fresh one."""
    import json

    from vault.index import fts
    from vault.store import connect

    cmd = [*VAULT, "--db", str(ex_db), "search", "--mode", "keyword", "--json", "commit"]
    from vault.store import bump_content_version

    con = connect(ex_db)
    bump_content_version(con)  # as a library ingest leaves it: the index to be brought up to date
    stale = fts.needs_rebuild(con)
    con.close()
    first = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    second = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert stale and first.returncode == second.returncode == 0, first.stderr
    assert first.stdout == second.stdout and json.loads(first.stdout)


# -- `vault ingest` (vault.cli.quick.parse_ingest) ----------------------------------------------------------------------

INGEST_TAKEN = [
    ["ingest"],
    ["ingest", "a.jsonl"],
    ["ingest", "--no-embed", "--json", "a.jsonl", "b"],
    ["ingest", "a.jsonl", "--json", "b", "--no-embed"],
    ["--db", "v.duckdb", "ingest", "--no-embed", "x"],
    ["--db=v.duckdb", "ingest", "x", "--json"],
    ["ingest", "--hook"],
    ["ingest", "--hook", "--wait"],
    ["--db", "v.duckdb", "ingest", "--hook-worker", "SessionEnd"],
    ["--db", "v.duckdb", "ingest", "--hook-worker=Stop"],
    ["ingest", "search"],
]
INGEST_LEFT_TO_CLICK = [
    ["ingest", "--help"], ["ingest", "--source", "codex", "x"], ["ingest", "--source=neutral", "x"],
    ["ingest", "--json", "--json", "x"], ["ingest", "--no-embed=1", "x"], ["ingest", "--hook-worker"],
    ["ingest", "--hook-worker", "--json"], ["ingest", "--hook-worker", ""], ["ingest", "--hook-worker", "a",
                                                                             "--hook-worker", "b"],
    ["ingest", "--", "x"], ["ingest", "-", "x"], ["ingest", "-x"], ["ingest", ""], ["--config", "c.toml", "ingest", "x"],
    ["--debug", "ingest", "x"], ["ingest", "x", "--db", "v"], ["--db", "a", "--db", "b", "ingest"], ["ingest-x"],
    ["ingestx", "a"],
]


def _click_command_params(argv: list[str]) -> tuple:
    """The group's --db and the command's parameters, as click parses `argv` (through the command's own options)."""
    from vault.cli.group import cli

    ctx = cli.make_context("vault", list(argv))
    rest = [*getattr(ctx, "_protected_args", ctx.protected_args), *ctx.args]
    name, cmd, args = cli.resolve_command(ctx, rest)
    return ctx.params["db"], cmd.make_context(name, args, parent=ctx).params


@pytest.mark.parametrize("argv", INGEST_TAKEN, ids=" ".join)
def test_the_ingest_forms_taken_parse_as_click_parses_them(argv):
    from pathlib import Path

    from vault.cli import quick

    p = quick.parse_ingest(argv)
    assert p is not None and quick.parse(argv) is None
    db, params = _click_command_params(argv)
    assert params == {"paths": tuple(Path(x) for x in p.paths), "source": None, "no_embed": p.no_embed, "hook": p.hook,
                      "wait": p.wait, "hook_worker": p.hook_worker, "as_json": p.as_json}
    assert db == p.db


@pytest.mark.parametrize("argv", INGEST_LEFT_TO_CLICK, ids=lambda a: " ".join(a) or "(none)")
def test_every_other_ingest_form_is_left_to_click(argv):
    from vault.cli import quick

    assert quick.parse_ingest(argv) is None


def test_paths_click_refuses_are_left_to_click(tmp_path):
    """`click.Path`: an existing path that cannot be read, and a folder as --db, are click's errors to word."""
    import os

    from vault.cli import quick

    folder, locked = tmp_path / "folder", tmp_path / "locked.jsonl"
    folder.mkdir()
    locked.write_text("{}\n")
    assert quick.parse_ingest(["ingest", str(folder)]) is not None
    assert quick.parse_ingest(["--db", str(folder), "ingest", "x"]) is None
    assert quick.parse(["--db", str(folder), "search", "x"]) is None
    os.chmod(locked, 0)
    try:
        if not os.access(locked, os.R_OK):  # (root reads anything: then click takes it too)
            assert quick.parse_ingest(["ingest", str(locked)]) is None
    finally:
        os.chmod(locked, 0o600)


def _ingest_both_ways(tmp_path, args: list[str]) -> list[tuple]:
    """`vault ingest ARGS` through click (CliRunner) and through vault.cli.quick, each on its own copy of an archive
    with one session appended after a first ingest: (exit code, stdout without timings, stderr) of each."""
    import json
    import shutil

    from vault.cli import main

    src = ROOT / "tests" / "fixtures" / "claude_code" / "kinds"
    out = []
    for how in ("click", "quick"):
        arch = tmp_path / how / "archive"
        shutil.copytree(src, arch)
        session = next(arch.glob("*.jsonl"))
        lines = session.read_bytes().splitlines(keepends=True)
        session.write_bytes(b"".join(lines[:-2]))
        db = tmp_path / how / "v.duckdb"
        main(["--db", str(db), "ingest", "--no-embed", "--json", str(arch)])
        session.write_bytes(b"".join(lines))
        argv = [a.replace("ARCHIVE", str(arch)).replace("SESSION", str(session)) for a in args]
        if how == "click":
            code, stdout, stderr = run_cli(*argv, db=db)
        else:
            import contextlib
            import io

            o, e = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e):
                try:
                    main(["--db", str(db), *argv])
                    code = 0
                except SystemExit as x:
                    code = x.code
            stdout, stderr = o.getvalue(), e.getvalue()
        if stdout.startswith("{"):
            rep = json.loads(stdout)
            (rep.get("index") or {}).pop("fts_seconds", None)
            stdout = rep
        out.append((code, stdout, stderr.replace(str(tmp_path / how), "T")))
    return out


@pytest.mark.parametrize("args", [
    ["ingest", "--no-embed", "--json", "SESSION"],
    ["ingest", "--json", "--no-embed", "ARCHIVE"],
    ["ingest", "--no-embed", "SESSION"],
    ["ingest", "--no-embed", "--json", "ARCHIVE/missing.jsonl"],
])
def test_an_ingest_gives_click_s_result(tmp_path, args):
    from vault.cli import quick

    assert quick.parse_ingest(["ingest", *args[1:]]) is not None
    by_click, by_quick = _ingest_both_ways(tmp_path, args)
    assert by_click == by_quick


def test_a_one_session_ingest_does_not_import_click(tmp_path):
    src = next((ROOT / "tests" / "fixtures" / "claude_code" / "kinds").glob("*.jsonl"))
    db = tmp_path / "v.duckdb"
    prog = ("import sys; from vault.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m == 'click' or m.startswith('click.')))")
    res = subprocess.run([sys.executable, "-c", prog, "--db", str(db), "ingest", "--no-embed", "--json", str(src)],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    assert '"files": 1' in res.stdout and res.stdout.strip().splitlines()[-1] == "[]", res.stderr


def test_duckdb_is_loaded_with_lazy_binding_and_the_flags_put_back():
    import os

    from vault.cli.quick import lazy_binding

    before = sys.getdlopenflags()
    with pytest.raises(RuntimeError), lazy_binding():
        assert sys.getdlopenflags() & os.RTLD_LAZY and not sys.getdlopenflags() & os.RTLD_NOW
        assert sys.getdlopenflags() & ~(os.RTLD_LAZY | os.RTLD_NOW) == before & ~(os.RTLD_LAZY | os.RTLD_NOW)
        raise RuntimeError  # put back however the block ends
    assert sys.getdlopenflags() == before


@pytest.mark.parametrize(("args", "lazy"), [(["--no-embed", "x"], True), (["--hook-worker", "Stop"], True),
                                            (["x"], False)])
def test_an_ingest_without_embeddings_binds_extension_modules_lazily(monkeypatch, args, lazy):
    """Only a run that loads no model gets RTLD_LAZY (quick.lazy_binding): a model's libraries set their own flags."""
    import os

    from vault.cli import ingest_run, quick

    seen = []
    monkeypatch.setattr(ingest_run, "run_ingest", lambda *a: seen.append(bool(sys.getdlopenflags() & os.RTLD_LAZY)))
    before = sys.getdlopenflags()
    assert quick.run(["ingest", *args])
    assert seen == [lazy] and sys.getdlopenflags() == before
