"""A turn whose text changed under the same msg_id (a rewritten file) loses the classifier's label, which judged
other words; a person's relabel stays in effect, flagged as given to the old text, until relabelled.

Real lines: the licensed neutral session `tests/corpus/conversations/cctrace-js.jsonl`, edited as its person
might have (two prompts tidied). Labels by the offline heuristic backend (fast, no model).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from support import ROOT
from vault.ingest import ingest
from vault.store import open_vault

SESSION = ROOT / "tests" / "corpus" / "conversations" / "cctrace-js.jsonl"
SID = "cctrace-f33cdb42"
EDITED = f"{SID}#36"  # machine-labelled, then edited: its label goes
RELABELLED_EDITED = f"{SID}#46"  # relabelled by the person, then edited: the relabel stays, flagged
RELABELLED = f"{SID}#97"  # relabelled, not edited: nothing changes
NEW_TEXTS = {36: "I would prefer this to be something I can run on command, in any project, not a hook.",
             46: "That looks good, but I often have several Claude Code sessions open at once."}


def _edit(path: Path) -> None:
    conv = json.loads(path.read_text(encoding="utf-8"))
    for i, text in NEW_TEXTS.items():
        assert conv["messages"][i]["role"] == "user" and conv["messages"][i]["content"] != text
        conv["messages"][i]["content"] = text
    path.write_text(json.dumps(conv, ensure_ascii=False) + "\n", encoding="utf-8")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10_000_000))


def _labels(con) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in con.execute("SELECT msg_id, label, backend, version, created_at, text_hash "
                                              "FROM labels").fetchall()}


def _effective(con, msg_id: str) -> tuple:
    """(label in effect, relabelled, relabel flagged stale)"""
    from miner.tables import stale_relabels

    label, relabelled = con.execute("SELECT label, relabelled FROM effective_labels WHERE msg_id = ?",
                                    [msg_id]).fetchone()
    return label, relabelled, msg_id in stale_relabels(con)


@pytest.fixture
def mined(tmp_path):
    """The session ingested, mined and two turns relabelled by a person: (connection, session file)."""
    from miner.mine import mine
    from miner.tables import record_review

    (tmp_path / "src").mkdir()
    path = tmp_path / "src" / SESSION.name
    path.write_bytes(SESSION.read_bytes())
    con = open_vault(tmp_path / "v.duckdb")
    ingest(con, [path.parent])
    mine(con, backend="heuristic", build_pairs_too=False)
    record_review(con, "turn", RELABELLED_EDITED, "relabel", "reattempt_with_feedback")
    record_review(con, "turn", RELABELLED, "relabel", "new_request")
    yield con, path
    con.close()


def test_an_edited_turn_loses_its_machine_label_and_a_relabel_is_flagged(mined):
    from miner.mine import mine, own_label_rows
    from miner.tables import record_review, stale_relabels
    from tui import data

    con, path = mined
    before = _labels(con)
    assert {EDITED, RELABELLED_EDITED, RELABELLED} <= before.keys() and not stale_relabels(con)
    _edit(path)
    rep = ingest(con, [path.parent])
    assert rep.files == 1 and rep.errors == []
    after = _labels(con)
    # The two edited turns' machine labels are gone; every other label is untouched (same row, same time).
    assert after == {m: v for m, v in before.items() if m not in (EDITED, RELABELLED_EDITED)}
    assert _effective(con, EDITED) == (None, False, False)  # not labelled yet
    assert _effective(con, RELABELLED_EDITED) == ("reattempt_with_feedback", True, True)
    assert _effective(con, RELABELLED) == ("new_request", True, False)
    assert stale_relabels(con) == {RELABELLED_EDITED} and stale_relabels(con, "other") == set()
    own = {r["msg_id"] for r in own_label_rows(con)}  # what `vault mine --fit` learns from
    assert RELABELLED in own and RELABELLED_EDITED not in own
    # The terminal UI says so on the turn.
    _, msgs = data.conversation(con, SID)
    shown = {m["msg_id"]: m for m in msgs}
    assert shown[RELABELLED_EDITED]["relabel_stale"] and not shown[RELABELLED]["relabel_stale"]
    assert data.label_note("reattempt_with_feedback", True, True).endswith("(relabelled; the text changed since)")
    # The next `vault mine` labels the edited texts (and only those) again, remembering what it judged.
    rep = mine(con, backend="heuristic", build_pairs_too=False)
    assert rep["turns_labelled"] == 2
    relabelled = _labels(con)
    assert relabelled.keys() == before.keys()
    assert all(relabelled[m] == before[m] for m in before if m not in (EDITED, RELABELLED_EDITED))
    assert con.execute("SELECT count(*) FROM labels l JOIN messages m USING (msg_id) "
                       "WHERE l.text_hash = md5(m.text)").fetchone()[0] == len(relabelled)
    # Relabelling the new text clears the flag.
    record_review(con, "turn", RELABELLED_EDITED, "relabel", "new_request")
    assert stale_relabels(con) == set() and _effective(con, RELABELLED_EDITED) == ("new_request", True, False)


def test_an_unchanged_rewrite_keeps_every_label(mined):
    con, path = mined
    before = _labels(con)
    path.write_text(path.read_text(encoding="utf-8") + "\n", encoding="utf-8")  # rewritten, texts unchanged
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10_000_000))
    assert ingest(con, [path.parent]).files == 1
    assert _labels(con) == before
    from miner.tables import stale_relabels

    assert stale_relabels(con) == set()


def test_m015_takes_the_stored_labels_as_judging_the_stored_texts(tmp_path):
    """A vault from before m015: its labels and relabels get the hash of the text stored now, and a later
    edit is then seen."""
    from miner.mine import mine
    from support import forget_migration
    from vault import store

    # The vault is written by this version (an ingest writes the current layout of every table), then put back
    # to its state before m015: the two columns dropped, the migration forgotten.
    (tmp_path / "src").mkdir()
    path = tmp_path / "src" / SESSION.name
    path.write_bytes(SESSION.read_bytes())
    db = tmp_path / "v.duckdb"
    con = store.open_vault(db)
    ingest(con, [path.parent])
    con.execute("ALTER TABLE labels DROP COLUMN text_hash")
    con.execute("ALTER TABLE reviews DROP COLUMN text_hash")
    forget_migration(con, "m015_label_text_hash")
    con.execute("INSERT INTO labels (msg_id, session_id, label, backend, version) VALUES (?, ?, 'new_request', 'x', "
                "'1'), (?, ?, 'new_request', 'x', '1')", [EDITED, SID, RELABELLED, SID])
    con.execute("INSERT INTO reviews (target, target_id, decision, value) VALUES ('turn', ?, 'relabel', "
                "'positive_feedback')", [RELABELLED_EDITED])
    con.close()
    assert store.needed_migrations(db) == ["m015_label_text_hash"]
    con = store.open_vault(db)
    try:
        assert con.execute("SELECT count(*) FROM labels l JOIN messages m USING (msg_id) "
                           "WHERE l.text_hash = md5(m.text)").fetchone()[0] == 2
        assert _effective(con, RELABELLED_EDITED) == ("positive_feedback", True, False)
        _edit(path)
        ingest(con, [path.parent])
        assert set(_labels(con)) == {RELABELLED}
        assert _effective(con, RELABELLED_EDITED) == ("positive_feedback", True, True)
        assert mine(con, backend="heuristic", build_pairs_too=False)["turns_labelled"] > 0
    finally:
        con.close()
