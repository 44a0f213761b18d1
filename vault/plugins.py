"""What other packages add to the vault through entry points (the house model: simonw/llm's plugins).

One loader, `registered`, for every group:

- `vault.sources`: a `vault.sources.base.Parser` subclass (or instance), named by its `name` (`vault.sources`);
- `vault.classifiers`: a `miner.classify.base.Classifier` subclass, named by its `name` (`miner.classify`);
- `vault.exports`: a `miner.export.Format`-like spec (`row`, `description`, optional `extra`), named by its
  entry point (`miner.export`).

The caller resolves its built-ins without this module: the entry points (importlib.metadata, a scan of sys.path,
~20 ms) are read only for a name no built-in has, or to list every name (a command's --help, an unknown name's
error), and each caller keeps what it read (`functools.cache`). A plugin that cannot be loaded, is not what its
group takes, or takes a name already known is one line (`VaultError`) naming the plugin, its entry point and why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from vault.errors import VaultError

T = TypeVar("T")


class NotAPlugin(Exception):
    """Raised by a `check`: what the loaded object is not, the end of the one-line error."""


def registered(group: str, check: Callable[[str, Any], tuple[str, T]], known_names: Iterable[str], what: str,
               name_is: str = "name") -> dict[str, T]:
    """The plugins of entry point `group`, name -> what `check` made of each, in the entry points' name order.

    `check(entry point name, loaded object)` returns (the plugin's name, the thing to keep), or raises `NotAPlugin`
    saying what the object is not; an exception of the plugin's own (its import, its constructor) means it cannot
    be loaded. `known_names` (the built-ins') cannot be taken, nor one plugin's name by another. `what` ("source")
    and `name_is` ("format name") word the errors: "source plugin 'x' (pkg.mod:Cls) reuses the format name 'y'".
    """
    from importlib.metadata import entry_points

    known = set(known_names)
    found: dict[str, T] = {}
    for ep in sorted(entry_points(group=group), key=lambda e: e.name):
        plugin = f"{what} plugin {ep.name!r} ({ep.value})"
        try:
            name, thing = check(ep.name, ep.load())
        except NotAPlugin as e:
            raise VaultError(f"{plugin} {e}") from None
        except Exception as e:  # a broken plugin: say which, in one line
            raise VaultError(f"{plugin} cannot be loaded: {type(e).__name__}: {e}") from e
        if name in known:
            raise VaultError(f"{plugin} reuses the {name_is} {name!r}")
        known.add(name)
        found[name] = thing
    return found
