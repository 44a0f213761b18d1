"""Claude Code's user settings file (settings.json): found, read (refused in one line naming the file, line and
column when it cannot be used, never rewritten then) and written back atomically with its own look."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vault.errors import VaultError
from vault.private import replace_private


class HookSettingsError(VaultError):
    """settings.json cannot be used (invalid JSON, wrong shape): named with its path and position."""


def claude_settings_path(config_dir: str | Path | None = None) -> Path:
    """Claude Code's user settings: `$CLAUDE_CONFIG_DIR/settings.json`, else `~/.claude/settings.json`."""
    base = config_dir or os.environ.get("CLAUDE_CONFIG_DIR") or Path.home() / ".claude"
    return Path(base).expanduser() / "settings.json"


@dataclass
class SettingsFile:
    path: Path
    raw: bytes | None  # None: the file does not exist
    data: dict[str, Any]
    indent: int | str | None = 2
    newline: bool = True

    @classmethod
    def read(cls, path: Path) -> SettingsFile:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls(path, None, {})
        except OSError as e:
            raise HookSettingsError(f"{path}: cannot read: {e.strerror}") from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise HookSettingsError(f"{path}: not UTF-8 text (byte {e.start}); fix or move it, nothing was changed")
        if not text.strip():
            return cls(path, raw, {})
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise HookSettingsError(f"{path}:{e.lineno}:{e.colno}: invalid JSON ({e.msg}); "
                                    "fix it first, nothing was changed") from None
        _check_shape(path, data)
        return cls(path, raw, data, _indent_of(text), text.endswith("\n"))

    def render(self) -> bytes:
        text = json.dumps(self.data, indent=self.indent, ensure_ascii=False)
        return (text + ("\n" if self.newline else "")).encode()

    def write(self, payload: bytes) -> None:
        """Atomically (`vault.private.replace_private`), keeping the original's permissions. A symlinked settings.json
        (dotfiles) is written through: the link stays a link."""
        target = self.path.resolve() if self.path.is_symlink() else self.path
        target.parent.mkdir(parents=True, exist_ok=True)
        mode = (target.stat().st_mode & 0o777) if target.exists() else 0o600
        replace_private(target, payload, mode=mode, durable=True)


def _check_shape(path: Path, data: Any) -> None:
    if not isinstance(data, dict):
        raise HookSettingsError(f"{path}: expected a JSON object at the top, found {type(data).__name__}; "
                                "nothing was changed")
    hooks = data.get("hooks")
    if hooks is not None and not isinstance(hooks, dict):
        raise HookSettingsError(f"{path}: \"hooks\" should be an object, found {type(hooks).__name__}; "
                                "nothing was changed")
    for event, groups in (hooks or {}).items():
        if not isinstance(groups, list):
            raise HookSettingsError(f"{path}: hooks.{event} should be a list, found {type(groups).__name__}; "
                                    "nothing was changed")


def _indent_of(text: str) -> int | str:
    """The file's indentation (first indented line), so a rewrite keeps its look."""
    m = re.search(r"\n([ \t]+)\S", text)
    if not m:
        return 2
    ws = m.group(1)
    return ws if "\t" in ws else len(ws)
