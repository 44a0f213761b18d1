"""Drive the app with a pilot over the example vault, and check what it shows and what it writes."""

from __future__ import annotations

import duckdb
import pytest

from tui.app import make_app
from tui.screens.conversation import ConversationScreen, ToolCall, Turn
from tui.screens.review import ReviewScreen
from tui.screens.search import SearchScreen, parse_query
from tui.screens.sessions import SessionsScreen
from tui_data import sync

SIZE = (80, 24)
SUBAGENT_PARENT = "d207a4c9-aebe-56e8-ba0a-be3c5ebf9fba"


def reviews(path) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("SELECT target, target_id, decision, value FROM reviews ORDER BY ALL").fetchall()
    finally:
        con.close()


@sync
async def test_sessions_list_marks_troubled_and_sorts(tui_vault):
    app = make_app(tui_vault)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, SessionsScreen)
        assert len(screen.shown) == 19  # top-level sessions only (the subagent is reached from its call)
        rates = {s["session_id"][:8]: s["rate"] for s in screen.shown}
        assert rates["43dd531a"] == pytest.approx(0.5)  # 2 corrections of 4 typed turns
        assert rates["1f9ac1da"] is None  # 2 turns: too few to rate
        troubled = {s["session_id"][:8] for s in screen.shown if s["troubled"]}
        assert "43dd531a" in troubled and "1f9ac1da" not in troubled
        # sort by rate (started -> role -> project -> turns -> rate), descending: the worst first
        for _ in range(4):
            await pilot.press("s")
        assert screen.shown[0]["session_id"].startswith("43dd531a")
        await pilot.press("o")
        assert screen.shown[0]["rate"] is None
        # the filter: words must all match; `!` keeps troubled sessions only
        await pilot.press("slash", *"docs-site")  # ("docs" alone also matches a billing prompt about docs/)
        assert {s["project"] for s in screen.shown} == {"docs-site"}
        await pilot.press("space", "!")
        assert all(s["troubled"] for s in screen.shown) and len(screen.shown) == 2  # of 7 docs sessions


@sync
async def test_open_session_shows_labels_and_jumps_between_corrections(tui_vault):
    app = make_app(tui_vault)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", *"refunds", "enter", "enter")
        await pilot.pause()
        conv = app.screen
        assert isinstance(conv, ConversationScreen) and conv.session_id.startswith("43dd531a")
        turns = list(conv.query(Turn))
        assert [t.msg["label"] for t in turns] == ["initial_request", "reattempt_with_feedback",
                                                  "reattempt_with_feedback", "positive_feedback"]
        assert [t.has_class("correction") for t in turns] == [False, True, True, False]
        await pilot.press("n")
        assert app.focused is turns[1]
        await pilot.press("n")
        assert app.focused is turns[2]
        await pilot.press("p")
        assert app.focused is turns[1]
        await pilot.press("escape")
        assert isinstance(app.screen, SessionsScreen)


@sync
async def test_relabel_a_turn_in_the_conversation_writes_a_review(tui_vault):
    app = make_app(tui_vault)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", *"refunds", "enter", "enter")
        await pilot.pause()
        await pilot.press("n")
        turn = app.focused
        assert isinstance(turn, Turn) and turn.has_class("correction")
        await pilot.press("l")
        await pilot.pause()
        await pilot.press("2")  # the picker lists the labels by digit: 2 = new_request
        await pilot.pause()
        assert app.focused is turn
        assert turn.msg["label"] == "new_request" and not turn.has_class("correction")
        assert "relabelled" in str(turn.border_subtitle)
    assert reviews(tui_vault) == [("turn", turn.msg["msg_id"], "relabel", "new_request")]


@sync
async def test_thinking_is_hidden_until_toggled(tui_vault):
    app = make_app(tui_vault)
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(ConversationScreen("1b1f1e00-139c-56c0-8e1e-5ba36e2b8ab2"))
        await pilot.pause()
        thinking = [w for w in app.screen.query(".hidden-kind") if str(w.border_title).startswith("thinking")]
        assert len(thinking) == 1
        assert thinking[0].styles.display == "none"
        await pilot.press("t")
        assert thinking[0].styles.display == "block"
        await pilot.press("t")
        assert thinking[0].styles.display == "none"


