"""What `vault ingest` reports (`vault ingest --json`, CONTRACTS.md): its own module, so that an unchanged re-ingest
answered without the ingest engine (`vault.unchanged`) reports through the same class."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class IngestReport:
    files: int = 0  # files read this run (new or changed)
    files_unchanged: int = 0
    records: int = 0
    messages_added: int = 0
    skipped_lines: int = 0
    errors: list[dict] = field(default_factory=list)
    unrecognised: list[dict] = field(default_factory=list)
    unknown_types: dict[str, int] = field(default_factory=dict)
    by_source: dict[str, int] = field(default_factory=dict)
    # Files read this run whose last line stopped unfinished (no newline, not yet JSON): a live writer's line, or
    # one a crashed writer left. Not consumed: the next run reads it once it is complete. {file, line, bytes}
    unfinished: list[dict] = field(default_factory=list)
    sessions_touched: int = 0

    def add_error(self, file: str, line: int, reason: str, unit: str = "line") -> None:
        """One entry of `errors` (`vault.model.LineError`'s fields): {file, line, reason} as CONTRACTS.md says, and
        where `line` counts no text lines, the unit's own field too (`"conversation": 12`): `line` keeps its value."""
        entry: dict = {"file": file, "line": line, "reason": reason}
        if unit != "line":
            entry[unit] = line
        self.errors.append(entry)

    def as_contract(self) -> dict:
        d = asdict(self)
        d.pop("sessions_touched")
        return d


def error_where(entry: dict) -> str:
    """Where an `errors` entry is, for a text line: `path:40` (line 40), `path conversation 12:` (a unit that is not a
    text line), `path` alone (line 0: the whole file)."""
    for unit in ("conversation", "item", "message"):
        if unit in entry:
            return f"{entry['file']} {unit} {entry[unit]}:"
    return f"{entry['file']}:{entry['line']}" if entry["line"] else entry["file"]
