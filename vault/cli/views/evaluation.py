"""`vault eval`: the report of `miner.evaluate.evaluate` as tables."""

from __future__ import annotations

from typing import Any

from vault.cli.common import esc
from vault.render import counted

SHORT = {"initial_request": "IR", "new_request": "NR", "reattempt_with_feedback": "RWF",
         "reattempt_without_feedback": "RWO", "positive_feedback": "PF", "interrupt": "INT", "not_human": "NH"}


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def print_evaluation(console, rep: dict[str, Any]) -> None:
    from rich.table import Table

    if rep["vault_unmined"]:
        console.print("[yellow]The vault has no labels yet: run `vault mine` first.[/]")
    corr = rep["correction"]
    console.print(f"{counted(rep['messages'], 'labelled message', style='bold')} scored "
                  f"({rep['missing_from_vault']} of {rep['gold_lines']} not in the vault).")
    console.print(f"Correction detection: precision [bold]{_fmt(corr['precision'])}[/], recall "
                  f"[bold]{_fmt(corr['recall'])}[/], F1 {_fmt(corr['f1'])} "
                  f"(tp {corr['tp']}, fp {corr['fp']}, fn {corr['fn']}).  Macro-F1 [bold]{_fmt(rep['macro_f1'])}[/], "
                  f"accuracy {_fmt(rep['accuracy'])}.")
    t = Table(title="Per label")
    for col in ("label", "precision", "recall", "F1", "support"):
        t.add_column(col, justify="left" if col == "label" else "right")
    for lab, v in rep["per_label"].items():
        t.add_row(esc(lab), _fmt(v["precision"]), _fmt(v["recall"]), _fmt(v["f1"]), str(v["support"]))
    console.print(t)
    labels = rep["confusion"]["labels"]
    short = {lab: SHORT.get(lab, lab[:3].upper()) for lab in labels}
    m = Table(title="Confusion (rows: hand label, columns: predicted)")
    m.add_column("")
    for lab in labels:
        m.add_column(esc(short[lab]), justify="right")
    for lab, row in zip(labels, rep["confusion"]["matrix"]):
        m.add_row(esc(f"{short[lab]} {lab}"), *[str(n) if n else "·" for n in row])
    console.print(m)
