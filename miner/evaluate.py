"""Measure the miner against hand labels (`vault eval LABELS.jsonl`).

A hand-label file has one JSON object per line, `{"msg_id": ..., "label": ...}`
(other fields ignored). `not_human` means the message must not be labelled as a
person's turn at all. The prediction for a message is its effective label in the
vault (a review relabel wins over the mined label); a message the miner does not
treat as human-side counts as `not_human`; a message absent from the vault is
reported apart, not scored.

Figures: per-label precision, recall, F1 and support; the confusion matrix
(gold rows, predicted columns); macro-F1 over the labels present in the gold file
(not_human included when present); and correction detection: precision and recall
of `reattempt_with_feedback` against everything else.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import duckdb

from miner.classify.base import LABELS, NOT_HUMAN, REATTEMPT_WITH_FEEDBACK
from vault.store import VaultError

ALL_LABELS = LABELS + (NOT_HUMAN,)


def read_gold(path: str | Path) -> dict[str, str]:
    """msg_id -> label; errors name the file and line."""
    return {row["msg_id"]: row["label"] for row in read_gold_rows(path)}


def read_gold_rows(path: str | Path) -> list[dict[str, Any]]:
    """The label lines as dicts (`msg_id` and `label` checked, `file` kept when given); errors name the file and line."""
    rows: dict[str, dict[str, Any]] = {}
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise VaultError(f"{p}: cannot read: {e}") from None
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError as e:
        n = data.count(b"\n", 0, e.start) + 1
        raise VaultError(f"{p}:{n}: not UTF-8 text (byte {data[e.start]:#04x}); a label file is JSON lines") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as e:
            raise VaultError(f"{p}:{n}: not a label line: not JSON ({e})") from None
        if not isinstance(row, dict):
            raise VaultError(f'{p}:{n}: not a label line: not a JSON object {{"msg_id": ..., "label": ...}}')
        lost = [k for k in ("msg_id", "label") if k not in row]
        if lost:
            raise VaultError(f"{p}:{n}: not a label line: no {' and no '.join(map(repr, lost))}")
        msg_id, label = str(row["msg_id"]), str(row["label"])
        if label not in ALL_LABELS:
            raise VaultError(f"{p}:{n}: unknown label {label!r}; expected one of {', '.join(ALL_LABELS)}")
        first = rows.get(msg_id)
        if first is not None and first["label"] != label:  # which one is right is the person's call, not ours
            raise VaultError(f"{p}:{n}: {msg_id!r} is labelled {label!r} here and {first['label']!r} at line "
                             f"{first['line']}: one label a message")
        if first is None:  # the same label again: counted once
            rows[msg_id] = {"msg_id": msg_id, "label": label, "file": row.get("file"), "line": n}
    return [{k: v for k, v in r.items() if k != "line"} for r in rows.values()]


_QUEUE_LINE = re.compile(r"queue:(\d+)")


def resolve_ids(con: duckdb.DuckDBPyConnection, rows: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """{label-file id: vault msg_id} for ids the vault stores under another name.

    `queue:<line>` names a Claude Code queue-operation (it has no uuid) by its line in `file`;
    the vault's message read from that line of a file whose path ends with `file`.
    """
    out = {}
    for row in rows:
        m = _QUEUE_LINE.fullmatch(row["msg_id"])
        if not m or not row.get("file"):
            continue
        hit = con.execute(
            """SELECT m.msg_id FROM messages m JOIN files f USING (file_id)
               WHERE m.line_no = ? AND (f.path = ? OR f.path LIKE '%/' || ?) LIMIT 1""",
            [int(m.group(1)), row["file"], row["file"]]).fetchone()
        if hit:
            out[row["msg_id"]] = hit[0]
    return out


def predictions(con: duckdb.DuckDBPyConnection, gold: Mapping[str, str],
                aliases: Mapping[str, str] | None = None) -> tuple[dict[str, str], list[str]]:
    """(msg_id -> predicted label, msg_ids not in the vault) for the hand-labelled `gold` ids.

    `aliases`: see `resolve_ids`. A person's turn has one label even when the source wrote it
    twice (a queued prompt and its delivered copy): a human label given to the copy scores the
    turn's label, unless the file labels the record that carries the turn too.
    """
    from miner.tables import EFFECTIVE_LABELS

    ids = list(gold)
    aliases = dict(aliases or {})
    rows = con.execute(
        f"""WITH wanted AS (SELECT unnest(?) AS gold_id, unnest(?) AS msg_id), eff AS (SELECT * FROM {EFFECTIVE_LABELS})
            SELECT w.gold_id, m.msg_id IS NOT NULL, eff.label, json_extract_string(m.extra, '$.duplicate_of'),
                   dup.label
            FROM wanted w LEFT JOIN messages m USING (msg_id) LEFT JOIN eff USING (msg_id)
            LEFT JOIN eff dup ON dup.msg_id = json_extract_string(m.extra, '$.duplicate_of')""",
        [ids, [aliases.get(i, i) for i in ids]],
    ).fetchall()
    wanted = {aliases.get(i, i) for i in ids}
    pred, missing = {}, []
    for gold_id, present, label, carrier, carrier_label in rows:
        if not present:
            missing.append(gold_id)
        elif carrier and carrier not in wanted and gold[gold_id] != NOT_HUMAN:
            pred[gold_id] = carrier_label or NOT_HUMAN
        else:
            pred[gold_id] = label or NOT_HUMAN
    return pred, sorted(missing)


def _prf(tp: int, fp: int, fn: int) -> dict[str, float | None]:
    p = tp / (tp + fp) if tp + fp else None
    r = tp / (tp + fn) if tp + fn else None
    f = 2 * p * r / (p + r) if p and r else (0.0 if p is not None and r is not None else None)
    return {"precision": p, "recall": r, "f1": f}


def score(gold: Mapping[str, str], pred: Mapping[str, str]) -> dict[str, Any]:
    """Figures over the messages present in both."""
    pairs = [(gold[m], pred[m]) for m in gold if m in pred]
    confusion = Counter(pairs)
    labels = [lab for lab in ALL_LABELS if any(g == lab or p == lab for g, p in pairs)]
    per_label = {}
    for lab in labels:
        tp = confusion[(lab, lab)]
        fp = sum(n for (g, p), n in confusion.items() if p == lab and g != lab)
        fn = sum(n for (g, p), n in confusion.items() if g == lab and p != lab)
        per_label[lab] = {**_prf(tp, fp, fn), "support": tp + fn}
    in_gold = [lab for lab in labels if per_label[lab]["support"]]
    f1s = [per_label[lab]["f1"] or 0.0 for lab in in_gold]
    c = REATTEMPT_WITH_FEEDBACK
    ctp = confusion[(c, c)]
    cfp = sum(n for (g, p), n in confusion.items() if p == c and g != c)
    cfn = sum(n for (g, p), n in confusion.items() if g == c and p != c)
    return {
        "messages": len(pairs),
        "accuracy": (sum(n for (g, p), n in confusion.items() if g == p) / len(pairs)) if pairs else None,
        "macro_f1": sum(f1s) / len(f1s) if f1s else None,
        "macro_f1_labels": in_gold,
        "per_label": per_label,
        "correction": {**_prf(ctp, cfp, cfn), "tp": ctp, "fp": cfp, "fn": cfn},
        "confusion": {"labels": labels,
                      "matrix": [[confusion[(g, p)] for p in labels] for g in labels]},
    }


def evaluate(con: duckdb.DuckDBPyConnection, path: str | Path) -> dict[str, Any]:
    rows = read_gold_rows(path)
    if not rows:
        raise VaultError(f'{path}: no label lines (one {{"msg_id": ..., "label": ...}} object per line)')
    gold = {r["msg_id"]: r["label"] for r in rows}
    pred, missing = predictions(con, gold, resolve_ids(con, rows))
    unlabelled = con.execute("SELECT count(*) FROM labels").fetchone()[0] == 0
    rep = score(gold, pred)
    rep.update({"file": str(path), "gold_lines": len(gold), "missing_from_vault": len(missing),
                "missing_examples": missing[:10], "vault_unmined": unlabelled})
    return rep


def keep_labels(con: duckdb.DuckDBPyConnection, path: str | Path) -> int:
    """Store the file's labels of messages this vault holds as the person's own (`vault mine --fit`)."""
    from vault.store import transaction

    rows = read_gold_rows(path)
    alias = resolve_ids(con, rows)
    pairs = [(alias.get(r["msg_id"], r["msg_id"]), r["label"]) for r in rows]
    present = {m for (m,) in con.execute("SELECT msg_id FROM messages WHERE msg_id IN (SELECT unnest(?))",
                                         [[m for m, _ in pairs]]).fetchall()}
    keep = [(m, lab, str(path)) for m, lab in pairs if m in present]
    with transaction(con):
        con.executemany("INSERT OR REPLACE INTO hand_labels (msg_id, label, source) VALUES (?, ?, ?)", keep)
    return len(keep)
