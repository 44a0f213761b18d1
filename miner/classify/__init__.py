"""Classifier backends behind one interface (`base.Classifier`), chosen by name."""

from __future__ import annotations

import importlib

from miner.classify.base import LABELS, NOT_HUMAN, Classifier, Label, Turn  # noqa: F401

# name -> (module, class). Imported on use: the anthropic backend pulls in the SDK.
BACKENDS: dict[str, tuple[str, str]] = {
    "learned": ("miner.classify.learned", "LearnedClassifier"),
    "heuristic": ("miner.classify.heuristic", "HeuristicClassifier"),
    "anthropic": ("miner.classify.anthropic", "AnthropicClassifier"),
}
DEFAULT_BACKEND = "learned"


def backend_class(name: str) -> type[Classifier]:
    """The class of backend `name` (its module imported now): `paid`, `batch_size` are read from it."""
    if name not in BACKENDS:
        raise ValueError(f"unknown classifier backend {name!r}; choose from {', '.join(BACKENDS)}")
    module, attr = BACKENDS[name]
    return getattr(importlib.import_module(module), attr)


def get_backend(name: str, **options) -> Classifier:
    return backend_class(name)(**options)
