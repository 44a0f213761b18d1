"""A keyword ranking scores with the index's statistics written into the query as constants (`fts.Stats`): the same
doubles, to the bit, as the same formula over the `stats` table (what the filtered ranking and the index build
use), for every term of a vault, one term or several at a time."""

from __future__ import annotations

from vault.index import fts
from vault.store import open_vault


def _scores(con, terms, st=None) -> list[tuple]:
    sql = fts._segment_rows(terms, "postings", st=st)
    return sorted(con.execute(f"SELECT docid, tier, score FROM ({sql})").fetchall())


def test_constants_score_as_the_stats_table_does(ex_db):
    con = open_vault(ex_db)
    try:
        fts.ensure_index(con, force=True)
        st = fts.read_stats(con)
        a1, a0 = con.execute(f"SELECT {fts.AVGDL}, {fts.MAIN_AVGDL} FROM {fts.SCHEMA}.stats st").fetchone()
        assert (st.avgdl(), st.main_avgdl()) == (a1, a0)
        terms = con.execute(f"SELECT termid, df FROM {fts.SCHEMA}.dict ORDER BY termid").fetchall()
        assert len(terms) > 500
        dfs = sorted({df for _, df in terms})
        idf = dict(con.execute(f"SELECT d, {fts.idf_sql('d')} FROM {fts.SCHEMA}.stats st, unnest(?) AS u(d)",
                               [dfs]).fetchall())
        assert {df: st.idf(df) for df in dfs} == idf  # every document frequency the vault has
        for i in range(0, len(terms), 7):  # one term, then three
            assert _scores(con, terms[i:i + 1], st) == _scores(con, terms[i:i + 1])
            assert _scores(con, terms[i:i + 3], st) == _scores(con, terms[i:i + 3])
    finally:
        con.close()


def test_python_scores_as_the_sql_does(ex_db):
    """A one-term ranking scores the main segment's postings in Python (`fts.weight`, `fts.score`): the same integers
    as `_score_sql` and the same weights as `weight_sql`, for every posting of the vault, at today's average length
    and at another (the main segment's, once updates moved it)."""
    con = open_vault(ex_db)
    try:
        fts.ensure_index(con, force=True)
        st = fts.read_stats(con)
        terms = con.execute(f"SELECT termid, df FROM {fts.SCHEMA}.dict ORDER BY termid").fetchall()
        for i in range(0, len(terms), 3):
            term = terms[i]
            rows = con.execute(f"SELECT p.tf, p.len, {fts._score_sql([term], st)}, {fts.weight_sql(fts._double(0.83))} "
                               f"FROM {fts.SCHEMA}.postings p WHERE p.termid = {term[0]}").fetchall()
            assert rows
            idf = st.idf(term[1])
            assert [(fts.score(idf, fts.weight(tf, ln, st.avgdl())), fts.weight(tf, ln, 0.83)) for tf, ln, _, _ in rows] \
                == [(s, w) for _, _, s, w in rows], term
    finally:
        con.close()


def test_score_rounds_half_away_from_zero():
    """DuckDB's round of a double: a half goes up (Python's round would go to even)."""
    unit = 1 / fts.SCALE
    assert fts.score(1.0, 2.5 * unit) == 3 and fts.score(1.0, 3.5 * unit) == 4 and fts.score(1.0, 2.4999 * unit) == 2
