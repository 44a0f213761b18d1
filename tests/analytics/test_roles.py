"""Roles: defaults, each rule kind, precedence, subagent inheritance, bad config, idempotence."""

from __future__ import annotations

import json
import shutil

import pytest
from analytics_data import NR, add_session, typed

from miner.roles import compute_roles, load_rules, parse_rules
from miner.tables import assign_roles
from support import EXAMPLES, run_cli
from vault.settings import ConfigError


def roles_of(con) -> dict[str, str]:
    return dict(con.execute("SELECT session_id, role_name FROM roles").fetchall())


@pytest.fixture
def examples_con(examples_vault, tmp_path):
    from vault.store import open_vault

    dest = tmp_path / "ex.duckdb"
    shutil.copy(examples_vault, dest)
    c = open_vault(dest)
    yield c
    c.close()


def test_defaults_on_examples_project_and_subagent_inherits(examples_con):
    counts = assign_roles(examples_con, [])
    # 9 billing-api sessions + the Explore subagent of one, 7 docs-site, 3 data-pipeline
    assert counts == {"billing-api": 10, "docs-site": 7, "data-pipeline": 3}
    sub = examples_con.execute(
        "SELECT r.role_name, r.rule FROM roles r JOIN sessions s USING (session_id) "
        "WHERE s.parent_session_id IS NOT NULL").fetchall()
    assert sub == [("billing-api", "inherited from parent: default: project")]


def test_default_falls_back_to_source_on_corpora(corpus_copy):
    from vault.store import open_vault

    con = open_vault(corpus_copy)
    counts = assign_roles(con, [])
    rows = con.execute("SELECT s.project, s.source, r.role_name, r.rule, s.parent_session_id "
                       "FROM sessions s JOIN roles r USING (session_id)").fetchall()
    assert len(rows) == con.execute("SELECT count(*) FROM sessions").fetchone()[0] == sum(counts.values())
    for project, source, role, rule, parent in rows:
        if parent is None and rule.startswith("default: repository"):
            assert role == "spotter" and project.startswith("spotter-")  # a spotter worktree
        elif parent is None and rule == "default: project of the enclosing folder":
            assert role == "spotter"
        elif parent is None:
            assert role == (project or source)
            assert rule == ("default: project" if project else "default: source")
    # the spotter worktrees (spotter-worktrees/spotter-gqc, ...) and the main checkout are one role
    assert {r for p, _, r, _, _ in rows if p and p.startswith("spotter")} == {"spotter"}
    # spotter compaction subagents in another worktree take their parent's role, not their own project
    parents = dict(con.execute("SELECT session_id, parent_session_id FROM sessions").fetchall())
    roles = roles_of(con)
    for sid, parent in parents.items():
        if parent in parents:
            assert roles[sid] == roles[parent], sid
    # the subagent whose main file is missing upstream (spotter 6c2214d7) is matched on its own fields
    orphan = [s for s, p in parents.items() if p is not None and p not in parents]
    assert orphan and all(roles[s] for s in orphan)
    con.close()


@pytest.mark.parametrize("rule, expected", [
    ({"project": "docs-*"}, {"docs-site"}),
    ({"cwd": "/home/*/code/billing*"}, {"billing-api"}),
    ({"source": "claude_code"}, {"billing-api", "docs-site", "data-pipeline"}),
    ({"first_prompt": "(?i)^(write|draft)"}, {"docs-site"}),
    ({"project": ["data-*", "docs-*"]}, {"docs-site", "data-pipeline"}),
    ({"project": "billing-api", "first_prompt": "webhook"}, {"billing-api"}),
])
def test_each_rule_kind_on_examples(examples_con, rule, expected):
    rules = parse_rules({"roles": [{"name": "R", **rule}]})
    assign_roles(examples_con, rules)
    matched = examples_con.execute(
        "SELECT DISTINCT s.project FROM roles r JOIN sessions s USING (session_id) "
        "WHERE r.role_name = 'R' AND s.parent_session_id IS NULL").fetchall()
    assert {p for (p,) in matched} == expected
    # the regex rule matches exactly the sessions whose first prompt starts with Write/Draft
    if "first_prompt" in rule and len(rule) == 1:
        n = examples_con.execute("SELECT count(*) FROM sessions WHERE regexp_matches(first_prompt, '^(Write|Draft)')"
                                 ).fetchone()[0]
        assert n == examples_con.execute("SELECT count(*) FROM roles WHERE role_name = 'R'").fetchone()[0] == 2


