"""Issue 17: a git worktree's sessions belong to the repository's role by default; rules can split them.

(Path layouts are tested in tests/analytics/test_roles.py; here: the `.git` file on disk, the shared corpus.)
"""

from __future__ import annotations

from miner.roles import compute_roles, parse_rules, worktree_repository
from support import CLAUDE_CORPUS, needs_shared


def test_a_worktree_on_disk_is_found_through_its_git_file_whatever_its_layout(tmp_path):
    main = tmp_path / "myrepo"
    (main / ".git" / "worktrees" / "feature-x").mkdir(parents=True)
    wt = tmp_path / "elsewhere" / "feature-x"  # no naming convention at all
    (wt / "src").mkdir(parents=True)
    (wt / ".git").write_text(f"gitdir: {main}/.git/worktrees/feature-x\n")
    assert worktree_repository(str(wt)) == "myrepo"
    assert worktree_repository(str(wt / "src")) == "myrepo"
    assert worktree_repository(str(main)) is None  # the main checkout is its own project
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".git").write_text("gitdir: /somewhere/modules/sub\n")  # a submodule, not a worktree
    assert worktree_repository(str(tmp_path / "sub")) is None


@needs_shared
def test_spotter_worktrees_are_one_role_unless_a_rule_splits_them(tmp_path):
    from vault.ingest import ingest
    from vault.store import open_vault

    con = open_vault(tmp_path / "v.duckdb")
    try:
        ingest(con, [CLAUDE_CORPUS / "spotter"])
        roles = {sid: role for sid, role, _ in compute_roles(con, [])}
        projects = dict(con.execute("SELECT session_id, project FROM sessions").fetchall())
        spotter = {sid for sid, p in projects.items() if p and (p.startswith("spotter") or p == "assets")}
        assert len({projects[s] for s in spotter}) >= 6  # spotter, spotter-gqc, spotter-4te, ... and assets
        assert {roles[s] for s in spotter} == {"spotter"}
        rules = parse_rules({"roles": [{"name": "gqc", "cwd": "*/spotter-worktrees/spotter-gqc"}]})
        split = {sid: role for sid, role, _ in compute_roles(con, rules)}
        assert {split[s] for s in spotter} == {"spotter", "gqc"}
    finally:
        con.close()