@sync
async def test_subagent_opens_from_the_tool_call_that_spawned_it(tui_vault):
    app = make_app(tui_vault)
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(ConversationScreen(SUBAGENT_PARENT))
        await pilot.pause()
        calls = [c for c in app.screen.query(ToolCall) if c.subagent]
        assert len(calls) == 1 and calls[0].collapsed
        calls[0].focus()
        await pilot.pause()  # Widget.focus() is applied later, by the app's message loop: under load the key came first
        await pilot.press("enter")  # expand
        assert not calls[0].collapsed
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, ConversationScreen)
        assert app.screen.session_id == SUBAGENT_PARENT + "/agent-ab5269be"


def test_parse_query_takes_the_cli_filters():
    q, f = parse_query('project:billing kind:human_prompt "run the tests" since:2026-10-01 human:yes flaky')
    assert q == '"run the tests" flaky'
    assert (f.project, f.kinds, f.since, f.human_only) == ("billing", ("human_prompt",), "2026-10-01", True)


def library_hits(path, query: str) -> list[str]:
    from vault.index.search import keyword_search
    from vault.store import open_vault

    con = open_vault(path, read_only=True)
    try:
        return [h.msg_id for h in keyword_search(con, query, limit=50)]
    finally:
        con.close()


@sync
async def test_search_as_you_type_then_open_the_hit_at_its_message(tui_vault):
    app = make_app(tui_vault)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        search = app.screen
        assert isinstance(search, SearchScreen)
        await pilot.press(*"rounding")
        await app.workers.wait_for_complete()
        await pilot.pause(0.5)  # the debounce
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert [h.msg_id for h in search.hits] == library_hits(tui_vault, "rounding")
        assert all("round" in h.snippet.lower() for h in search.hits)
        kinds = [h.kind for h in search.hits]  # tool output is found too, ranked below the text
        assert set(kinds) == {"assistant_text", "human_prompt", "tool_result"}
        assert kinds.index("tool_result") > max(i for i, k in enumerate(kinds) if k != "tool_result")
        # a filter narrows the hits: only what a person typed
        await pilot.press(*" human:yes")
        await pilot.pause(0.5)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert [h.kind for h in search.hits] == ["human_prompt"]
        await pilot.press("enter")  # hybrid; without embeddings it falls back to keyword
        await app.workers.wait_for_complete()
        await pilot.pause()
        hit = search.hits[0]
        await pilot.press("enter")  # open the first hit
        await pilot.pause()
        conv = app.screen
        assert isinstance(conv, ConversationScreen) and conv.session_id == hit.session_id
        target = conv.query_one(f"#{'m-' + ''.join(c if c.isalnum() or c in '-_' else '_' for c in hit.msg_id)}")
        assert target.has_class("hit")
        assert_in_view(conv, target)


def assert_in_view(conv, widget) -> None:
    box = conv.query_one("#conv")
    top = widget.virtual_region.y
    assert box.scroll_y <= top < box.scroll_y + box.size.height, (top, box.scroll_y, box.size.height)


@sync
async def test_a_hit_deep_in_a_session_is_scrolled_into_view(tui_vault):
    app = make_app(tui_vault)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2", *"migration 0012 widens", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        hit = app.screen.hits[0]
        assert hit.session_id.startswith("43dd531a") and hit.kind == "assistant_text"
        await pilot.press("enter")
        await pilot.pause()
        conv = app.screen
        target = next(w for w in conv.query(".hit"))
        assert conv.query_one("#conv").scroll_y > 0  # it is not at the top of the session
        assert_in_view(conv, target)


@sync
async def test_review_accept_reject_edit_relabel_write_the_vault(tui_vault):
    app = make_app(tui_vault)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        review = app.screen
        assert isinstance(review, ReviewScreen) and len(review.pairs) == 10
        first, second = review.pairs[0], review.pairs[1]
        await pilot.press("a")  # accept; moves on to the next pair
        assert review.pair is second
        await pilot.press("r")
        assert reviews(tui_vault) == [("pair", first.pair_id, "accept", None),
                                      ("pair", second.pair_id, "reject", None)]
        await pilot.press("p", "p", "r")  # changing one's mind replaces the decision
        assert ("pair", first.pair_id, "reject", None) in reviews(tui_vault)
        assert ("pair", first.pair_id, "accept", None) not in reviews(tui_vault)
        await pilot.press("p", "e")
        await pilot.pause()
        assert app.screen.query_one("TextArea").text == first.chosen
        app.screen.query_one("TextArea").clear()
        await pilot.press(*"Ran the suite: 42 passed.", "ctrl+s")
        await pilot.pause()
        await pilot.press("l")
        await pilot.pause()
        await pilot.press("2")  # new_request
        await pilot.pause()
    rows = reviews(tui_vault)
    edits = [r for r in rows if r[2] == "edit"]
    assert edits == [("pair", first.pair_id, "edit", "Ran the suite: 42 passed.")]
    assert ("turn", first.feedback_msg_id, "relabel", "new_request") in rows


