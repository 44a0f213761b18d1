"""vault: a local conversation-archive vault.

The core (store, sources, ingest, index, queries) is importable on its own; the
`vault` command line is a thin layer over it (see `vault.cli`).
"""

__version__ = "0.1.0"
