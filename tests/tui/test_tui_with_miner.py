"""The TUI over a vault mined by the real miner: review decisions reach `vault export`, relabels the rates."""

from __future__ import annotations

import pytest
from support import EXAMPLES
from tui_data import sync

import miner.export as export_mod
import miner.mine as mine
import miner.pairs as pairs_mod
from tui.app import make_app


@pytest.fixture
def mined_vault(db_path):
    from vault.ingest import ingest
    from vault.store import open_vault

    con = open_vault(db_path)
    try:
        ingest(con, [EXAMPLES / "claude-code"])
        mine.mine(con)
        rep = pairs_mod.build_pairs(con)
    finally:
        con.close()
    assert rep["kept"] >= 3
    return db_path


@sync
async def test_review_decisions_are_what_export_selects(mined_vault):
    from vault.store import open_vault

    app = make_app(mined_vault)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        review = app.screen
        first, second, third = review.pairs[:3]
        await pilot.press("a")  # accept the first; on to the second
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("TextArea").clear()
        await pilot.press(*"A better answer, written by hand.", "ctrl+s")
        await pilot.pause()
        await pilot.press("n", "r")  # reject the third
        await pilot.pause()
    con = open_vault(mined_vault, read_only=True)
    try:
        chosen, stats = export_mod.select_pairs(con, reviewed_only=True)
        everything, _ = export_mod.select_pairs(con)
    finally:
        con.close()
    # reviewed-only: the accepted pair and the edited one (an edit accepts), with the edit as chosen
    assert {p["pair_id"] for p in chosen} == {first.pair_id, second.pair_id}
    edited = next(p for p in chosen if p["pair_id"] == second.pair_id)
    assert edited["chosen"] == [{"role": "assistant", "content": "A better answer, written by hand."}]
    assert third.pair_id not in {p["pair_id"] for p in everything}  # a rejected pair is never exported
    assert stats["review_rejected"] == 1


@sync
async def test_relabel_in_review_moves_the_correction_report(mined_vault):
    from miner.analytics import corrections_report
    from vault.store import open_vault

    def report():
        con = open_vault(mined_vault, read_only=True)
        try:
            return corrections_report(con, [])
        finally:
            con.close()

    before = report()
    app = make_app(mined_vault)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3", "l", "2")  # the first pair's feedback is a new request after all
        await pilot.pause()
    after = report()
    assert after["relabelled_turns"] == before["relabelled_turns"] + 1 == 1
    assert after["overall"]["corrections"] == before["overall"]["corrections"] - 1