@sync
async def test_relabel_changes_the_correction_rate_after_refresh(tui_vault):
    app = make_app(tui_vault)
    async with app.run_test(size=SIZE) as pilot:
        sessions = app.screen
        before = {s["session_id"][:8]: s["rate"] for s in sessions.rows}["43dd531a"]
        # in review, relabel the first pair's feedback (session 1b1f1e00) as a new request; back to sessions
        await pilot.press("3", "l", "2", "1")
        await pilot.pause()
        await pilot.press("ctrl+r")
        await pilot.pause()
        after = {s["session_id"][:8]: s["rate"] for s in sessions.rows}
        assert after["43dd531a"] == before
        assert after["1b1f1e00"] == pytest.approx(0.0)  # its only correction is a new request now


@sync
async def test_read_only_explains_and_writes_nothing(tui_vault):
    app = make_app(tui_vault, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        assert "read-only" in app.sub_title
        await pilot.press("3", "a")
        await pilot.pause()
        assert any("write access" in n.message for n in app._notifications)
        assert app.screen.pair.decision is None
    assert reviews(tui_vault) == []


@sync
async def test_help_lists_the_keys(tui_vault):
    from tui.screens.help import HelpScreen

    app = make_app(tui_vault)
    keys = {name: dict(rows) for name, rows in app.help_sections()}
    assert keys["review (3)"]["a"] and keys["conversation"]["n"] and keys["everywhere"]["?"]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, SessionsScreen)


@sync
async def test_vault_held_by_a_writer_opens_a_snapshot_then_reopens(tui_vault):
    """Another process writing: the app reads a copy, says so, refuses reviews; ctrl+r reopens it after."""
    from support import vault_holder

    with vault_holder(tui_vault) as holder:
        app = make_app(tui_vault)
        async with app.run_test(size=SIZE) as pilot:
            assert app.access.mode == "snapshot" and "snapshot" in app.sub_title
            assert str(holder.pid) in app.access.reason  # names the process holding the vault
            assert len(app.screen.shown) == 19  # the data is there
            await pilot.press("2", *"emojis", "enter")  # search works on the copy
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert len(app.screen.hits) == 3
            await pilot.press("3", "a")
            await pilot.pause()
            assert any("write access" in n.message for n in app._notifications)
            holder.communicate("", timeout=30)  # the writer finishes
            await pilot.press("ctrl+r")
            await pilot.pause()
            assert app.access.mode == "read-write" and "read-write" in app.sub_title
            await pilot.press("a")
            await pilot.pause()
    assert [r[2] for r in reviews(tui_vault)] == ["accept"]


@sync
async def test_empty_vault_every_screen_opens(db_path):
    app = make_app(db_path)
    async with app.run_test(size=SIZE) as pilot:
        assert app.screen.shown == []
        for key in ("enter", "2", *"anything", "enter", "3", "a", "l", "4", "right", "e", "question_mark"):
            await pilot.press(key)
            await app.workers.wait_for_complete()
        await pilot.press("escape", "3")
        await pilot.pause()
        assert "No preference pairs" in str(app.screen.query_one("#pair-head").render())
        await pilot.press("2")
        assert app.screen.hits == []


@sync
async def test_edit_a_persona_marks_it_edited(tui_vault):
    app = make_app(tui_vault)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        stats = app.screen
        assert stats.roles[0] is None and "billing-api" in stats.roles and "docs-site" in stats.roles
        while stats.role != "docs-site":
            await pilot.press("right")
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("TextArea").clear()
        await pilot.press(*"Two sentences at most. No emojis.", "ctrl+s")
        await pilot.pause()
        assert "(edited)" in str(app.screen.query_one("#persona-box").border_title)
    con = duckdb.connect(str(tui_vault), read_only=True)
    try:
        rows = con.execute("SELECT role_name, text, edited FROM personas ORDER BY 1").fetchall()
    finally:
        con.close()
    assert rows[0][2] is False  # billing-api untouched
    assert rows[1] == ("docs-site", "Two sentences at most. No emojis.", True)