def test_a_git_worktree_belongs_to_its_repository(con):
    from miner.roles import worktree_repository

    add_session(con, "main", project="spotter", cwd="/home/m/projects/spotter", turns=typed(NR))
    add_session(con, "wt1", project="spotter-gqc", cwd="/home/m/projects/spotter-worktrees/spotter-gqc", turns=typed(NR))
    add_session(con, "sub", project="assets", cwd="/home/m/projects/spotter-worktrees/spotter-gqc/assets",
                turns=typed(NR))
    add_session(con, "dot", project="feat", cwd="/home/m/code/app/.worktrees/feat", turns=typed(NR))
    add_session(con, "docs", project="docs", cwd="/home/m/code/app/docs", turns=typed(NR))
    add_session(con, "app", project="app", cwd="/home/m/code/app", turns=typed(NR))
    add_session(con, "other", project="api", cwd="/home/m/code/api", turns=typed(NR))
    assign_roles(con, [])
    assert roles_of(con) == {"main": "spotter", "wt1": "spotter", "sub": "spotter", "dot": "app", "docs": "app",
                             "app": "app", "other": "api"}
    assert worktree_repository("C:\\code\\app.worktrees\\x") == "app"
    assert worktree_repository("/home/m/code/worktrees") is None  # a folder named so, not a worktree in it


def test_user_id_and_agent_type_rules(con):
    add_session(con, "a", project="p", user_id="u-alice", turns=typed(NR))
    add_session(con, "b", project="p", user_id="u-bob", turns=typed(NR))
    add_session(con, "a/agent-1", project="p", parent="a", agent_type="Explore")
    add_session(con, "a/agent-2", project="p", parent="a", agent_type="general-purpose")
    rules = parse_rules({"roles": [{"name": "alice", "user_id": "u-ali*"},
                                   {"name": "explorer", "agent_type": "Explore"}]})
    assign_roles(con, rules)
    assert roles_of(con) == {"a": "alice", "b": "p", "a/agent-1": "explorer", "a/agent-2": "alice"}
    rule_of = dict(con.execute("SELECT session_id, rule FROM roles").fetchall())
    assert rule_of["a/agent-1"] == 'roles[2]: agent_type="Explore"'
    assert rule_of["a/agent-2"] == 'inherited from parent: roles[1]: user_id="u-ali*"'


def test_nested_subagents_inherit_through_the_chain(con):
    add_session(con, "m", project="p", turns=typed(NR))
    add_session(con, "m/agent-1", project="q", parent="m", agent_type="general-purpose")
    add_session(con, "m/agent-2", project="q", parent="m/agent-1", agent_type="Explore")
    assign_roles(con, parse_rules({"roles": [{"name": "pp", "project": "p"}]}))
    assert roles_of(con) == {"m": "pp", "m/agent-1": "pp", "m/agent-2": "pp"}


def test_first_matching_rule_wins(examples_con):
    broad = {"name": "everything", "source": "claude_code"}
    narrow = {"name": "docs", "project": "docs-*"}
    assign_roles(examples_con, parse_rules({"roles": [narrow, broad]}))
    first = assign_roles(examples_con, parse_rules({"roles": [narrow, broad]}))
    assert first == {"everything": 13, "docs": 7}
    assert assign_roles(examples_con, parse_rules({"roles": [broad, narrow]})) == {"everything": 20}


def test_idempotent_and_replaces_previous_assignment(examples_con):
    rules = load_rules(EXAMPLES / "roles.toml")
    a = assign_roles(examples_con, rules)
    snapshot = sorted(examples_con.execute("SELECT * FROM roles").fetchall())
    assert assign_roles(examples_con, rules) == a
    assert sorted(examples_con.execute("SELECT * FROM roles").fetchall()) == snapshot
    assert a == {"backend": 12, "docs-writer": 7, "explorer": 1}
    assert assign_roles(examples_con, []) == {"billing-api": 10, "docs-site": 7, "data-pipeline": 3}
    assert examples_con.execute("SELECT count(*) FROM roles").fetchone()[0] == 20


