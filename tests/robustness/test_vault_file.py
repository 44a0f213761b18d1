"""The vault file (issue 13): anything that is not a vault is refused as such, without DuckDB touching
the network; a damaged vault is not mistaken for a busy one; a vault missing its `migrations` table
or claiming a newer schema is refused in one clear line."""

from __future__ import annotations

import shutil
import socket
import sqlite3
import subprocess
import threading
from pathlib import Path

import duckdb
import pytest

from support import EXAMPLES, VAULT, vault_env, vault_holder

def _vault(db: Path, *args: str, home: Path | None = None) -> tuple[int, str, str]:
    """The real CLI in a subprocess (so nothing of this process's DuckDB instances is shared)."""
    env = vault_env({"HOME": str(home)} if home is not None else None)
    p = subprocess.run([*VAULT, "--db", str(db), *args], capture_output=True, text=True, env=env, timeout=120)
    return p.returncode, p.stdout, p.stderr


def _one_clear_line(code: int, err: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return lines[0]


class _Listener:
    """A local TCP server that only counts the connections made to it (a stand-in extension repository)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.connections = 0
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _run(self) -> None:
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            c.close()

    def close(self) -> None:
        self.stop = True
        self.thread.join()
        self.sock.close()


@pytest.fixture
def sqlite_file(tmp_path) -> Path:
    path = tmp_path / "notes.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE notes (body TEXT)")
    con.execute("INSERT INTO notes VALUES ('hello')")
    con.commit()
    con.close()
    return path


def test_sqlite_file_is_not_a_vault_and_nothing_is_installed(tmp_path, sqlite_file):
    before = sqlite_file.read_bytes()
    home = tmp_path / "home"
    home.mkdir()
    code, out, err = _vault(sqlite_file, "stats", "--json", home=home)
    line = _one_clear_line(code, err)
    assert "not a vault file" in line and str(sqlite_file) in line and "SQLite" in line, line
    assert out == ""
    assert sqlite_file.read_bytes() == before  # untouched, not migrated
    assert not (home / ".duckdb").exists()  # no extension was installed (nor downloaded)


def test_no_connection_autoinstalls_or_autoloads_an_extension(tmp_path, sqlite_file):
    """A vault connection asked for something an extension provides fails locally: no request leaves."""
    from vault.store import connect, open_vault

    repo = _Listener()
    try:
        for con in (open_vault(tmp_path / "v.duckdb"), connect()):
            try:
                con.execute(f"SET custom_extension_repository = '{repo.url}'")
                con.execute(f"SET autoinstall_extension_repository = '{repo.url}'")
                con.execute(f"SET extension_directory = '{tmp_path / 'ext'}'")  # nothing installed there yet
                with pytest.raises(duckdb.Error):
                    con.execute(f"ATTACH '{sqlite_file}' AS s (TYPE sqlite)")
                with pytest.raises(duckdb.Error):
                    con.execute(f"SELECT * FROM sqlite_scan('{sqlite_file}', 'notes')").fetchall()
            finally:
                con.close()
    finally:
        repo.close()
    assert repo.connections == 0


def test_packaged_fts_extension_loads_without_installing(tmp_path):
    from vault.index import fts
    from vault.ingest import ingest
    from vault.store import open_vault

    con = open_vault(tmp_path / "v.duckdb")
    try:
        con.execute(f"SET extension_directory = '{tmp_path / 'ext'}'")
        ingest(con, [EXAMPLES / "claude-code"])
        assert fts.ensure_index(con)["fts_docs"] > 0
        assert sorted(fts.query_stems(con, "running tests")) == ["run", "test"]
    finally:
        con.close()
    assert not (tmp_path / "ext").exists()


def test_an_empty_file_becomes_a_vault_when_written_not_when_read(tmp_path):
    db = tmp_path / "new.db"
    db.touch()  # `mktemp`, or a vault killed before DuckDB wrote its header
    code, out, err = _vault(db, "stats", "--json")  # a reader: one line, the file left as it was
    assert _one_clear_line(code, err).endswith(f"no vault at {db} (an empty file): `vault ingest` creates one")
    assert db.read_bytes() == b""
    code, out, err = _vault(db, "ingest", "--no-embed", str(EXAMPLES / "claude-code"))  # a writer makes it a vault
    assert code == 0, err
    assert db.read_bytes()[8:12] == b"DUCK"


@pytest.mark.parametrize("content,what", [
    (b"just some notes\n" * 40, "no DuckDB header"),
    (bytes(range(256)) * 64, "no DuckDB header"),
])
def test_other_files_are_not_vault_files(tmp_path, content, what):
    db = tmp_path / "thing.db"
    db.write_bytes(content)
    line = _one_clear_line(*_vault(db, "stats", "--json")[::2])
    assert f"{db} is not a vault file ({what})" in line, line
    assert db.read_bytes() == content


def test_a_duckdb_database_that_is_not_a_vault_is_left_alone(tmp_path):
    db = tmp_path / "other.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE invoices (id INTEGER)")
    con.close()
    line = _one_clear_line(*_vault(db, "stats", "--json")[::2])
    assert "not a vault file" in line and "invoices" in line, line
    con = duckdb.connect(str(db), read_only=True)
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    con.close()
    assert tables == {"invoices"}  # no migration ran into it


@pytest.fixture(scope="module")
def example_vault(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("vault") / "v.duckdb"
    code, _, err = _vault(db, "ingest", str(EXAMPLES / "claude-code"), "--json", "--no-embed")
    assert code == 0, err
    return db


def _flip(src: Path, dest: Path, offset: int, n: int = 16) -> None:
    shutil.copy2(src, dest)
    with open(dest, "r+b") as fh:
        fh.seek(offset)
        data = fh.read(n)
        fh.seek(offset)
        fh.write(bytes(b ^ 0xFF for b in data))


@pytest.mark.parametrize("offset", [4096, 8192 + 100, 12288, 262144 + 10])
def test_flipped_bytes_are_damage_not_a_lock(tmp_path, example_vault, offset):
    db = tmp_path / "v.duckdb"
    _flip(example_vault, db, offset)
    line = _one_clear_line(*_vault(db, "stats", "--json")[::2])
    assert "in use" not in line and "damaged" in line and str(db) in line, line


def test_a_held_vault_is_still_reported_busy_with_its_holder(tmp_path, example_vault):
    db = tmp_path / "v.duckdb"
    shutil.copy2(example_vault, db)
    with vault_holder(db) as holder:
        line = _one_clear_line(*_vault(db, "stats", "--json")[::2])
        assert f"in use by process {holder.pid}" in line and "damaged" not in line, line


def _tables(db: Path) -> set[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}
    finally:
        con.close()


def _tampered(tmp_path, vault, sql: str):
    """A copy of `vault` changed behind vault's back by one SQL statement."""
    db = tmp_path / "v.duckdb"
    shutil.copy2(vault, db)
    con = duckdb.connect(str(db))
    con.execute(sql)
    con.close()
    return db


def test_dropped_migrations_table_is_refused_not_a_traceback(tmp_path, example_vault):
    db = _tampered(tmp_path, example_vault, "DROP TABLE migrations")
    before = _tables(db)
    for args in (("stats", "--json"), ("ingest", str(EXAMPLES / "claude-code"), "--json", "--no-embed")):
        line = _one_clear_line(*_vault(db, *args)[::2])
        assert "damaged" in line and "migrations" in line and str(db) in line, line
    assert _tables(db) == before  # nothing re-created over the existing tables


def test_dropped_table_of_an_applied_migration_is_refused(tmp_path, example_vault):
    db = _tampered(tmp_path, example_vault, "DROP TABLE labels")
    line = _one_clear_line(*_vault(db, "stats", "--json")[::2])
    assert "damaged" in line and "labels" in line, line


@pytest.mark.parametrize("remembered", [True, False])
def test_dropped_table_is_refused_whether_or_not_the_tables_were_remembered(tmp_path, example_vault, remembered):
    """The tables a vault should have are stored at migration (`remember_schema`), else found by running the
    migrations: either way a missing one is named."""
    from vault.store import SCHEMA_TABLES

    con = duckdb.connect(str(example_vault), read_only=True)
    try:
        stored = con.execute("SELECT value FROM meta WHERE key = ?", [SCHEMA_TABLES]).fetchone()[0]
    finally:
        con.close()
    assert "labels" in stored.split("|")[1].split(",")
    forget = "" if remembered else f"DELETE FROM meta WHERE key = '{SCHEMA_TABLES}'; "
    db = _tampered(tmp_path, example_vault, forget + "DROP TABLE labels")
    line = _one_clear_line(*_vault(db, "stats", "--json")[::2])
    assert "damaged" in line and "labels" in line, line


def test_meta_claiming_a_newer_schema_is_refused(tmp_path, example_vault):
    db = _tampered(tmp_path, example_vault, "INSERT OR REPLACE INTO meta VALUES ('schema_version', '999')")
    line = _one_clear_line(*_vault(db, "stats", "--json")[::2])
    assert "newer version" in line and "999" in line, line


def test_schema_version_is_recorded_and_reopening_is_quiet(tmp_path):
    from vault.migrations import MIGRATIONS
    from vault.store import SCHEMA_VERSION, get_meta, migration_number, open_vault

    db = tmp_path / "v.duckdb"
    open_vault(db).close()
    con = open_vault(db, read_only=True)
    try:
        assert get_meta(con, SCHEMA_VERSION) == str(max(migration_number(n) for n, _ in MIGRATIONS))
    finally:
        con.close()
    assert list(tmp_path.glob("*.bak-*")) == []


def test_damage_anywhere_gives_one_line_never_a_traceback(tmp_path, example_vault):
    """Bytes flipped in each 256 KB block: every command either works or says the vault is damaged."""
    from support import run_cli

    size = example_vault.stat().st_size
    outcomes = {"ok": 0, "damaged": 0}
    for n, offset in enumerate(range(4096 + 100, size, 262144)):
        db = tmp_path / f"v{n}.duckdb"
        _flip(example_vault, db, offset, 64)
        for args in (("stats", "--json"), ("sessions", "--json")):
            code, _, err = run_cli(*args, db=db)  # an uncaught exception fails the test here
            if code == 0:
                outcomes["ok"] += 1
            else:
                assert code == 2 and "damaged" in err and "in use" not in err, (offset, err)
                outcomes["damaged"] += 1
        db.unlink()
    assert outcomes["damaged"] > 0, outcomes
