"""A vault in a folder the user cannot write: a writing command said "damaged or unreadable" (a new vault) or
stopped at its first commit with an internal error (an existing one); it now names the folder. Read-only commands
open such a vault as before. Run as root without the capability that overrides file modes (setpriv)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import EXAMPLES

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                                reason="needs root and setpriv to drop CAP_DAC_OVERRIDE")


def vault(db: Path, *args: str) -> tuple[int, str, str]:
    cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-c",
           "import sys; from vault.cli import main; sys.argv[0] = 'vault'; main()", "--db", str(db), *args]
    p = subprocess.run(cmd, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                       timeout=300)
    return p.returncode, p.stdout, p.stderr


def test_writing_commands_name_the_folder_reading_ones_work(tmp_path):
    full, empty = tmp_path / "full", tmp_path / "empty"
    full.mkdir()
    empty.mkdir()
    code, _, err = vault(full / "v.duckdb", "ingest", "--no-embed", str(EXAMPLES / "claude-code"))
    assert code == 0, err
    full.chmod(0o555)
    empty.chmod(0o555)
    try:
        code, out, err = vault(empty / "v.duckdb", "ingest", "--no-embed", str(EXAMPLES / "claude-code"))
        assert code == 2 and "damaged" not in err, err
        assert f"cannot create the vault {empty / 'v.duckdb'}: its folder {empty} is not writable" in err, err
        code, out, err = vault(full / "v.duckdb", "mine", "--backend", "heuristic")
        assert code == 2 and "internal error" not in err, err
        assert f"cannot write the vault {full / 'v.duckdb'}: its folder {full} is not writable" in err, err
        for args in (("stats", "--json"), ("sessions",), ("search", "parser")):
            code, out, err = vault(full / "v.duckdb", *args)
            assert code == 0 and out, (args, err)
    finally:
        full.chmod(0o755)
        empty.chmod(0o755)


def test_a_vault_file_the_user_cannot_write(tmp_path):
    db = tmp_path / "v.duckdb"
    assert vault(db, "ingest", "--no-embed", str(EXAMPLES / "claude-code"))[0] == 0
    db.chmod(0o400)
    code, _, err = vault(db, "mine", "--backend", "heuristic")
    assert code == 2 and f"cannot write the vault {db}: the file is not writable" in err, err
    assert vault(db, "stats")[0] == 0
