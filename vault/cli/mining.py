"""`vault mine`, `vault turns`, `vault eval`: classify the human turns, print them, measure the miner."""

from __future__ import annotations

import sys

import click

from miner.classify import BACKENDS, DEFAULT_BACKEND, backend_names  # the registry: a new backend needs no CLI change
from vault.cli.common import (
    LIMIT,
    confirm_paid_plan,
    emit_json,
    emit_jsonl,
    esc,
    json_option,
    open_db,
    paid_options,
    redactor,
    settings,
    stderr_console,
    stdout_console,
    usage_error,
)
from vault.cli.plugin_choice import PluginChoice
from vault.render import counted


@click.command("mine")
@click.option("--backend", type=PluginChoice(BACKENDS, backend_names), default=DEFAULT_BACKEND,
              show_default=True,
              help="learned: offline model fitted on hand labels (cues, context, embeddings). heuristic: hand-set "
                   "cue weights. anthropic: Claude (opt-in, paid, needs ANTHROPIC_API_KEY).")
@click.option("--fit", is_flag=True, help="learned: first adapt the model to your own labels (review relabels, "
                                          "label files given to `vault eval`), keep it in the vault, relabel all.")
@click.option("--no-embed", is_flag=True, help="learned: skip the sentence embeddings (faster, a little less exact).")
@click.option("--redo", is_flag=True, help="Relabel every turn, not only new ones.")
@paid_options
@json_option
@click.pass_context
def mine_cmd(ctx, backend: str, fit: bool, no_embed: bool, redo: bool, model: str | None, batch: bool, yes: bool,
             max_cost: float | None, as_json: bool) -> None:
    """Label every human turn (new ones only, unless --redo) and find the corrections."""
    from miner.classify import backend_class
    from miner.mine import fit_own_model, mine
    from miner.roles import load_rules
    from vault.cli.views.progress import progress_bar

    if fit and backend != "learned":
        raise click.UsageError("--fit adapts the learned backend: drop --backend or use --backend learned")
    opts: dict = {}
    if backend == "anthropic":
        opts = {"batch": batch, "yes": yes, "max_cost": max_cost, "progress": stderr_console().print,
                "redactor": redactor(ctx), "llm_settings": settings(ctx).llm, **({"model": model} if model else {})}
    if backend == "learned" and no_embed:
        opts["embed"] = False
    err = stderr_console()
    # No live progress bar while a paid backend may ask for confirmation on the terminal.
    quiet = as_json or not sys.stderr.isatty() or (backend_class(backend).paid and not yes)
    fitted = None
    with open_db(ctx) as con:
        if fit:
            with progress_bar(err, quiet, "embedding your labelled turns") as on_embed:
                fitted = fit_own_model(con, on_embed)
        with progress_bar(err, quiet, "labelling") as on_progress:
            rep = mine(con, backend=backend, redo=redo or fit, confirm=confirm_paid_plan(as_json),
                       on_progress=on_progress, rules=load_rules(settings(ctx)), **opts)
        # How the labelled turns relate to `vault stats` (typed ones only), and which roles have any.
        typed, other, labelled_roles = con.execute(
            "SELECT count(*) FILTER (WHERE m.is_human), count(*) FILTER (WHERE NOT m.is_human), "
            "count(DISTINCT r.role_name) FROM labels l JOIN messages m USING (msg_id) "
            "LEFT JOIN roles r ON r.session_id = m.session_id").fetchone()
        # Typed on a branch the conversation abandoned (an edited prompt, a rewind): counted by `vault stats`,
        # never mined (the miner reads the main branch).
        off_branch = con.execute("SELECT count(*) FROM messages m WHERE m.is_human AND NOT m.on_main_branch "
                                 "AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.msg_id = m.msg_id)").fetchone()[0]
    if fitted:
        rep["fit"] = fitted
    if as_json:
        emit_json(rep)
        return
    c = stdout_console()
    if fitted:
        c.print(f"adapted the model to {fitted['examples']} of your labelled turns: {esc(fitted['version'])}")
    if not rep["turns_labelled"] and not typed + other:
        c.print("nothing to label: the vault holds no human turns yet (`vault ingest` your sessions first)")
    elif not rep["turns_labelled"]:
        c.print("nothing to label: every human turn already has a label (use --redo to relabel)")
    else:
        parts = ", ".join(f"{n} {lab}" for lab, n in rep["labelled_now"].items())
        c.print(f"labelled {counted(rep['turns_labelled'], 'turn', style='bold')} "
                f"in {counted(rep['sessions'], 'session')} with "
                f"{rep['backend']} ({rep['seconds']:.1f} s): {parts}")
    corr = rep["labels_in_vault"].get("reattempt_with_feedback", 0)
    total = sum(rep["labels_in_vault"].values())
    pairs = rep.get("pairs") or {}
    n_roles = len(rep["roles"])
    roles_note = "" if labelled_roles == n_roles else f" ({labelled_roles} with labelled turns; `vault roles` lists all)"
    as_stats = ("as `vault stats` counts them" if not off_branch else
                f"of the {typed + off_branch} `vault stats` counts: "
                + ("1 on an abandoned branch is not mined" if off_branch == 1 else
                   f"{off_branch} on abandoned branches are not mined"))
    c.print(f"the vault holds {counted(total, 'labelled turn')} "
            f"({typed} typed by a person, {as_stats}, "
            f"+ {other} {'interrupt or tool rejection' if other == 1 else 'interrupts and tool rejections'}), "
            f"{counted(corr, 'correction', style='bold')}, {counted(pairs.get('pairs', 0), 'preference pair')} "
            f"({pairs.get('kept', 0)} pass the filters); {counted(n_roles, 'role')}{roles_note}. "
            "Next: `vault stats --corrections`, `vault pairs`, `vault personas`.")
    # the LLM's price: the backend's own plan for 1,894 labelled turns, $2.32 with haiku (docs/mining.md, RULE32)
    if (q := rep.get("on_new_people")) and corr:
        c.print(f"{esc(q['version'])} is not yet reliable on a new person: on {q['people']} people it never saw, "
                f"{q['precision']:.0%} of the turns it called corrections were corrections and it found "
                f"{q['recall']:.0%} of theirs. Check yours in `vault tui` (review) or measure it on your own labels "
                "with `vault eval`; `vault mine --fit` then adapts it to them. Opt-in, `vault mine --backend anthropic "
                "--redo` asks Claude instead (the turns leave the machine, redacted; roughly $1.3 per 1,000 turns with "
                "claude-haiku-4-5): docs/llm.md says how well it reads.")


