"""Classifier backends behind one interface (`base.Classifier`), chosen by name.

The built-ins are rows of `BACKENDS`; other packages add backends under the `vault.classifiers` entry point group,
each naming a `Classifier` subclass, which is known by its `name` (`vault.plugins`). A built-in name is resolved
without reading the entry points.
"""

from __future__ import annotations

import functools
import importlib

from miner.classify.base import LABELS, NOT_HUMAN, Classifier, Label, Turn  # noqa: F401

# name -> (module, class). Imported on use: the anthropic backend pulls in the SDK.
BACKENDS: dict[str, tuple[str, str]] = {
    "learned": ("miner.classify.learned", "LearnedClassifier"),
    "heuristic": ("miner.classify.heuristic", "HeuristicClassifier"),
    "anthropic": ("miner.classify.anthropic", "AnthropicClassifier"),
}
DEFAULT_BACKEND = "learned"
ENTRY_POINT_GROUP = "vault.classifiers"


def backend_class(name: str) -> type[Classifier]:
    """The class of backend `name` (its module imported now): `paid`, `batch_size` are read from it."""
    if name in BACKENDS:  # its module alone: no plugin is looked for
        module, attr = BACKENDS[name]
        return getattr(importlib.import_module(module), attr)
    plugins = _registered()
    if name not in plugins:
        raise ValueError(f"unknown classifier backend {name!r}; choose from {', '.join(backend_names())}")
    return plugins[name]


def backend_names() -> list[str]:
    """Every backend's name: the built-ins, then the registered ones (the entry points read)."""
    return [*BACKENDS, *_registered()]


def get_backend(name: str, **options) -> Classifier:
    return backend_class(name)(**options)


@functools.cache
def _registered() -> dict[str, type[Classifier]]:
    """Backends of the `vault.classifiers` entry points: each names a `Classifier` subclass with a `name`."""
    from vault.plugins import registered

    return registered(ENTRY_POINT_GROUP, _backend, BACKENDS, "classifier", "backend name")


def _backend(_entry: str, obj) -> tuple[str, type[Classifier]]:
    """`registered`'s check: a `Classifier` subclass (not made here: `mine` makes it with its options), by its name."""
    from vault.plugins import NotAPlugin

    if not (isinstance(obj, type) and Classifier in obj.__mro__ and obj is not Classifier
            and isinstance(getattr(obj, "name", None), str) and obj.name):
        raise NotAPlugin("is not a miner.classify.base.Classifier subclass with a name")
    return obj.name, obj
