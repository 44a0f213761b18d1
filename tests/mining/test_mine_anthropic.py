"""`vault mine --backend anthropic` end to end: the real CLI and SDK against a local fake API."""

from __future__ import annotations

import json

from support import run_cli


def labels(db):
    from vault.store import open_vault

    con = open_vault(db, read_only=True)
    rows = con.execute("SELECT backend, label, count(*) FROM labels GROUP BY ALL").fetchall()
    con.close()
    return rows


def test_mine_with_claude_labels_caches_and_never_pays_twice(ex_db, fake_api):
    code, out, err = run_cli("mine", "--backend", "anthropic", "--yes", "--json", db=ex_db)
    assert code == 0, err
    rep = json.loads(out)
    sent = fake_api.count("POST", "/v1/messages")
    human = rep["turns_labelled"]
    interrupts = rep["labelled_now"].get("interrupt", 0)
    assert sent == human - interrupts > 0  # structural turns cost nothing
    assert {b for b, _, _ in labels(ex_db)} == {"anthropic"}
    assert rep["llm"]["plan"]["to_send"] == sent
    # Everything is labelled: a second run sends nothing; --redo answers from the cache.
    assert json.loads(run_cli("mine", "--backend", "anthropic", "--yes", "--json", db=ex_db)[1])["turns_labelled"] == 0
    code, out, _ = run_cli("mine", "--backend", "anthropic", "--redo", "--yes", "--json", db=ex_db)
    assert code == 0 and json.loads(out)["turns_labelled"] == human
    assert fake_api.count("POST", "/v1/messages") == sent
    # The planted secrets of the example archive never reach the wire.
    body = fake_api.bodies()
    for planted in ("sk-ant-api03-", "jane.doe@example.com", "/home/jdoe"):
        assert planted not in body


def test_without_confirmation_nothing_is_sent(ex_db, fake_api):
    code, _, err = run_cli("mine", "--backend", "anthropic", "--json", db=ex_db)
    assert code != 0 and "--yes" in err
    assert fake_api.count() == 0 and labels(ex_db) == []
    code, _, err = run_cli("mine", "--backend", "anthropic", "--yes", "--max-cost", "0.000001", db=ex_db)
    assert code != 0 and "cost" in err.lower()
    assert fake_api.count() == 0


def test_without_a_key_the_error_names_it(ex_db, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    code, _, err = run_cli("mine", "--backend", "anthropic", "--yes", db=ex_db)
    assert code != 0 and "ANTHROPIC_API_KEY" in err
