"""What a run leaves behind for people: the metrics table, the model card and the plot."""

from __future__ import annotations

import json
from pathlib import Path

MAIN = [
    ("preference_accuracy", "preference accuracy (log-lik.)"),
    ("mean_margin", "mean margin (nats)"),
    ("norm_accuracy", "per-token preference accuracy"),
    ("norm_margin", "per-token margin (nats)"),
    ("reward_accuracy", "DPO reward accuracy vs base"),
    ("reward_margin", "DPO reward margin"),
    ("n", "pairs scored (of the split)"),
]
CONDITIONS = ("with_persona", "without_persona", "other_persona")
ABLATION_COLS = [
    ("base", "preference_accuracy", "base pref. acc."),
    ("after", "preference_accuracy", "pref. acc."),
    ("after", "norm_accuracy", "per-token acc."),
    ("after", "reward_accuracy", "reward acc."),
    ("after", "reward_margin", "reward margin"),
]


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, int):
        return str(v)
    return f"{v:.3f}"


def _cell(block: dict, field: str) -> str:
    if field == "n" and block.get("n_in_split") is not None:
        return f"{block.get('n', 0)} of {block['n_in_split']}"  # `n scored of n in split`
    return _fmt(block.get(field))


def main_rows(metrics: dict, key: str = "base,after", fields: tuple[str, ...] | None = None) -> list[list[str]]:
    cols = [metrics.get(k) or {} for k in key.split(",")]
    return [[label, *(_cell(c, f) for c in cols)] for f, label in MAIN if fields is None or f in fields]


def fit_lines(metrics: dict) -> list[str]:
    """How the splits were fitted into max_length: counts, then every excluded pair and why."""
    fit = metrics.get("fit")
    if not fit:
        return []
    lines = [f"{name}: {s['n_kept']} of {s['n_in_split']} pairs fit max_length {fit['max_length']} "
             f"({s['n_shortened']} with older turns cut), {s['n_excluded']} excluded"
             for name, s in fit.items() if isinstance(s, dict)]
    return lines + [f"excluded {x['split']} pair {x['pair_id']}: {x['reason']}" for x in metrics.get("excluded", [])]


def ablation_rows(metrics: dict) -> list[list[str]]:
    """One row per (role, condition) with the base and after figures side by side."""
    abl = {k: (metrics.get(k) or {}).get("persona_ablation") for k in ("base", "after")}
    if not abl["base"] and not abl["after"]:
        return []
    ref = abl["after"] or abl["base"]
    groups = [("all roles", lambda a: a)] + [
        (role, lambda a, r=role: (a.get("by_role") or {}).get(r, {})) for role in ref.get("by_role", {})
    ]
    rows = []
    for name, pick in groups:
        for cond in CONDITIONS:
            if cond not in ref:
                continue
            cells = [_fmt((pick(abl[m] or {}).get(cond) or {}).get(f)) for m, f, _ in ABLATION_COLS]
            n = (pick(ref).get(cond) or {}).get("n")
            rows.append([name, cond.replace("_", " "), _fmt(n), *cells])
    return rows


ABLATION_HEAD = ["role", "prompt", "n", *(label for _, _, label in ABLATION_COLS)]


