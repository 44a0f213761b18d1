"""Adding our hook groups to Claude Code's settings and removing exactly them: idempotent, the original kept beside
the file (`settings.json.vault-backup`), and given back byte for byte when the file is still what install wrote."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vault.hooks.claude_settings import SettingsFile
from vault.hooks.command import is_ours
from vault.hooks.pending import now
from vault.private import write_private

EVENTS = ("SessionEnd", "PreCompact")
OPTIONAL_EVENTS = ("Stop",)
BACKUP_SUFFIX = ".vault-backup"


def installed(data: dict[str, Any]) -> dict[str, list[str]]:
    """Our hook commands per event in parsed settings."""
    out: dict[str, list[str]] = {}
    for event, groups in (data.get("hooks") or {}).items():
        for g in groups if isinstance(groups, list) else []:
            for h in (g.get("hooks") or []) if isinstance(g, dict) else []:
                if is_ours(h):
                    out.setdefault(event, []).append(h["command"])
    return out


@dataclass
class Change:
    path: Path
    added: list[str] = field(default_factory=list)  # events
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    backup: Path | None = None
    restored: bool = False  # uninstall put the original bytes back


def install(path: Path, command: str, events: tuple[str, ...] = EVENTS) -> Change:
    """Add our hook group to each event that lacks one. Idempotent; keeps a backup of the original."""
    sf = SettingsFile.read(path)
    change = Change(path)
    have = installed(sf.data)
    hooks = sf.data.get("hooks")
    for event in events:
        if event in have:
            if set(have[event]) == {command}:
                change.unchanged.append(event)
            else:  # installed from another vault or place: point it here, where it stands
                for g in hooks[event]:
                    for h in g.get("hooks", []) if isinstance(g, dict) else []:
                        if is_ours(h):
                            h["command"] = command
                change.added.append(event)
            continue
        if hooks is None:
            hooks = sf.data["hooks"] = {}
        hooks.setdefault(event, []).append({"hooks": [{"type": "command", "command": command}]})
        change.added.append(event)
    if not change.added:
        return change
    payload = sf.render()
    state = _read_state(path)
    if state is None or state.get("written_sha256") != _sha(sf.raw):
        # The original (the file without any hook of ours): kept beside it, and remembered for uninstall.
        original = sf.raw
        if have:  # ours from an earlier install, edited since by someone else: the original is without them
            before = SettingsFile.read(path)
            _strip_ours(before.data)
            original = before.render()
        change.backup = path.with_name(path.name + BACKUP_SUFFIX)
        if original is not None:
            write_private(change.backup, original)
        state = {"original_existed": original is not None, "original_sha256": _sha(original)}
    sf.write(payload)
    state.update(written_sha256=_sha(payload), installed_at=now(), events=sorted(installed(sf.data)))
    write_private(_state_path(path), json.dumps(state, indent=2).encode())
    return change


def uninstall(path: Path) -> Change:
    """Remove our hook groups (and the containers that held only them). If the file is still exactly what
    install wrote, the original bytes come back instead."""
    sf = SettingsFile.read(path)
    change = Change(path)
    change.removed = sorted(installed(sf.data))
    state = _read_state(path)
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    if state and sf.raw is not None and state.get("written_sha256") == _sha(sf.raw):
        if not state.get("original_existed"):
            path.unlink()
            change.restored = True
        elif backup.exists() and _sha(backup.read_bytes()) == state.get("original_sha256"):
            sf.write(backup.read_bytes())
            change.restored = True
    if not change.restored and change.removed:
        _strip_ours(sf.data)
        sf.write(sf.render())
    _state_path(path).unlink(missing_ok=True)
    return change


def _strip_ours(data: dict[str, Any]) -> None:
    hooks = data.get("hooks") or {}
    for event in list(hooks):
        groups = []
        for g in hooks[event]:
            if isinstance(g, dict) and isinstance(g.get("hooks"), list) and any(is_ours(h) for h in g["hooks"]):
                g = {**g, "hooks": [h for h in g["hooks"] if not is_ours(h)]}
                if not g["hooks"]:
                    continue
            groups.append(g)
        if groups:
            hooks[event] = groups
        else:
            del hooks[event]
    if "hooks" in data and not data["hooks"]:
        del data["hooks"]


def _sha(b: bytes | None) -> str | None:
    import hashlib  # (here: loading OpenSSL costs an import ~3 ms)

    return hashlib.sha256(b).hexdigest() if b is not None else None


def _state_path(path: Path) -> Path:
    return path.with_name(path.name + BACKUP_SUFFIX + ".json")


def _read_state(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(_state_path(path).read_text())
    except (OSError, ValueError):
        return None
