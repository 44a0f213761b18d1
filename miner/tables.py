"""The miner's tables: every read and write of labels in effect, reviews, pairs, personas and session roles.

Invariants held here and nowhere else:
- a person's relabel of a turn overrides the classifier's label (the `effective_labels` view, migration
  m009; `label` NULL: not labelled yet; `not_human` takes the turn out); a relabel of a text that changed
  since stays in effect, flagged (`stale_relabels`: m015, vault/rewritten.py);
- accept and reject of a pair exclude each other (deciding one withdraws the other); an edit of the
  chosen answer counts as accepted unless the pair is rejected;
- reviews outlive rebuilds: pairs are replaced wholesale, reviews stay keyed by the stable pair ids;
- a persona a person edited is never overwritten by mining;
- every session has a role: the `roles` table, completed from the rules for sessions it lacks (the rules
  of the caller's settings, always passed in: this module reads no configuration).

Labels themselves are written by `miner.mine` (one row per human-side turn); SQL elsewhere reads the
view by its name, `EFFECTIVE_LABELS`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb

from miner.classify.base import LABELS, NOT_HUMAN, REATTEMPT_WITH_FEEDBACK
from vault.sqlfilter import Filter
from vault.bulk import insert_rows
from vault.index import note_roles_changed
from vault.rewritten import text_hash_sql
from vault.sqlstring import sql_string
from vault.store import transaction

if TYPE_CHECKING:
    from miner.roles import Rule

EFFECTIVE_LABELS = "effective_labels"  # msg_id, session_id, is_human, timestamp, label, relabelled
RELABEL_CHOICES: tuple[str, ...] = (*LABELS, NOT_HUMAN)
PAIR_DECISIONS = ("accept", "reject")  # exclusive: deciding one withdraws the other
DECISIONS = {"pair": (*PAIR_DECISIONS, "edit"), "turn": ("relabel",)}


# -- labels in effect --------------------------------------------------------------------------

def relabels(con: duckdb.DuckDBPyConnection, session_id: str | None = None) -> dict[str, str]:
    """msg_id -> the label a person gave in review (of one session, or all)."""
    f = Filter().add_if(session_id, "session_id = ?", session_id).also("relabelled")
    return dict(con.execute(f"SELECT msg_id, label FROM {EFFECTIVE_LABELS} {f.where()} ORDER BY msg_id",
                            f.params).fetchall())


def stale_relabels(con: duckdb.DuckDBPyConnection, session_id: str | None = None) -> set[str]:
    """The turns whose text changed since a person relabelled them (a rewritten file, vault/rewritten.py):
    the relabel stays in effect, flagged, until the person relabels the new text."""
    f = (Filter().add_if(session_id, "m.session_id = ?", session_id)
         .also("rv.target = 'turn'", "rv.decision = 'relabel'", "rv.text_hash IS NOT NULL",
               f"rv.text_hash <> {text_hash_sql('m.text')}"))
    return {r[0] for r in con.execute(f"SELECT rv.target_id FROM reviews rv JOIN messages m ON m.msg_id = rv.target_id "
                                      f"{f.where()}", f.params).fetchall()}


def turn_labels(con: duckdb.DuckDBPyConnection, msg_ids: list[str]) -> dict[str, tuple[str | None, bool]]:
    """msg_id -> (effective label, relabelled) of these turns (absent: not a turn)."""
    rows = con.execute(f"SELECT msg_id, label, relabelled FROM {EFFECTIVE_LABELS} WHERE msg_id IN (SELECT unnest(?))",
                       [msg_ids]).fetchall()
    return {m: (lab, bool(r)) for m, lab, r in rows}


def count_corrections(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute(f"SELECT count(*) FROM {EFFECTIVE_LABELS} WHERE label = ?",
                       [REATTEMPT_WITH_FEEDBACK]).fetchone()[0]


# -- reviews -----------------------------------------------------------------------------------

def record_review(con: duckdb.DuckDBPyConnection, target: str, target_id: str, decision: str,
                  value: str | None = None) -> None:
    """Save a decision at once (one row per target and decision; accept and reject exclude each other)."""
    if decision not in DECISIONS.get(target, ()):
        raise ValueError(f"bad review {target}/{decision}")
    if decision == "relabel" and value not in RELABEL_CHOICES:
        raise ValueError(f"unknown label {value!r}")
    with transaction(con):
        if decision in PAIR_DECISIONS:
            con.execute("DELETE FROM reviews WHERE target = ? AND target_id = ? AND decision IN ('accept', 'reject')",
                        [target, target_id])
        # A relabel remembers the text it judged (m015): a later change of that text flags it.
        con.execute("INSERT OR REPLACE INTO reviews (target, target_id, decision, value, created_at, text_hash) "
                    f"VALUES (?, ?, ?, ?, current_timestamp, (SELECT {text_hash_sql('text')} FROM messages "
                    "WHERE msg_id = ? AND ? = 'turn'))", [target, target_id, decision, value, target_id, target])


@dataclass(frozen=True)
class PairReview:
    verdict: str | None = None  # accept | reject (the latest, should rows written by hand hold both)
    edit: str | None = None  # the person's rewrite of chosen
    edited: bool = False  # an edit row exists

    @property
    def accepted(self) -> bool:
        """Accepted, or edited and not rejected: what export counts as a person's yes."""
        return self.verdict == "accept" or (self.edit is not None and self.verdict != "reject")


