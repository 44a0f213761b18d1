"""Issue 17: a git worktree's sessions belong to the repository's role by default; rules can split them."""

from __future__ import annotations

import pytest

from miner.roles import compute_roles, parse_rules, repository_of
from support import CLAUDE_CORPUS, needs_shared


@pytest.mark.parametrize("cwd, known, repo", [
    ("/home/u/projects/spotter-worktrees/spotter-gqc", set(), "spotter"),
    ("/home/u/projects/spotter-worktrees/spotter-fum/assets", set(), "spotter"),  # a folder inside a worktree
    ("/home/u/code/api/.worktrees/fix-login", set(), "api"),
    ("/home/u/code/api/.claude/worktrees/brave-otter", set(), "api"),
    ("/home/u/code/api/worktrees/fix", {"api"}, "api"),
    ("/home/u/worktrees/blog", set(), None),  # a folder of projects that happens to be called worktrees
    ("/home/u/code/api-gqc", {"/home/u/code/api"}, "api"),  # a sibling of a known checkout
    ("/home/u/code/data-pipeline", set(), None),  # a dash in a name is not a worktree
    ("/home/u/code/spotter", set(), None),
    (None, set(), None),
])
def test_worktree_layouts_by_path(cwd, known, repo):
    assert repository_of(cwd, known) == repo


def test_a_worktree_on_disk_is_found_through_its_git_file(tmp_path):
    main = tmp_path / "myrepo"
    (main / ".git" / "worktrees" / "feature-x").mkdir(parents=True)
    wt = tmp_path / "elsewhere" / "feature-x"
    (wt / "src").mkdir(parents=True)
    (wt / ".git").write_text(f"gitdir: {main}/.git/worktrees/feature-x\n")
    assert repository_of(str(wt)) == "myrepo"
    assert repository_of(str(wt / "src")) == "myrepo"
    assert repository_of(str(main)) is None  # the main checkout is its own project


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