def markdown_table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def print_tables(metrics: dict, console=None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    if console is None:
        console = Console()
        if not console.is_terminal:  # piped or captured: do not squeeze the tables into 80 columns
            console = Console(width=160)
    cols = [k for k in ("base", "after") if metrics.get(k)]
    table = Table(title="held-out test split")
    table.add_column("metric")
    for c in cols:
        table.add_column(c, justify="right")
    for row in main_rows(metrics, ",".join(cols)):
        table.add_row(*map(escape, row))
    console.print(table)
    if "train" in metrics:
        t = Table(title="training pairs (fit)")
        for h in ["metric", *metrics["train"]]:
            t.add_column(h, justify="left" if h == "metric" else "right")
        fit = ("preference_accuracy", "mean_margin", "reward_accuracy", "n")
        for row in main_rows(metrics["train"], ",".join(metrics["train"]), fit):
            t.add_row(*map(escape, row))
        console.print(t)
    rows = ablation_rows(metrics)
    if rows:
        t = Table(title="persona ablation (test pairs with a persona)")
        for h in ABLATION_HEAD:
            t.add_column(h, justify="left" if h in ("role", "prompt") else "right")
        for row in rows:
            t.add_row(*map(escape, row))  # a role name may hold [brackets]
        console.print(t)
    extra = [f"{k}: {_fmt(metrics[k])}" for k in ("steps", "time_per_step_s", "train_runtime_s") if k in metrics]
    if extra:
        console.print("  ".join(extra))
    for line in fit_lines(metrics):
        console.print(line, markup=False, highlight=False)
    if metrics.get("exclusion_warning"):
        console.print("WARNING: " + metrics["exclusion_warning"], style="bold red", markup=False)


def model_card(metrics: dict, config: dict, data) -> str:
    """README.md for the adapter; names the dataset card (path, title, sha256) it was trained on."""
    base = config.get("base") or "?"
    card = "none found"
    if data.card:
        card = f"`{data.card}`" + (f" — “{data.card_title}”" if data.card_title else "")
    sums = data.fingerprint()
    settings = {k: config[k] for k in ("beta", "learning_rate", "lora_r", "lora_alpha", "lora_targets",
                                       "max_length", "max_steps", "epochs", "batch_size", "seed")}
    parts = [
        "---",
        "library_name: peft",
        f"base_model: {Path(str(base)).name}",
        "tags: [dpo, lora, trl, persona, vault]",
        "---",
        f"# Persona-conditioned LoRA DPO adapter ({Path(str(config.get('out') or '.')).name})",
        "",
        f"Trained with `vault train` (TRL `DPOTrainer`, PEFT LoRA) on base model `{base}`.",
        "",
        "## Dataset",
        "",
        f"- dataset card: {card}",
        f"- data folder: `{data.root}` ({len(data.train)} train pairs, {len(data.test)} test pairs)",
        *(f"- sha256 `{name}`: `{digest}`" for name, digest in sums.items()),
        "",
        *([f"> **WARNING: {metrics['exclusion_warning']}**", ""] if metrics.get("exclusion_warning") else []),
        "## Training",
        "",
        markdown_table(["setting", "value"], [[k, f"`{v}`"] for k, v in settings.items()]),
        "",
        f"Steps: {metrics.get('steps')}, time per step: {_fmt(metrics.get('time_per_step_s'))} s.",
        "",
        "Pairs longer than `max_length` keep the persona, the last request and both answers whole; "
        "older turns are cut to one line, then dropped, oldest first; a pair that still does not fit "
        "is excluded from training and evaluation alike:",
        "",
        *(f"- {line}" for line in fit_lines(metrics)),
        "",
        "## Evaluation (held-out test split)",
        "",
        markdown_table(["metric", "base", "after"], main_rows(metrics)),
        "",
    ]
    rows = ablation_rows(metrics)
    if rows:
        parts += ["### Persona ablation", "", markdown_table(ABLATION_HEAD, rows), ""]
    parts += [
        "Definitions: preference accuracy is the share of pairs where the model gives the chosen "
        "completion a higher log-likelihood than the rejected one; the DPO reward accuracy compares "
        "that margin with the base model's (the implicit reward, beta times the log-ratio); see "
        "docs/trainer.md in the vault repository.",
        "",
    ]
    from vault.redact import redact  # a model card gets published: no home folder, user name or secret in it

    return redact("\n".join(parts))


def plot(log_history: list[dict], path: Path) -> Path | None:
    """Loss and reward accuracy/margin per step (from the Trainer's log history) as a PNG."""
    steps = [h for h in log_history if "loss" in h and "step" in h]
    if not steps:
        return None
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    x = [h["step"] for h in steps]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax1.plot(x, [h["loss"] for h in steps], marker=".", label="DPO loss")
    ax1.set_xlabel("step")
    ax1.set_title("loss")
    ax1.legend()
    for key, label in (("rewards/accuracies", "reward accuracy"), ("rewards/margins", "reward margin")):
        if any(key in h for h in steps):
            ax2.plot(x, [h.get(key, float("nan")) for h in steps], marker=".", label=label)
    ax2.axhline(0.5, color="grey", lw=0.5, ls="--")
    ax2.set_xlabel("step")
    ax2.set_title("training batch: reward accuracy / margin")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, default=str) + "\n")
