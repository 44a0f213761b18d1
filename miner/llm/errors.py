"""The LLM clients' errors: one-line messages the CLI prints as they are."""

from __future__ import annotations

from vault.store import VaultError  # LLM errors print as one clean CLI error line


class LLMError(VaultError):
    """A problem the user must fix (no key, network down, over budget); the message says what to do."""


class CostLimitExceeded(LLMError):
    pass
