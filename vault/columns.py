"""Column widths for a table of sessions (the CLI's `vault sessions` and the TUI's list share this).

Each column asks for its content's width; when the room is short the widest columns give way
first, down to their minimum, so that the one flexible column (the title) keeps a readable share
and takes whatever is left over.
"""

from __future__ import annotations

from collections.abc import Sequence


def fit_widths(cols: Sequence[tuple[int, int]], flex: int, total: int, *, gap: int = 1,
               flex_min: int = 24, give_first: Sequence[int] = ()) -> list[int]:
    """Widths for `cols` ((natural, minimum) each) in `total` characters, `gap` between columns.

    The `flex` column gets the rest, at least `flex_min` (or its natural width if smaller) while the others
    can still shrink; the others never go below their minimum. Columns in `give_first` shrink before the rest.
    """
    widths = [max(n, m) for n, m in cols]
    room = total - gap * (len(cols) - 1)
    want_flex = min(cols[flex][0], flex_min)
    excess = sum(w for i, w in enumerate(widths) if i != flex) + want_flex - room
    while excess > 0:
        shrinkable = ([i for i in give_first if widths[i] > cols[i][1]]
                      or [i for i, (_, m) in enumerate(cols) if i != flex and widths[i] > m])
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda i: widths[i])
        widths[widest] -= 1
        excess -= 1
    rest = room - sum(w for i, w in enumerate(widths) if i != flex)
    widths[flex] = max(min(cols[flex][0], rest), min(cols[flex][1], cols[flex][0]), 1)
    return widths


def natural(values: Sequence[str], header: str, *, minimum: int | None = None, cap: int | None = None) -> tuple[int, int]:
    """(natural, minimum) for a column of `values` under `header`."""
    n = max([len(header), *(len(v) for v in values)])
    n = min(n, cap) if cap else n
    return n, min(n, minimum if minimum is not None else len(header))
