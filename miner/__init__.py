"""Mining: classify human turns, find corrections, build pairs, personas and datasets.

Uses the vault core (store, queries, index); never the TUI or the trainer.
"""
