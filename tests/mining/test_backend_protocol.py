"""A classifier backend plugs in through `miner.classify.base.Classifier` and one row in `BACKENDS`:
`vault mine` reads `prepare`, `batch_size`, `paid`, `failed`, `embed_seconds` and `report` from it,
never from the backend's name."""

from __future__ import annotations

import sys
import types

import pytest

from miner.classify import BACKENDS
from miner.classify.base import NEW_REQUEST, Classifier, Label


class CountingBackend(Classifier):
    name = "counting"
    version = "counting-1"
    batch_size = 2
    instances: list = []

    def __init__(self) -> None:
        self.prepared, self.batches = [], []
        type(self).instances.append(self)

    def prepare(self, con, confirm=None) -> None:
        self.prepared.append((con is not None, confirm))

    def label(self, turns):
        self.batches.append(len(turns))
        return [Label(NEW_REQUEST, 0.5, ["counted"]) for _ in turns]


class MeteredBackend(CountingBackend):
    """Stands in for a paid service: all turns in one call, asks `confirm` with its plan, one turn fails."""

    name = "metered"
    version = "metered-1"
    paid = True
    batch_size = None

    def label(self, turns):
        if not self.prepared[-1][1]({"turns": len(turns)}):
            raise RuntimeError("declined")
        self.failed = [(turns[0].msg_id, "timeout")]
        return super().label(turns)

    def report(self):
        return {"plan": {"turns": self.batches[-1]}, "failed": len(self.failed)}


@pytest.fixture
def fake_backends(monkeypatch):
    mod = types.ModuleType("fake_backends")
    mod.CountingBackend, mod.MeteredBackend = CountingBackend, MeteredBackend
    monkeypatch.setitem(sys.modules, "fake_backends", mod)
    monkeypatch.setitem(BACKENDS, "counting", ("fake_backends", "CountingBackend"))
    monkeypatch.setitem(BACKENDS, "metered", ("fake_backends", "MeteredBackend"))
    CountingBackend.instances.clear()
    yield


def _mine(ex_db, backend, **kw):
    from miner.mine import mine
    from vault.store import open_vault

    con = open_vault(ex_db)
    try:
        rep = mine(con, backend=backend, build_pairs_too=False, **kw)
        stored = con.execute("SELECT count(*) FROM labels WHERE backend = ?", [backend]).fetchone()[0]
    finally:
        con.close()
    return rep, stored, CountingBackend.instances[-1]


def test_a_free_backend_is_prepared_once_and_labels_in_its_batch_size(fake_backends, ex_db):
    rep, stored, clf = _mine(ex_db, "counting")
    n = rep["turns_labelled"]
    assert n > 2 and stored == n
    assert clf.prepared == [(True, None)]
    assert clf.batches == [2] * (n // 2) + ([n % 2] if n % 2 else [])
    assert "llm" not in rep  # no report: the contract's JSON keeps its shape


def test_a_paid_backend_gets_every_turn_in_one_call_with_the_confirmation(fake_backends, ex_db):
    asked = []
    rep, stored, clf = _mine(ex_db, "metered", confirm=lambda plan: asked.append(plan) or True)
    n = len(asked) and asked[0]["turns"]
    assert clf.batches == [n] and n > 2
    assert stored == n - 1 and rep["turns_labelled"] == n - 1  # the failed turn is left for the next run
    assert rep["llm"] == {"plan": {"turns": n}, "failed": 1}


def test_a_declined_paid_run_stores_nothing(fake_backends, ex_db):
    with pytest.raises(RuntimeError, match="declined"):
        _mine(ex_db, "metered", confirm=lambda plan: False)
    from vault.store import open_vault

    con = open_vault(ex_db, read_only=True)
    assert con.execute("SELECT count(*) FROM labels").fetchone()[0] == 0
    con.close()


def test_paid_is_a_property_of_the_backend():
    from miner.classify import backend_class

    assert [n for n in BACKENDS if backend_class(n).paid] == ["anthropic"]
