"""A search names each hit's project and role from a per-connection cache of the sessions (`search._sessions`), keyed
by the vault's content and roles versions (`fts.VERSION_KEYS`): what an ingest or `assign_roles` changes between two
searches on one connection shows in the second, and two connections never share what they cached.

Every hit is checked against the tables themselves (its session's project; its session's role, else its parent's).
Runs on the bundled examples (no ../shared needed).
"""

from __future__ import annotations

import shutil

from support import EXAMPLES

from miner.roles import Rule
from miner.tables import assign_roles
from vault.index import fts
from vault.index.search import search
from vault.ingest import ingest
from vault.store import open_vault

QUERIES = ["test", "file", "error", "commit"]
MODES = ("keyword", "hybrid")  # hybrid without vectors: the keyword ranking, named without `fts.opening`'s versions


def _project_dirs(tmp_path):
    """The bundled examples' project folders, copied (an ingest may write nothing into them, but keep them apart)."""
    arch = tmp_path / "archive"
    shutil.copytree(EXAMPLES / "claude-code", arch)
    dirs = sorted(p for p in arch.iterdir() if p.is_dir())
    assert len(dirs) >= 2
    return dirs


def _hits(con) -> list:
    return [h for q in QUERIES for mode in MODES for h in search(con, q, mode=mode, limit=200)]


def _named_as_the_tables_say(con, hits) -> None:
    """Each hit's project and role are its session's, as the tables hold them now."""
    assert hits
    sessions = {s: (p, parent) for s, p, parent in
                con.execute("SELECT session_id, project, parent_session_id FROM sessions").fetchall()}
    roles = dict(con.execute("SELECT session_id, role_name FROM roles").fetchall())
    for h in hits:
        project, parent = sessions[h.session_id]
        role = roles.get(h.session_id) if roles.get(h.session_id) is not None else roles.get(parent)
        assert (h.project, h.role_name) == (project, role), h


def _ingested(con, *dirs) -> None:
    ingest(con, list(dirs))
    fts.ensure_index(con)


def test_a_session_ingested_between_two_searches_is_named(tmp_path):
    first, *rest = _project_dirs(tmp_path)
    con = open_vault(tmp_path / "v.duckdb")
    try:
        _ingested(con, first)
        before = _hits(con)
        _named_as_the_tables_say(con, before)
        _ingested(con, *rest)
        after = _hits(con)
        _named_as_the_tables_say(con, after)
        new = {h.session_id for h in after} - {h.session_id for h in before}
        assert new and all(h.project is not None for h in after if h.session_id in new)
    finally:
        con.close()


def test_roles_assigned_between_two_searches_are_named(tmp_path):
    con = open_vault(tmp_path / "v.duckdb")
    try:
        _ingested(con, *_project_dirs(tmp_path))
        hits = _hits(con)
        assert {h.role_name for h in hits} == {None}  # no roles yet
        assign_roles(con, [])  # each session's role: its project's
        hits = _hits(con)
        _named_as_the_tables_say(con, hits)
        assert None not in {h.role_name for h in hits}
        project = hits[0].project
        assign_roles(con, [Rule("reviewer", (("project", (project,)),), 1)])  # the same count of rows, other names
        hits = _hits(con)
        _named_as_the_tables_say(con, hits)
        assert "reviewer" in {h.role_name for h in hits}
    finally:
        con.close()


def test_two_connections_never_share_what_they_cached(tmp_path):
    """Two vaults whose versions are equal (one ingest each) but whose sessions differ, searched in turn."""
    dirs = _project_dirs(tmp_path)
    cons = [open_vault(tmp_path / f"v{i}.duckdb") for i in range(2)]
    try:
        for con, d in zip(cons, dirs):
            _ingested(con, d)
        versions = [con.execute("SELECT value FROM meta WHERE key = 'content_version'").fetchone() for con in cons]
        assert versions[0] == versions[1]
        for _ in range(2):
            for con in cons:
                _named_as_the_tables_say(con, _hits(con))
    finally:
        for con in cons:
            con.close()
