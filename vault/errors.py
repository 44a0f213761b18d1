"""The error base the CLI and the TUI show as one clear line (kept free of heavy imports)."""

from __future__ import annotations


class VaultError(Exception):
    """An error the CLI prints as one clear line, without a traceback."""
