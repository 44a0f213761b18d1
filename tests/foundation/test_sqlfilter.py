"""vault.sqlfilter.Filter: optional conditions with their parameters, composed without string surgery."""

from __future__ import annotations

import duckdb
import pytest

from vault.sqlfilter import Filter


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("CREATE TABLE t AS SELECT * FROM (VALUES (1, 'api', 'a', true), (2, 'api', 'b', false), "
              "(3, 'docs', 'a', true), (4, NULL, 'c', true)) v(id, project, role, counted)")
    yield c
    c.close()


def ids(con, f: Filter) -> list[int]:
    return [r[0] for r in con.execute(f"SELECT id FROM t {f.where()} ORDER BY id", f.params).fetchall()]


def test_no_condition_is_no_where(con):
    assert Filter().where() == "" and not Filter()
    assert ids(con, Filter()) == [1, 2, 3, 4]


def test_optional_conditions_and_their_parameters(con):
    role, project = "a", None
    f = Filter().add_if(project, "project = ?", project).add_if(role, "role = ?", role)
    assert f.params == ["a"] and ids(con, f) == [1, 3]


def test_an_or_condition_keeps_its_precedence(con):
    f = Filter().add("project = ? OR project IS NULL", "docs").add("role = ?", "c")
    assert ids(con, f) == [4]  # unparenthesised, AND would bind tighter and row 3 would match too
    f = Filter().add("project = ? OR role = ?", "docs", "c").add("counted")
    assert ids(con, f) == [3, 4]


def test_also_puts_fixed_conditions_first_and_keeps_the_parameters(con):
    f = Filter().add("role = ?", "a")
    assert ids(con, f.also("counted", "project IS NOT NULL")) == [1, 3]
    assert ids(con, Filter().also("counted")) == [1, 3, 4]
    assert f.clauses == ["role = ?"]  # the original is unchanged


def test_placeholders_must_match_the_parameters():
    with pytest.raises(ValueError, match="2 placeholders for 1"):
        Filter().add("a = ? OR b = ?", 1)
    with pytest.raises(ValueError, match="without parameters"):
        Filter().also("a = ?")
