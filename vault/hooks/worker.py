"""The slow half of a hook run, in the detached worker (`vault ingest --hook-worker`): everything pending ingested,
unless another process holds the vault for longer than LOCK_WAIT (then it stays pending for the next ingest)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vault.hooks.pending import clear_pending, list_pending


@dataclass
class HookResult:
    event: str
    queued: bool = False  # the vault was busy: left pending
    ingested_files: int = 0
    messages_added: int = 0
    missing: list[Path] = field(default_factory=list)

    def describe(self) -> str:
        if self.queued:
            return "vault busy: left pending for the next ingest"
        from vault.render import counted

        gone = f", {counted(len(self.missing), 'pending file')} gone" if self.missing else ""
        return f"{counted(self.messages_added, 'new message')} from {counted(self.ingested_files, 'file')}{gone}"


LOCK_WAIT = 3.0  # seconds the detached worker waits for the vault before leaving the files pending
MAX_ROUNDS = 3  # hook runs that arrive while we ingest are taken in the same process


def work(db: Path, event: str, batch_bytes: int | None = None, whole_process: bool = False,
         keep: Callable[[object], bool] | None = None) -> HookResult:
    """Ingest everything pending unless another process holds the vault (then leave it).

    `whole_process`: nothing else runs in this process, which computes no embeddings: pyarrow.dataset, dateutil and
    (incremental) numpy stay unloaded (`vault.lightquery.unloaded`). `keep(con)`: offered the writer once the vault is
    settled and recorded (`vault.unchanged.record`: checkpointed, nothing written since); True: it took it over and it
    is not closed here (the `vault` program leaves it to its end: `vault.cli.common.end_with_process`)."""
    from vault.lightquery import unloaded

    result = HookResult(event)
    with unloaded() if whole_process else contextlib.nullcontext():
        return _work(db, event, batch_bytes, result, whole_process, keep)


def _work(db: Path, event: str, batch_bytes: int | None, result: HookResult, whole_process: bool,
          keep: Callable[[object], bool] | None) -> HookResult:
    from vault import unchanged
    from vault.store import VaultLockedError, open_vault_waiting

    # What the last ingest derived and left pending, asked before the open (which changes the vault's identity): the
    # first round deletes those rows instead of deriving them again, as `vault ingest` does (vault.cli.ingest_run).
    derived_before = unchanged.derived_pending(db) if db.exists() else None
    try:  # a reader holds it for a moment (`vault mcp`); an ingest for longer: then leave it pending
        con = open_vault_waiting(db, wait=LOCK_WAIT, appends=True)  # small appends: vault.store.APPEND_ROW_GROUP
    except VaultLockedError:
        result.queued = True
        return result
    kept = False
    try:
        done: set[Path] = set()
        rounds: list = []  # each round's Ingester: what it derived stays pending until the checkpoint, then recorded
        for _ in range(MAX_ROUNDS):
            if not ingest_pending(con, db, result, batch_bytes, skip=done, numpy_unused=whole_process,
                                  rounds=rounds, derived_before=None if rounds else derived_before):
                break
        if done:  # the keyword index updated here (the changed sessions only), not by the next search
            from vault.index import after_ingest

            after_ingest(con, embed=False)  # ends with the checkpoint
            # The rows the rounds derived stay pending, named in the record of the settled vault (no delete after
            # the checkpoint: that commit cost the close a second checkpoint), for the next ingest to delete.
            sessions: set[str] = set()
            files: set[int] = set()
            for ing in rounds:
                kept = ing.forget_derived(closing=True, keep=True)  # closed below
                if kept:
                    sessions.update(kept[0])
                    files.update(kept[1])
            if unchanged.record(con, db, None, embedded=False, derived=(sorted(sessions), sorted(files))) and keep:
                kept = keep(con)
    finally:
        if not kept:
            con.close()
    return result


def ingest_pending(con, db: Path, result: HookResult, batch_bytes: int | None = None,
                   skip: set[Path] | None = None, numpy_unused: bool = False, rounds: list | None = None,
                   derived_before: tuple[list[str], list[int]] | None = None) -> set[Path]:
    """Ingest the pending paths into an open vault and clear them; returns the paths taken. With `rounds`, the
    Ingester is appended to it and leaves its derivations pending until the caller's checkpoint
    (`Ingester.forget_derived`); without, it checkpoints them itself. `derived_before`: `Ingester`'s."""
    from vault.ingest import Ingester

    skip = skip if skip is not None else set()
    pending = {p: e for p, e in list_pending(db).items() if p not in skip}
    if not pending:
        return set()
    present = [p for p in pending if p.exists()]
    result.missing += [p for p in pending if not p.exists()]
    ing = Ingester(con, batch_bytes=batch_bytes, numpy_unused=numpy_unused, derived_before=derived_before)
    ing.ingest_files(present)
    ing.finish(checkpoint_later=rounds is not None)
    if rounds is not None:
        rounds.append(ing)
    result.ingested_files += ing.report.files
    result.messages_added += ing.report.messages_added
    clear_pending(list(pending.values()))
    skip.update(pending)
    return set(pending)