def pair_reviews(con: duckdb.DuckDBPyConnection) -> dict[str, PairReview]:
    """pair_id -> its review (pairs without one are absent)."""
    out: dict[str, PairReview] = {}
    for pid, decision, value in con.execute(
            "SELECT target_id, decision, value FROM reviews WHERE target = 'pair' ORDER BY created_at").fetchall():
        r = out.get(pid, PairReview())
        if decision in PAIR_DECISIONS:
            r = PairReview(decision, r.edit, r.edited)
        elif decision == "edit":
            r = PairReview(r.verdict, value, True)
        out[pid] = r
    return out


# -- pairs -------------------------------------------------------------------------------------

PAIR_COLUMNS = ("pair_id", "session_id", "role_name", "feedback_msg_id", "rejected_msg_id", "chosen_msg_id",
                "prompt", "chosen", "rejected", "feedback", "method", "filters_passed", "filters_failed", "kept",
                "made_by")
_JSON_COLUMNS = ("prompt", "chosen", "rejected", "filters_passed", "filters_failed")


def replace_pairs(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    """The pairs table becomes `rows` (tuples in PAIR_COLUMNS order); reviews are kept."""
    with transaction(con):
        con.execute("DELETE FROM pairs")
        insert_rows(con, "pairs", PAIR_COLUMNS, rows)


def count_pairs(con: duckdb.DuckDBPyConnection, method: str | None = None) -> int:
    f = Filter().add_if(method, "method = ?", method)
    return con.execute(f"SELECT count(*) FROM pairs {f.where()}", f.params).fetchone()[0]


def load_pairs(con: duckdb.DuckDBPyConnection, kept_only: bool = False, role: str | None = None,
               method: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Stored pairs by session and id: their columns (JSON decoded; `made_by` 'person' when unset) and
    `review`, a PairReview."""
    f = Filter().add_if(role, "role_name = ?", role).add_if(method, "method = ?", method)
    if kept_only:
        f = f.also("kept")
    cols = ", ".join(c if c != "made_by" else "coalesce(made_by, 'person')" for c in PAIR_COLUMNS)
    sql = (f"SELECT {cols} FROM pairs {f.where()} ORDER BY session_id, pair_id"
           + (" LIMIT ?" if limit is not None else ""))
    reviews = pair_reviews(con)
    out = []
    for row in con.execute(sql, f.params + ([int(limit)] if limit is not None else [])).fetchall():
        p = dict(zip(PAIR_COLUMNS, row, strict=True))
        for c in _JSON_COLUMNS:
            p[c] = json.loads(p[c]) if p[c] else ([] if c.startswith("filters") else p[c])
        p["kept"] = bool(p["kept"])
        p["review"] = reviews.get(p["pair_id"], PairReview())
        out.append(p)
    return out


# -- personas ----------------------------------------------------------------------------------

def load_personas(con: duckdb.DuckDBPyConnection, role: str | None = None) -> list[dict[str, Any]]:
    q = "SELECT role_name, text, rules, backend, edited, updated_at FROM personas"
    rows = con.execute(q + (" WHERE role_name = ?" if role else "") + " ORDER BY role_name",
                       [role] if role else []).fetchall()
    return [{"role_name": r[0], "text": r[1], "rules": json.loads(r[2]) if r[2] else [], "backend": r[3],
             "edited": bool(r[4]), "updated_at": r[5]} for r in rows]


def persona_texts(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    """role -> its persona text."""
    return {p["role_name"]: p["text"] for p in load_personas(con)}


def edited_personas(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT role_name FROM personas WHERE edited").fetchall()}


def save_persona(con: duckdb.DuckDBPyConnection, role_name: str, text: str) -> None:
    """A person's edit: marked `edited` so that mining again keeps it."""
    con.execute("UPDATE personas SET text = ?, edited = true, updated_at = current_timestamp WHERE role_name = ?",
                [text, role_name])


def store_mined_persona(con: duckdb.DuckDBPyConnection, role_name: str, text: str | None, rules: list[dict],
                        backend: str) -> None:
    """The miner's persona of a role, unless a person edited it."""
    if role_name in edited_personas(con):
        return
    con.execute("DELETE FROM personas WHERE role_name = ?", [role_name])
    con.execute("INSERT INTO personas (role_name, text, rules, backend, edited) VALUES (?, ?, ?, ?, false)",
                [role_name, text, json.dumps(rules, ensure_ascii=False), backend])


def drop_mined_personas(con: duckdb.DuckDBPyConnection, keep: set[str]) -> list[str]:
    """Remove the mined (not edited) personas of roles outside `keep`; returns their names."""
    stale = [r[0] for r in con.execute("SELECT role_name FROM personas WHERE NOT coalesce(edited, false)")
             .fetchall() if r[0] not in keep]
    for r in stale:
        con.execute("DELETE FROM personas WHERE role_name = ?", [r])
    return stale


# -- session roles -----------------------------------------------------------------------------

def assign_roles(con: duckdb.DuckDBPyConnection, rules: Sequence[Rule]) -> dict[str, int]:
    """Give every session a role by `rules` (the caller's settings': miner.roles.load_rules(settings); none: each
    session's role is its project's), replacing the `roles` table; returns sessions per role."""
    from miner.roles import compute_roles

    rows = compute_roles(con, list(rules))
    # No transaction of our own: `vault mine` may call this inside its own (DuckDB cannot nest
    # them, and a failed BEGIN aborts the caller's). Roles are derived: a crash in between leaves
    # the table empty, and readers then complete it on the fly (`session_roles`).
    con.execute("DELETE FROM roles")
    insert_rows(con, "roles", ["session_id", "role_name", "rule"], rows)
    note_roles_changed(con)  # what a search caches of the roles is read again
    counts: dict[str, int] = {}
    for _, name, _ in rows:
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def unassigned_roles(con: duckdb.DuckDBPyConnection, rules: Sequence[Rule]) -> dict[str, str]:
    """session -> role by `rules` (as for `assign_roles`) for the sessions the roles table lacks."""
    missing = con.execute(
        "SELECT count(*) FROM sessions WHERE session_id NOT IN (SELECT session_id FROM roles)").fetchone()[0]
    if not missing:
        return {}
    from miner.roles import compute_roles

    have = {r[0] for r in con.execute("SELECT session_id FROM roles").fetchall()}
    return {sid: name for sid, name, _ in compute_roles(con, list(rules)) if sid not in have}


def session_roles(con: duckdb.DuckDBPyConnection, rules: Sequence[Rule]) -> dict[str, str]:
    """session -> role: the roles table, completed from `rules` (as for `assign_roles`) for sessions it lacks."""
    roles = dict(con.execute("SELECT session_id, role_name FROM roles").fetchall())
    return roles | unassigned_roles(con, rules)


def known_roles(con: duckdb.DuckDBPyConnection, rules: Sequence[Rule]) -> list[str]:
    """The roles the vault's sessions have, sorted: the roles table, completed by `rules` (`session_roles`)."""
    return sorted(set(session_roles(con, rules).values()))


def role_unmatched(con: duckdb.DuckDBPyConnection, rules: Sequence[Rule], role: str | None,
                   assigned: bool = False) -> str | None:
    """Why no session matches `role`, one phrase after the argument's name (`--role …` on the command line,
    `role: …` in the MCP tools): the one wording of an unknown role. None when a session has it, or no role is given.

    The roles are `known_roles` (the rules complete the stored ones). `assigned`: the caller reads only the roles
    `vault mine` stored (search, sessions, turns, the MCP corrections), so a role of the rules no mine has stored
    yet is said too."""
    if not role:
        return None
    known = known_roles(con, rules)
    if role not in known:
        return (f"{role!r} matches no session in the vault (roles: {', '.join(known) or 'none'}; "
                "`vault roles` lists them, `vault mine` assigns them)")
    if assigned and not con.execute("SELECT 1 FROM roles WHERE role_name = ? LIMIT 1", [role]).fetchone():
        return f"{role!r}: no session has it yet (`vault mine` assigns the roles)"
    return None


def role_summary(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Per role of the roles table: sessions (subagents apart), human turns, labelled turns and corrections."""
    rows = con.execute(
        f"""
        WITH lab AS (
            SELECT session_id, count(*) FILTER (WHERE label <> {sql_string(NOT_HUMAN)}) AS labelled,
                   count(*) FILTER (WHERE label = ?) AS corrections
            FROM {EFFECTIVE_LABELS} GROUP BY session_id
        )
        SELECT r.role_name,
               count(*) FILTER (WHERE s.parent_session_id IS NULL),
               count(*) FILTER (WHERE s.parent_session_id IS NOT NULL),
               coalesce(sum(s.human_messages), 0), coalesce(sum(lab.labelled), 0), coalesce(sum(lab.corrections), 0),
               list(DISTINCT r.rule ORDER BY r.rule)
        FROM roles r JOIN sessions s USING (session_id) LEFT JOIN lab USING (session_id)
        GROUP BY r.role_name ORDER BY count(*) DESC, r.role_name
        """,
        [REATTEMPT_WITH_FEEDBACK],
    ).fetchall()
    return [{"role": name, "sessions": main, "subagent_sessions": sub, "human_turns": int(human),
             "labelled_turns": int(labelled), "corrections": int(corr), "rules": rule_list}
            for name, main, sub, human, labelled, corr, rule_list in rows]
