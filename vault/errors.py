"""The error base the CLI and the TUI show as one clear line (kept free of heavy imports)."""

from __future__ import annotations


class VaultError(Exception):
    """An error the CLI prints as one clear line, without a traceback."""


def is_interrupt(e: BaseException) -> bool:
    """Ctrl-C, as Python raises it or as DuckDB reports it: a query running when SIGINT arrives ends with
    `RuntimeError('Query interrupted')` (duckdb 1.5) and the KeyboardInterrupt is consumed. Not an error of the data:
    a caller that retries or reports per file must let it through."""
    if isinstance(e, KeyboardInterrupt):
        return True
    if type(e).__name__ == "InterruptException":
        return True
    return type(e) is RuntimeError and str(e).strip() == "Query interrupted"
