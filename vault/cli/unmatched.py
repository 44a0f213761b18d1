"""A filter that matches nothing in the vault (a mistyped `--role`, `--project`, `--session`, `--source`, a
`--since`/`--until` window no session falls in) is said on
stderr, one dim line each, so an empty answer is not taken for "nothing there": the one check of `vault search`,
`vault sessions`, `vault pairs`, `vault export`, `vault stats --corrections`, `vault turns` and `vault personas`.

Asked only when the answer came out empty (or, for a report, when a role is given): the command itself never pays
for it. Stdout is left as it was, so JSON and JSONL stay what CONTRACTS.md says."""

from __future__ import annotations

from vault.cli.common import settings, stderr_console

_HINTS = {"--session": "`vault sessions` lists them", "--project": "`vault sessions` shows the projects"}


def unknown_role(ctx, con, role: str | None, assigned: bool = False) -> str | None:
    """`miner.tables.role_unmatched` with the settings' role rules: why no session matches `role`, or None."""
    from miner.roles import load_rules
    from miner.tables import role_unmatched

    return role_unmatched(con, load_rules(settings(ctx)), role, assigned)


def unmatched_filters(ctx, con, *, session: str | None = None, project: str | None = None,
                      source: str | None = None, role: str | None = None, assigned: bool = False,
                      since: str | None = None, until: str | None = None) -> list[str]:
    """The filters given that match no session of the vault at all, one line each.

    `assigned`: the command reads only the roles `vault mine` stored (search, sessions, turns), so a role the
    rules give but no mine has assigned yet is said too."""
    from vault.index.search import SearchFilters
    from vault.queries import source_unmatched, window_note

    notes = []
    for option, value in (("--session", session), ("--project", project)):
        if not value:
            continue
        sql, args = SearchFilters(**{option[2:]: value}).sql()
        if con.execute(f"SELECT 1 FROM messages m {sql} LIMIT 1", args).fetchone() is None:
            notes.append(f"{option} {value!r} matches no session in the vault ({_HINTS[option]})")
    line = source_unmatched(con, source)
    if line:
        notes.append(f"--source {line}")
    line = unknown_role(ctx, con, role, assigned)
    if line:
        notes.append(f"--role {line}")
    line = window_note(con, since, until)
    if line:
        notes.append(line)
    return notes


def print_notes(notes: list[str], err=None) -> None:
    """The notes on stderr, dim, as written (no markup: they quote what the person typed)."""
    if not notes:
        return
    from rich.text import Text

    err = err or stderr_console()
    for note in notes:
        err.print(Text(note, style="dim"), highlight=False, soft_wrap=True)
