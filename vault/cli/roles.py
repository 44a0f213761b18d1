"""`vault roles`: the role rules, and the sessions, human turns and corrections per role."""

from __future__ import annotations

import click

from vault.cli.common import emit_json, esc, json_option, open_db, redactor, settings, stdout_console


def _short(rule: str) -> str:
    if rule.startswith("inherited"):
        return "parent"
    if rule.startswith("roles["):
        return "rule " + rule[6:rule.index("]")]
    return rule.removeprefix("default: ")


@click.command("roles")
@json_option
@click.pass_context
def roles_cmd(ctx, as_json: bool) -> None:
    """Show the role rules (config file) and assign roles: sessions, turns and corrections per role."""
    from miner.roles import load_rules
    from miner.tables import assign_roles, role_summary

    conf = settings(ctx)
    path = conf.config
    rules = load_rules(conf)
    with open_db(ctx) as con:
        assign_roles(con, rules)
        summary = role_summary(con)
    out = redactor(ctx).redact_obj({"config": str(path), "config_exists": path.exists(),
                                    "rules": [r.as_dict() for r in rules], "roles": summary})
    if as_json:
        emit_json(out)
        return
    from rich.table import Table

    c = stdout_console()
    if rules:
        c.print(f"[bold]Role rules[/] from {esc(conf.origin('roles'))} (first match wins):")
        for r in rules:
            c.print(f"  {r.index}. [bold]{esc(r.name)}[/] ← {esc(r.describe().split(': ', 1)[1])}", highlight=False)
    else:
        c.print(f"No role rules ({esc(path)} {esc('has no [[roles]]') if path.exists() else 'does not exist'}): "
                "each session's role is its project (a git worktree's: its repository's), else its source. See docs/analytics.md.")
    c.print("[dim]Subagent sessions take a matching agent_type rule, else their parent's role.[/]")
    if not summary:
        c.print("No sessions in the vault yet: `vault ingest` first.")
        return
    t = Table(title="roles", header_style="bold")
    for col in ("role", "sessions", "subagents", "typed", "labelled", "corrections", "by"):
        t.add_column(col, justify="left" if col in ("role", "by") else "right")
    for r in summary:
        t.add_row(esc(r["role"]), str(r["sessions"]), str(r["subagent_sessions"]), str(r["human_turns"]),
                  str(r["labelled_turns"]), str(r["corrections"]) if r["labelled_turns"] else "-",
                  esc(", ".join(sorted({_short(x) for x in r["rules"]}))))
    c.print(t)
    if not any(r["labelled_turns"] for r in summary):
        c.print("[dim]No labels yet: run `vault mine` for corrections per role.[/]")