def test_assign_inside_a_callers_transaction(examples_con):
    examples_con.execute("BEGIN TRANSACTION")
    assign_roles(examples_con, [])
    examples_con.execute("ROLLBACK")
    assert examples_con.execute("SELECT count(*) FROM roles").fetchone()[0] == 0


def test_compute_roles_writes_nothing(examples_con):
    rows = compute_roles(examples_con, [])
    assert len(rows) == 20
    assert examples_con.execute("SELECT count(*) FROM roles").fetchone()[0] == 0


@pytest.mark.parametrize("text, fragment", [
    ('[[roles]]\nname = "x"\nprojekt = "a"\n', "[[roles]] entry 1 ('x'): unknown key(s) projekt"),
    ('[[roles]]\nproject = "a"\n', "[[roles]] entry 1: needs a non-empty string `name`"),
    ('[[roles]]\nname = "ok"\nproject = "a"\n[[roles]]\nname = "y"\n', "entry 2 ('y'): matches nothing"),
    ('[[roles]]\nname = "x"\ncwd = 3\n', "`cwd` must be a non-empty string or a list of them"),
    ('[[roles]]\nname = "x"\nfirst_prompt = "(?<=a)b"\n', "`first_prompt` is not a valid regular expression"),
    ('[[roles]]\nname = "x"\nfirst_prompt = "(unclosed"\n', "`first_prompt` is not a valid regular expression"),
    ('roles = "x"\n', "roles: Input should be a valid list"),
    ('[[roles]]\nname = "x\n', "invalid TOML"),
])
def test_bad_config_names_file_and_entry(tmp_path, text, fragment):
    p = tmp_path / "config.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_rules(p)
    assert str(e.value).startswith(f"{p}: ")
    assert fragment in str(e.value)


def test_missing_config(tmp_path, monkeypatch):
    monkeypatch.setenv("VAULT_HOME", str(tmp_path))
    assert load_rules() == []  # the default location may be absent
    with pytest.raises(ConfigError, match="not found"):
        load_rules(tmp_path / "none.toml")  # an explicit file must exist
    monkeypatch.setenv("VAULT_CONFIG", str(tmp_path / "none.toml"))
    with pytest.raises(ConfigError, match="not found"):
        load_rules()  # so must one named by VAULT_CONFIG


def test_config_location_and_other_sections(tmp_path, monkeypatch):
    p = tmp_path / "home" / "config.toml"
    p.parent.mkdir()
    p.write_text('[corrections]\nthreshold = 0.2\n[[roles]]\nname = "docs"\nproject = "docs-*"\n')
    monkeypatch.setenv("VAULT_HOME", str(p.parent))
    [rule] = load_rules()
    assert rule.name == "docs" and rule.as_dict() == {"index": 1, "name": "docs", "project": "docs-*"}


def test_vault_roles_cli(examples_vault, tmp_path, monkeypatch):
    db = tmp_path / "v.duckdb"
    shutil.copy(examples_vault, db)
    monkeypatch.setenv("VAULT_CONFIG", str(EXAMPLES / "roles.toml"))
    code, out, _ = run_cli("roles", "--json", db=db)
    assert code == 0
    rep = json.loads(out)
    assert rep["config"] == str(EXAMPLES / "roles.toml") and rep["config_exists"]
    assert [r["name"] for r in rep["rules"]] == ["backend", "docs-writer", "explorer"]
    by = {r["role"]: r for r in rep["roles"]}
    assert (by["backend"]["sessions"], by["docs-writer"]["sessions"], by["explorer"]["subagent_sessions"]) == (12, 7, 1)
    # human turns per role = the sessions' typed messages
    assert by["backend"]["human_turns"] + by["docs-writer"]["human_turns"] == 85
    assert by["backend"]["labelled_turns"] == 0
    code, out, _ = run_cli("roles", db=db)
    assert code == 0 and "docs-writer" in out and "first match wins" in out and "vault mine" in out


def test_vault_roles_cli_bad_config_is_one_clear_line(examples_vault, tmp_path, monkeypatch):
    from vault.cli import main

    bad = tmp_path / "bad.toml"
    bad.write_text('[[roles]]\nname = "x"\nprojekt = "a"\n')
    db = tmp_path / "v.duckdb"
    shutil.copy(examples_vault, db)
    monkeypatch.setenv("VAULT_CONFIG", str(bad))
    with pytest.raises(SystemExit) as e:
        main(["--db", str(db), "roles"])
    assert e.value.code == 2
