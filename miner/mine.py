"""`vault mine`: assign roles, label every new human-side turn, store the labels, rebuild the pairs.

Incremental: only turns without a label are classified (their sessions are read
whole, for context), unless `redo`. Labels are written in batches, each in its own
transaction, so an interrupted run keeps what it finished and a re-run continues.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import duckdb

from miner.classify import DEFAULT_BACKEND, get_backend
from miner.tables import assign_roles, relabels, stale_relabels
from miner.turns import load_turns
from vault.model import Kind, kinds_sql
from vault.bulk import insert_rows
from vault.rewritten import text_hash_sql
from vault.store import transaction

if TYPE_CHECKING:
    from miner.roles import Rule

LABEL_COLUMNS = ["msg_id", "session_id", "label", "confidence", "backend", "version", "reasons"]


def store_labels(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    """Store labels (tuples in LABEL_COLUMNS order) in one transaction, replacing the turns' old ones; each
    keeps the hash of the text it judged, so a rewritten file that changes the text drops it (vault/rewritten.py)."""
    ids = [r[0] for r in rows]
    with transaction(con):
        con.execute("DELETE FROM labels WHERE msg_id IN (SELECT unnest(?))", [ids])
        insert_rows(con, "labels", LABEL_COLUMNS, rows)
        con.execute(f"UPDATE labels SET text_hash = {text_hash_sql('m.text')} FROM messages m "
                    "WHERE m.msg_id = labels.msg_id AND labels.msg_id IN (SELECT unnest(?))", [ids])


def store_hand_labels(con: duckdb.DuckDBPyConnection, gold: list[dict[str, Any]], version: str = "dev") -> int:
    """Hand labels (`{"msg_id", "label"}` rows) stored as the turns' labels (backend `hand`, confidence 1), for
    benches and tests that start from labelled turns; ids the vault lacks are left out. Returns how many."""
    sessions = dict(con.execute("SELECT msg_id, session_id FROM messages WHERE msg_id IN (SELECT unnest(?))",
                                [[g["msg_id"] for g in gold]]).fetchall())
    rows = {g["msg_id"]: (g["msg_id"], sessions[g["msg_id"]], g["label"], 1.0, "hand", version, None)
            for g in gold if g["msg_id"] in sessions}  # a later row for the same turn wins
    store_labels(con, list(rows.values()))
    return len(rows)


def own_label_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The person's own labels: hand labels from files given to `vault eval`, overridden by review relabels.
    A relabel of a text that changed since (`stale_relabels`) judged other words: it is not learned from."""
    rows = {m: {"msg_id": m, "label": lab} for m, lab in con.execute(
        "SELECT msg_id, label FROM hand_labels ORDER BY msg_id").fetchall()}
    stale = stale_relabels(con)
    rows.update({m: {"msg_id": m, "label": lab} for m, lab in relabels(con).items() if m not in stale})
    return list(rows.values())


def fit_own_model(con: duckdb.DuckDBPyConnection, on_embed: Callable[[int, int], None] | None = None
                  ) -> dict[str, Any]:
    """`vault mine --fit`: the shipped model fine-tuned on this vault's own labels, stored in the vault."""
    from miner.classify.dataset import examples_from_vault
    from miner.classify.learned import META_KEY, shipped_model
    from miner.classify.train import finetune
    from miner.classify.vectors import embed
    from vault.store import VaultError, set_meta

    rows = own_label_rows(con)
    examples = examples_from_vault(con, rows)
    if not examples:
        raise VaultError("no labels of yours to learn from yet: relabel turns in `vault tui` (review) or give a "
                         "label file to `vault eval`")
    base = shipped_model()
    E = embed(con, [e.turn for e in examples], on_embed)[0].astype("float64") if base.embedding else None
    model = finetune(base, examples, E)
    with transaction(con):
        set_meta(con, META_KEY, model.to_json())
    return {"version": model.version, "own_labels": len(rows), "examples": len(examples),
            "learned_from": model.data.get("finetuned_on")}


def mine(
    con: duckdb.DuckDBPyConnection,
    backend: str = DEFAULT_BACKEND,
    redo: bool = False,
    confirm: Callable[[Any], bool] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    build_pairs_too: bool = True,
    rules: Sequence[Rule] = (),
    **options: Any,
) -> dict[str, Any]:
    """Label the human-side turns; returns a JSON-able report.

    `rules`: the role rules of the caller's settings (miner.roles.load_rules(settings)); none: each session's role
    is its project's. Nothing here reads the configuration.

    `confirm(plan)` is asked by a paid backend before it spends anything; returning False
    aborts (miner.llm.LLMError) with nothing sent. Turns a paid backend failed on get no
    label, so the next run retries them.
    """
    t0 = time.perf_counter()
    roles = assign_roles(con, rules)
    # Labels of messages that are no longer human-side (a re-ingest found a copy, a hook, ...) go.
    con.execute(f"""DELETE FROM labels WHERE msg_id IN (SELECT l.msg_id FROM labels l JOIN messages m USING (msg_id)
                    WHERE m.kind NOT IN ({kinds_sql(Kind.HUMAN_SIDE)}))""")
    clf = get_backend(backend, **options)
    clf.prepare(con, confirm=confirm)
    turns = load_turns(con, only_unlabelled=not redo)
    classify_s = embed_s = 0.0
    # A paid backend sees all turns in one call: one plan, one confirmation, one batch.
    step = clf.batch_size or max(len(turns), 1)
    labelled_any = False
    counts: Counter[str] = Counter()
    done = 0
    for i in range(0, len(turns), step):
        batch = turns[i:i + step]
        t1 = time.perf_counter()
        labels = clf.label(batch)
        took = time.perf_counter() - t1
        classify_s, embed_s = classify_s + took - clf.embed_seconds, embed_s + clf.embed_seconds
        failed = {msg_id for msg_id, _ in clf.failed}  # not stored: the next run retries them
        # --redo clears the old labels only once the backend has answered: a declined or failed
        # paid run leaves the vault as it was.
        if redo and not labelled_any:
            con.execute("DELETE FROM labels")
            labelled_any = True
        rows = [(t.msg_id, t.session_id, lab.label, lab.confidence, clf.name, clf.version, json.dumps(lab.reasons))
                for t, lab in zip(batch, labels, strict=True) if lab is not None and t.msg_id not in failed]
        store_labels(con, rows)
        counts.update(r[2] for r in rows)
        done += len(batch)
        if on_progress:
            on_progress(done, len(turns))
    total = con.execute("SELECT label, count(*) FROM labels GROUP BY 1 ORDER BY 2 DESC").fetchall()
    pairs = None
    if build_pairs_too:
        from miner.pairs import build_pairs

        p = build_pairs(con, rules=rules)  # offline methods; `vault pairs --rewrite` adds the paid one
        pairs = {k: p[k] for k in ("corrections", "pairs", "kept", "by_method")}
    return {
        "backend": clf.name,
        "version": clf.version,
        "turns_labelled": sum(counts.values()),
        "sessions": len({t.session_id for t in turns}),
        "labelled_now": dict(counts.most_common()),
        "labels_in_vault": dict(total),
        "roles": roles,
        "pairs": pairs,
        **({"llm": llm} if (llm := clf.report()) is not None else {}),
        **({"on_new_people": q} if (q := clf.on_new_people()) is not None else {}),
        "classify_seconds": round(classify_s, 3),
        "embed_seconds": round(embed_s, 3),
        "seconds": round(time.perf_counter() - t0, 3),
    }