@sync
async def test_search_bad_filter_says_so_and_old_results_never_overwrite_new(tui_vault):
    app = make_app(tui_vault)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2", *"emojis since:someday", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        search = app.screen
        status = str(search.query_one("#search-status").render())
        assert "search failed" in status and "cannot read 'someday'" in status
        assert search.hits == []
        # results of an older search arriving late are dropped
        search.show_hits(["stale"], "keyword", search._asked - 1)
        assert search.hits == []


@sync
async def test_search_role_filter_no_session_has_is_said_as_the_cli_says_it(tui_vault):
    """`role:X` that no session has: the status says so in `vault search --role` words (before: "0 hits ·
    keyword", as if nothing matched the words); a known role that finds nothing says nothing more."""
    from miner.tables import role_unmatched

    con = duckdb.connect(str(tui_vault), read_only=True)
    try:
        why = role_unmatched(con, [], "nosuch", assigned=True)
    finally:
        con.close()
    assert why.startswith("'nosuch' matches no session in the vault (roles: ")
    app = make_app(tui_vault)
    async with app.run_test(size=(200, 24)) as pilot:
        await pilot.press("2", *"emojis role:nosuch", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        search = app.screen
        status = str(search.query_one("#search-status").render())
        assert search.hits == [] and status.startswith("0 hits · keyword") and status.endswith(f" · role: {why}")
        search.query_one("#query").value = ""
        await pilot.press("slash", *"zzzqqq role:docs-site", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        status = str(search.query_one("#search-status").render())
        assert search.hits == [] and status.startswith("0 hits · keyword") and "role" not in status, status


@sync
async def test_search_window_no_session_falls_in_is_said_as_the_cli_says_it(tui_vault):
    """`since:`/`until:` that no session falls in: the status said "0 hits · keyword", as if nothing matched the
    words; now the window and the vault's dates, in `vault search --since` words (`vault.queries.window_note`)."""
    from vault.queries import window_note

    con = duckdb.connect(str(tui_vault), read_only=True)
    try:
        why = window_note(con, "2099-01-01", None, ("since", "until"))
    finally:
        con.close()
    assert why.startswith("since '2099-01-01': no session falls in this window; the vault's sessions ")
    app = make_app(tui_vault)
    async with app.run_test(size=(200, 24)) as pilot:
        await pilot.press("2", *"refunds since:2099-01-01", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        search = app.screen
        status = str(search.query_one("#search-status").render())
        assert search.hits == [] and status.startswith("0 hits · ") and status.endswith(f" · {why}"), status
        search.query_one("#query").value = ""
        await pilot.press("slash", *"zzzqqq since:2026-11-17", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        status = str(search.query_one("#search-status").render())
        assert search.hits == [] and "window" not in status, status


@sync
async def test_review_opens_the_session_at_the_feedback(tui_vault):
    app = make_app(tui_vault)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3", "n", "v")
        await pilot.pause()
        review = app.screen_stack[-2]
        conv = app.screen
        assert isinstance(review, ReviewScreen) and isinstance(conv, ConversationScreen)
        assert conv.session_id == review.pair.session_id
        target = conv.query_one(".hit")
        assert isinstance(target, Turn) and target.msg["msg_id"] == review.pair.feedback_msg_id
        assert app.focused is target
        assert_in_view(conv, target)


@sync
async def test_an_ingest_while_the_app_is_open_shows_after_refresh(tui_vault):
    """The app holds the vault only while it reads, so an ingest (another process) can run meanwhile."""
    import subprocess
    import sys

    from support import CONVERSATIONS, vault_env

    app = make_app(tui_vault)
    async with app.run_test(size=SIZE) as pilot:
        before = len(app.screen.rows)
        res = subprocess.run(
            [sys.executable, "-c", "import sys; from vault.store import open_vault; from vault.ingest import ingest; "
             "c = open_vault(sys.argv[1]); print(ingest(c, [sys.argv[2]]).messages_added); c.close()",
             str(tui_vault), str(CONVERSATIONS)], capture_output=True, text=True, timeout=120, env=vault_env())
        assert res.returncode == 0, res.stderr
        assert int(res.stdout.strip()) > 0
        assert len(app.screen.rows) == before  # nothing moves until asked
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert len(app.screen.rows) > before


MARKUP_ROLE = "[/x] billing [bold]api[red]"  # rich/Textual markup in a project (its role) and a title
MARKUP_TITLE = "[/] Invoice [red]total"


@sync
async def test_markup_in_a_project_title_and_role_is_shown_as_it_is(tui_vault):
    """A str given to a DataTable cell, a border title or a Static is markup to Textual: "[/x]" raised
    MarkupError (the app ended) and "[bold]" was taken as a style. They are shown as written."""
    from textual.content import Content

    from miner.tables import assign_roles

    def shown(title: str | None) -> str:  # the getter gives the title as markup
        return Content.from_markup(title or "").plain

    con = duckdb.connect(str(tui_vault))
    try:
        con.execute("UPDATE sessions SET project = ?, title = ? WHERE project = 'billing-api'",
                    [MARKUP_ROLE, MARKUP_TITLE])
        con.execute("DELETE FROM roles")
        assign_roles(con, [])
        for table in ("personas", "pairs"):
            con.execute(f"UPDATE {table} SET role_name = ? WHERE role_name = 'billing-api'", [MARKUP_ROLE])
    finally:
        con.close()
    app = make_app(tui_vault)
    async with app.run_test(size=(200, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, SessionsScreen)
        table = screen.query_one("DataTable")
        cells = [str(getattr(c, "plain", c)) for i in range(table.row_count) for c in table.get_row_at(i)]
        assert MARKUP_ROLE in cells and MARKUP_TITLE in cells
        await pilot.press("4")
        stats = app.screen
        while stats.role != MARKUP_ROLE:
            await pilot.press("right")
        await pilot.pause()
        assert shown(stats.query_one("#persona-box").border_title) == f"persona · {MARKUP_ROLE}"
        await pilot.press("3")
        review = app.screen
        await pilot.pause()
        for _ in range(len(review.pairs)):
            if shown(review.query_one("#persona").border_title) == f"persona · {MARKUP_ROLE}":
                break
            await pilot.press("n")
        assert shown(review.query_one("#persona").border_title) == f"persona · {MARKUP_ROLE}"



@sync
async def test_refresh_during_a_search_on_the_copy_lets_it_finish_and_asks_it_again(tui_vault, monkeypatch):
    """ctrl+r while a search reads the copy (the vault busy): the search ends on the copy it started on (before,
    the copy was closed under it: "search failed"), and the reload asks it again, as it was asked (hybrid)."""
    import threading

    import vault.index.search as search_module
    from support import vault_holder

    real, started, go, ended = search_module.search, threading.Event(), threading.Event(), []

    def held_search(con, query, *args, **kwargs):  # the first search is still running when ctrl+r comes
        if query != "emojis":  # a keyword search of a prefix, when a loaded machine lets the typing debounce fire
            return real(con, query, *args, **kwargs)
        if not started.is_set():
            started.set()
            assert go.wait(30)
        try:
            hits = real(con, query, *args, **kwargs)
        except Exception as e:
            ended.append(repr(e))
            raise
        ended.append(len(hits))
        return hits

    monkeypatch.setattr(search_module, "search", held_search)
    with vault_holder(tui_vault):
        app = make_app(tui_vault)
        async with app.run_test(size=SIZE) as pilot:
            assert app.access.mode == "snapshot"
            await pilot.press("2", *"emojis", "enter")  # hybrid (keyword here: no embeddings)
            assert started.wait(30)
            first_copy = app.access._source.copy.path
            await pilot.press("ctrl+r")  # the vault still busy: a new copy
            await pilot.pause()
            assert app.access._source.copy.path != first_copy and first_copy.exists()  # the old one still read
            go.set()
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert ended == [3, 3]  # the search running at ctrl+r, then the one the reload asked
            assert not first_copy.exists()  # dropped by its last reader
            search = app.screen
            status = str(search.query_one("#search-status").render())
            assert status.startswith("3 hits") and "no embeddings yet" in status, status  # asked hybrid again
            search.show_failure("search failed: stale", search._asked - 1)  # an older search's failure: not shown
            assert search.hits and "failed" not in str(search.query_one("#search-status").render())