@click.command("turns")
@click.option("--session", help="Only this session (id or prefix).")
@click.option("--label", "label", help="Only this label.")
@click.option("--role", help="Only sessions of this role.")
@click.option("--limit", "-n", type=LIMIT, help="At most this many turns.")
@json_option
@click.pass_context
def turns_cmd(ctx, session: str | None, label: str | None, role: str | None, limit: int | None,
              as_json: bool) -> None:
    """Print the labelled human turns (JSONL with --json, as in the contract)."""
    from miner.classify.base import LABELS
    from miner.turns import labelled_turns
    from vault.cli.unmatched import print_notes, unmatched_filters

    if label is not None and label not in LABELS:  # (it matched nothing, and said nothing)
        raise usage_error(f"--label: unknown label {label!r}; one of {', '.join(LABELS)}")
    with open_db(ctx, read_only=True) as con:
        out = labelled_turns(con, session=session, label=label, role=role, limit=limit)
        notes = [] if out else unmatched_filters(ctx, con, session=session, role=role, assigned=True)
    if as_json:
        emit_jsonl(out)
        print_notes(notes)
        return
    from rich.table import Table

    t = Table(show_lines=False)
    for col in ("session", "label", "conf", "text"):
        t.add_column(col, overflow="fold" if col == "text" else "ellipsis", no_wrap=col != "text")
    for r in out:
        t.add_row(esc(r["session_id"][:12]), esc(r["label"]), f"{r.get('confidence', 1.0):.2f}",
                  esc(" ".join(r["text"].split())[:160]))
    stdout_console().print(t)
    print_notes(notes)


@click.command("eval")
@click.argument("labels_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--keep/--no-keep", default=True, show_default=True,
              help="Keep the labels in the vault as your training data for `vault mine --fit`.")
@json_option
@click.pass_context
def eval_cmd(ctx, labels_file: str, keep: bool, as_json: bool) -> None:
    """Measure the mined labels against hand labels ({"msg_id", "label"} per line)."""
    from miner.evaluate import evaluate, keep_labels
    from vault.cli.views.evaluation import print_evaluation

    with open_db(ctx, read_only=not keep) as con:
        rep = evaluate(con, labels_file)
        if keep:
            rep["kept_for_fit"] = keep_labels(con, labels_file)
    if as_json:
        emit_json(rep)
    else:
        print_evaluation(stdout_console(), rep)
