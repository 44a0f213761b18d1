"""`vault pairs`, `vault personas`, `vault export`: preference pairs, personas and training datasets."""

from __future__ import annotations

import click

from miner.export import FORMATS, formats  # the table of formats: a new one needs no CLI change
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


def _pair_rows(con, include_all: bool, limit: int | None, role: str | None, method: str | None) -> list[dict]:
    """Pairs as CONTRACTS.md `vault pairs --json` objects (+ filters, feedback, review decision)."""
    from miner.tables import load_pairs, persona_texts

    personas = persona_texts(con)
    keys = ("pair_id", "session_id", "role_name", "feedback_msg_id", "prompt", "chosen", "rejected")
    return [{**{k: p[k] for k in keys}, "persona": personas.get(p["role_name"]), "method": p["method"],
             "feedback": p["feedback"], "rejected_msg_id": p["rejected_msg_id"], "chosen_msg_id": p["chosen_msg_id"],
             "filters_passed": p["filters_passed"], "filters_failed": p["filters_failed"], "kept": p["kept"],
             "review": p["review"].verdict, "edited": p["review"].edited}
            for p in load_pairs(con, kept_only=not include_all, role=role, method=method, limit=limit)]


def _paid(ctx, con, as_json: bool, prompt_version: str, model, batch, yes, max_cost, **llm_opts) -> dict:
    """{llm, yes, confirm} for an LLM call ([llm] settings: Anthropic or an OpenAI-compatible endpoint);
    redaction, cost estimate, consent and cache live in miner.llm."""
    from miner.llm import make_llm

    llm = make_llm(con, settings(ctx).llm, prompt_version=prompt_version, batch=batch, max_cost=max_cost,
                   progress=stderr_console().print, redactor=redactor(ctx), **({"model": model} if model else {}),
                   **llm_opts)
    return {"llm": llm, "yes": yes, "confirm": confirm_paid_plan(as_json)}


def _filter_options(min_chars, max_chars, near_identical) -> dict:
    opts = {"min_chars": min_chars, "max_chars": max_chars, "near_identical": near_identical}
    return {k: v for k, v in opts.items() if v is not None}


@click.command("pairs")
@json_option
@click.option("--all", "include_all", is_flag=True, help="Include pairs the quality filters removed.")
@click.option("--limit", type=LIMIT, default=None, help="Print at most N pairs.")
@click.option("--role", default=None, help="Only this role's pairs.")
@click.option("--method", default=None, help="Only pairs made this way (next_attempt, ...).")
@click.option("--no-rebuild", is_flag=True, help="Print the stored pairs without rebuilding them from the labels.")
@click.option("--prompt-chars", type=int, default=None, help="Context budget of a pair's prompt (characters).")
@click.option("--min-chars", type=int, default=None, help="too_short: chosen/rejected shorter than this.")
@click.option("--max-chars", type=int, default=None, help="too_long: chosen/rejected longer than this.")
@click.option("--near-identical", type=float, default=None, help="near_identical: similarity ratio above this.")
@click.option("--rewrite", is_flag=True,
              help="Also ask Claude to rewrite each rejected answer following the feedback (paid, opt-in).")
@click.option("--max-tokens", type=click.IntRange(16, 8000), default=None,
              help="--rewrite: at most this many output tokens a rewrite (default: about the rejected answer's "
                   "length, at most 2000); with --prompt-chars, what makes a small local model fast enough.")
@paid_options
@click.pass_context
def pairs_cmd(ctx, as_json, include_all, limit, role, method, no_rebuild, prompt_chars, min_chars, max_chars,
              near_identical, rewrite, max_tokens, model, batch, yes, max_cost) -> None:
    """Build preference pairs from the mined corrections and print them (JSONL with --json)."""
    from miner.pairs import METHODS, PROMPT_CHARS, REWRITE_PROMPT_VERSION, build_pairs
    from miner.roles import load_rules
    from miner.tables import count_pairs
    from vault.cli.unmatched import print_notes, unmatched_filters

    with open_db(ctx, read_only=no_rebuild) as con:
        report = None
        if not no_rebuild:
            paid = {}
            if rewrite:
                paid = {"method": METHODS + ("rewrite",),
                        **_paid(ctx, con, as_json, REWRITE_PROMPT_VERSION, model, batch, yes, max_cost,
                                max_tokens=max_tokens or 2000, expected_output_tokens=400)}
            had = count_pairs(con, method="rewrite")
            report = build_pairs(con, prompt_chars=prompt_chars or PROMPT_CHARS, rules=load_rules(settings(ctx)),
                                 **paid, **_filter_options(min_chars, max_chars, near_identical))
            if had and not rewrite:
                stderr_console().print(f"{had} rewrite pairs were dropped: `vault pairs --rewrite` brings them "
                                       "back from the cache at no cost.")
        rows = redactor(ctx).redact_obj(_pair_rows(con, include_all, limit, role, method))  # what leaves the vault
        notes = [] if rows else unmatched_filters(ctx, con, role=role)
    if as_json:
        emit_jsonl(rows)
    else:
        _print_pairs(rows, report, include_all)
    print_notes(notes)


