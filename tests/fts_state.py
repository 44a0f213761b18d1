"""What a keyword index holds and how it ranks, by names (its docids and termids are its own numbering):
compared between an index updated in place and one built from scratch (tests/search/test_fts_incremental.py,
tests/robustness/test_crash_fts_incremental.py)."""

from __future__ import annotations


def index_contents(con) -> dict:
    """Everything the index holds, by names (docids and termids are the index's own numbering)."""
    s = "fts_main_fts_docs"
    rows = lambda sql: sorted(con.execute(sql).fetchall(), key=repr)  # noqa: E731
    return {
        "dict": rows(f"SELECT term, df FROM {s}.dict"),
        "docs": rows(f"SELECT name, len, tier, hash FROM {s}.docs"),
        "postings": rows(f"""SELECT t.term, d.name, p.tier, p.tf, p.len FROM (
                                 SELECT termid, docid, tier, tf, len FROM {s}.postings
                                 UNION ALL SELECT termid, docid, tier, tf, len FROM {s}.delta) p
                             JOIN {s}.dict t USING (termid) JOIN {s}.docs d USING (docid)"""),
        "doc_msgs": rows(f"SELECT d.name, m.msg_id, m.n, m.session_id, m.tier FROM {s}.doc_msgs m JOIN {s}.docs d USING (docid)"),
        "stats": con.execute(f"SELECT num_docs, total_len FROM {s}.stats").fetchall(),
        "call_args": rows("SELECT * FROM fts_call_args"),
        "results": rows("SELECT * FROM fts_results"),
    }


def misnamed_postings(con) -> list[tuple]:
    """Main-segment postings whose `msg` is not what index layout 7 puts there: the document's message (its name) for a
    typed text's or a tool call's posting with `r <= HEAD_MSGS`, else NULL. Empty for a sound index."""
    from vault.index.fts_build import HEAD_MSGS, TOOL_CALL_TIER

    s = "fts_main_fts_docs"
    return con.execute(f"""SELECT p.termid, p.docid, p.tier, p.r, p.msg, d.name FROM {s}.postings p
                           LEFT JOIN {s}.docs d USING (docid)
                           WHERE p.msg IS DISTINCT FROM
                                 CASE WHEN p.tier <= {TOOL_CALL_TIER} AND p.r <= {HEAD_MSGS} THEN d.name END
                           LIMIT 5""").fetchall()


def queries_of(con) -> list[str]:
    """One-term queries over the vocabulary's range of frequencies, and pairs and triples of them."""
    terms = [r[0] for r in con.execute(
        "SELECT term FROM fts_main_fts_docs.dict WHERE regexp_full_match(term, '[a-z]+') ORDER BY df DESC, term"
    ).fetchall()]
    step = max(1, len(terms) // 24)
    singles = terms[:8] + terms[::step]
    pairs = [f"{a} {b}" for a, b in zip(singles[::3], singles[1::3], strict=False)]
    triples = [f"{a} {b} {c}" for a, b, c in zip(terms[:20:2], terms[5::7], terms[1::11], strict=False)][:5]
    return singles + pairs + triples


def rankings(con, queries: list[str]) -> dict:
    from vault.index import fts
    from vault.index.search import SearchFilters, _keyword_ranked

    out = {}
    for q in queries:
        _, terms = fts.lookup(con, q)
        for limit in (1, 3, 10, 50):
            out[f"{q}|best|{limit}"] = fts.best(con, terms, 1, limit)
        out[f"{q}|all"] = fts.best(con, terms, len(terms), 20) if terms else []
        for name, flt in (("human", SearchFilters(human_only=True)), ("tools", SearchFilters(kinds=("tool_call", "tool_result"))),
                          ("typed", SearchFilters(kinds=("human_prompt", "assistant_text")))):
            out[f"{q}|{name}"] = _keyword_ranked(con, q, 10, flt)
    return out