def _print_pairs(rows: list[dict], report: dict | None, include_all: bool) -> None:
    from rich.panel import Panel
    from rich.text import Text

    c = stdout_console()
    if report:
        failed = ", ".join(f"{k} {v}" for k, v in report["filters_failed"].items() if v) or "none"
        c.print(f"{counted(report['pairs'], 'pair', style='bold')} "
                f"from {counted(report['corrections'], 'correction')}, "
                f"[bold green]{report['kept']}[/] kept; filtered: {failed}; "
                f"skipped: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in report["skipped"].items() if v),
                highlight=False)
        if not report["corrections"]:
            c.print("No corrections labelled yet: run `vault mine` first.")
    if not rows:
        c.print("No pairs to show" + ("" if include_all else " (--all shows the filtered-out ones)") + ".")
        return

    def clip(s: str, n: int = 600) -> str:
        return s if len(s) <= n else s[:n] + " …"

    for r in rows:
        t = Text()
        t.append("request  ", "bold")
        t.append(clip(r["prompt"][-1]["content"] if r["prompt"] else "", 300) + "\n")
        t.append("rejected ", "bold red")
        t.append(clip(r["rejected"][0]["content"]) + "\n")
        t.append("feedback ", "bold yellow")
        t.append(clip(r["feedback"] or "", 300) + "\n")
        t.append("chosen   ", "bold green")
        t.append(clip(r["chosen"][0]["content"]))
        status = "kept" if r["kept"] else "filtered: " + ", ".join(r["filters_failed"])
        review = f" · review: {r['review']}" if r["review"] else ""
        c.print(Panel(t, title=esc(f"{r['pair_id']} · {r['role_name']} · {r['method']}"),
                      subtitle=esc(f"{status}{review}"), title_align="left", subtitle_align="right"))


@click.command("personas")
@click.argument("role", required=False)
@json_option
@click.option("--format", "fmt", type=click.Choice(["text", "claude-md"]), default="text",
              help="claude-md: rules to paste into CLAUDE.md / AGENTS.md.")
@click.option("--rebuild", is_flag=True, help="Recompute the personas from the corrections (edited ones are kept).")
@click.option("--threshold", type=float, default=None, help="offline: cosine similarity for merging clusters.")
@click.option("--backend", type=click.Choice(["offline", "anthropic"]), default="offline", show_default=True,
              help="offline: cluster the feedback locally; anthropic: Claude summarises it (paid, opt-in).")
@paid_options
@click.pass_context
def personas_cmd(ctx, role, as_json, fmt, rebuild, threshold, backend, model, batch, yes, max_cost) -> None:
    """Show each role's persona: the standing preferences stated by its corrections."""
    from miner.personas import PERSONA_PROMPT_VERSION, THRESHOLD, build_personas, claude_md
    from miner.roles import load_rules
    from miner.tables import count_corrections, load_personas
    from vault.cli.unmatched import unknown_role

    with open_db(ctx) as con:
        missing = unknown_role(ctx, con, role)  # a typo is said before any model loads
        if missing:
            raise click.ClickException(f"role {missing}")
        # The cheap check first: without a labelled correction there is nothing to distil (and no model to load).
        has_corrections = count_corrections(con) > 0
        if has_corrections and (rebuild or backend != "offline" or not load_personas(con, role)):
            paid = {}
            if backend == "anthropic":
                paid = _paid(ctx, con, as_json, PERSONA_PROMPT_VERSION, model, batch, yes, max_cost, max_tokens=1500,
                             expected_output_tokens=300)
            elif not as_json and fmt == "text":
                stderr_console().print("[dim]Building personas (loads the embedding model)...[/]")
            build_personas(con, backend=backend, role=role, threshold=THRESHOLD if threshold is None else threshold,
                           embed_model=settings(ctx).embed.model, rules=load_rules(settings(ctx)), **paid)
        personas = redactor(ctx).redact_obj(load_personas(con, role))  # every format: text, --json, claude-md
    if role and not personas:
        raise click.ClickException(f"no persona for role {role!r}: it has no corrections (see `vault roles`)")
    if as_json:
        emit_json(personas)
        return
    if fmt == "claude-md":
        click.echo("\n".join(claude_md(p) for p in personas if p["rules"] or p["text"]), nl=False)
        return
    c = stdout_console()
    if not personas:
        c.print("No personas: no corrections labelled yet (run `vault mine`).")
    for p in personas:
        c.print(f"[bold]{esc(p['role_name'])}[/]" + (" [dim](edited)[/]" if p["edited"] else ""))
        for r in [] if p["edited"] else p["rules"]:
            c.print(f"  - {esc(r['rule'])} [dim](support {r['support']}: {esc(', '.join(r['examples'][:3]))})[/]",
                    highlight=False)
        if p["edited"] or not p["rules"]:
            c.print(f"  {esc(p['text'] or '(no rules)')}")


def _check_out_dir(out_dir: str) -> None:
    """Refuse a folder whose README.md is not a dataset card of ours (a project folder, `--out .`)."""
    from pathlib import Path

    if not out_dir.strip():
        raise usage_error("--out: give a folder for the dataset (e.g. --out export-trl)")
    readme = Path(out_dir) / "README.md"
    if readme.is_file():
        head = readme.read_text(encoding="utf-8", errors="replace")[:300]
        if "pretty_name: vault preference pairs" not in head:
            raise usage_error(f"--out: {out_dir} holds a README.md that is not a vault dataset card; the export "
                              "would overwrite it. Choose a new or empty folder")


def _make_out_dir(out_dir: str) -> None:
    """The output folder made before any work (once the vault is open: a busy vault leaves no folder behind); one
    that cannot be made is the user's to fix, one line, not an internal error. Made private (0700, the parents it
    makes too), as the export would make it: what leaves the vault is the user's alone."""
    from vault.private import private_dir

    try:
        private_dir(out_dir)
    except OSError as e:
        raise usage_error(f"--out: cannot create the folder {out_dir}: {e.strerror or e}") from None


@click.command("export")
@click.option("--format", "fmt", required=True,
              type=PluginChoice(FORMATS, formats), help="Dataset format.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the train/test split by session.")
@click.option("--test-fraction", type=float, default=0.2, show_default=True, help="Share of sessions held out.")
@click.option("--no-persona", is_flag=True, help="Leave the role persona out of the prompts.")
@click.option("--no-redact", is_flag=True, help="Do NOT redact secrets, e-mails, home paths (explicit opt-out).")
@click.option("--reviewed-only", is_flag=True, help="Only pairs accepted in review.")
@click.option("--parquet", is_flag=True, help="Also write train/test.parquet.")
@click.option("--hf", is_flag=True, help="Also write a Hugging Face datasets folder (save_to_disk) in OUT/hf.")
@click.option("--role", default=None, help="Only this role's pairs.")
@json_option
@click.pass_context
def export_cmd(ctx, fmt, out_dir, seed, test_fraction, no_persona, no_redact, reviewed_only, parquet, hf, role,
               as_json) -> None:
    """Export preference pairs for training (TRL, LLaMA-Factory, axolotl, OpenAI, ShareGPT)."""
    from miner.export import export
    from miner.pairs import build_pairs
    from miner.personas import build_personas
    from miner.roles import load_rules
    from miner.tables import count_pairs, load_personas
    from vault.cli.unmatched import print_notes, unmatched_filters

    _check_out_dir(out_dir)
    with open_db(ctx) as con:
        _make_out_dir(out_dir)
        rules = load_rules(settings(ctx))
        if not count_pairs(con):
            build_pairs(con, rules=rules)
        if not no_persona and not load_personas(con):
            build_personas(con, embed_model=settings(ctx).embed.model, rules=rules)
        try:
            rep = export(con, fmt, out_dir, seed=seed, test_fraction=test_fraction, persona=not no_persona,
                         redact=not no_redact, reviewed_only=reviewed_only, parquet=parquet, hf=hf, role=role,
                         redactor=None if no_redact else redactor(ctx))
        except (ValueError, RuntimeError) as e:
            raise click.ClickException(str(e)) from None
        except OSError as e:  # a full disk, a read-only file system, a file in the folder one may not replace
            raise click.ClickException(f"--out: cannot write {e.filename or out_dir}: {e.strerror or e}") from None
        notes = [] if sum(rep["counts"].values()) else unmatched_filters(ctx, con, role=role)
    if as_json:
        emit_json(rep)
        print_notes(notes)
        return
    c = stdout_console()
    c.print(f"Wrote [bold]{rep['counts']['train']}[/] train and [bold]{rep['counts']['test']}[/] test pairs "
            f"({rep['format']}) to {esc(rep['out'])}: {esc(', '.join(rep['files']))}", highlight=False)
    if not rep["redacted"]:
        c.print("[bold red]Not redacted[/]: the files may hold secrets and personal details.")
    if not sum(rep["counts"].values()):
        c.print("No pairs to export: run `vault mine`, then `vault pairs` to see why.")
    print_notes(notes)
