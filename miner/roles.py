"""Roles: which hat the person wore in a session (a project, a kind of work, a subagent type).

A role groups sessions for the correction analytics, the pairs and the personas.
Default: the session's project (from its cwd), else its source. Rules in the TOML
config (the `roles` setting, vault/settings.py; `vault config` shows which file) assign
roles explicitly; the first rule that matches wins:

    [[roles]]
    name = "docs-writer"
    project = "docs-*"                  # glob on sessions.project
    [[roles]]
    name = "api"
    cwd = ["/home/*/work/api*", "/srv/api"]   # a glob, or a list of globs (any)
    [[roles]]
    name = "explorer"
    agent_type = "Explore"              # subagent type
    [[roles]]
    name = "chat"
    source = "chatgpt"                  # also: user_id (glob), first_prompt (regex, searched)

Without a matching rule the role is the session's repository: a git worktree belongs to its
repository (`~/projects/spotter-worktrees/spotter-gqc` -> `spotter`, `repo/.worktrees/x` -> `repo`), and a
session started in a subfolder of another session's folder takes that folder's role; else the project,
else the source.

Keys in one rule must all match. Subagent sessions: a rule naming `agent_type`
that matches wins; otherwise a subagent inherits its parent's role (its prompts
come from the parent agent, so it serves the parent's work); a subagent whose
parent is not in the vault is matched like any session.

Matching runs as one SQL statement over all sessions (DuckDB GLOB and RE2
`regexp_matches`); inheritance is resolved in Python over the same rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from vault.redact import anonymous_name
from vault.settings import ConfigError, Settings

GLOB_KEYS = ("project", "cwd", "agent_type", "source", "user_id")
REGEX_KEYS = ("first_prompt",)
MATCH_KEYS = GLOB_KEYS + REGEX_KEYS


class RolesConfigError(ConfigError):
    """The roles config cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Rule:
    name: str
    match: tuple[tuple[str, tuple[str, ...]], ...]  # (key, patterns) pairs; patterns OR, keys AND
    index: int = 0  # 1-based position in the config file

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.match)

    def describe(self) -> str:
        parts = []
        for k, pats in self.match:
            v = pats[0] if len(pats) == 1 else list(pats)
            parts.append(f"{k}={v!r}" if isinstance(v, list) else f'{k}="{v}"')
        return f"roles[{self.index}]: " + " ".join(parts)

    def as_dict(self) -> dict:
        return {"index": self.index, "name": self.name,
                **{k: (list(p) if len(p) > 1 else p[0]) for k, p in self.match}}

    def sql(self) -> tuple[str, list[str]]:
        """A boolean SQL condition over `sessions` columns, with its parameters."""
        conds, params = [], []
        for key, pats in self.match:
            op = "regexp_matches({col}, ?)" if key in REGEX_KEYS else "{col} GLOB ?"
            alts = [op.format(col=f"coalesce({key}, '')") for _ in pats]
            conds.append("(" + " OR ".join(alts) + ")")
            params += list(pats)
        return " AND ".join(conds), params


def _bad(path: Path | str, where: str, why: str) -> RolesConfigError:
    return RolesConfigError(f"{path}: {where}: {why}")


def parse_rules(data: dict, path: Path | str = "<config>") -> list[Rule]:
    """Rules from an already parsed TOML document (its `roles` array of tables)."""
    entries = data.get("roles", [])
    if not isinstance(entries, list):
        raise _bad(path, "roles", "must be an array of tables ([[roles]] entries)")
    rules = []
    for i, e in enumerate(entries, 1):
        where = f"[[roles]] entry {i}"
        if not isinstance(e, dict):
            raise _bad(path, where, "must be a table with `name` and match keys")
        name = e.get("name")
        if not isinstance(name, str) or not name.strip():
            raise _bad(path, where, "needs a non-empty string `name`")
        where += f" ({name!r})"
        unknown = sorted(set(e) - {"name", *MATCH_KEYS})
        if unknown:
            raise _bad(path, where, f"unknown key(s) {', '.join(unknown)}; allowed: name, {', '.join(MATCH_KEYS)}")
        match = []
        for key in MATCH_KEYS:
            if key not in e:
                continue
            v = e[key]
            pats = (v,) if isinstance(v, str) else tuple(v) if isinstance(v, list) else None
            if not pats or not all(isinstance(p, str) and p for p in pats):
                raise _bad(path, where, f"`{key}` must be a non-empty string or a list of them")
            if key in REGEX_KEYS:
                for p in pats:
                    _check_regex(p, path, where, key)
            match.append((key, pats))
        if not match:
            raise _bad(path, where, f"matches nothing: give at least one of {', '.join(MATCH_KEYS)}")
        rules.append(Rule(name=name.strip(), match=tuple(match), index=i))
    return rules


def _check_regex(p: str, path, where: str, key: str) -> None:
    # Matching runs in DuckDB (RE2): reject what RE2 cannot compile, e.g. look-behind.
    try:
        re.compile(p)
        duckdb.connect().execute("SELECT regexp_matches('', ?)", [p]).fetchone()
    except (re.error, duckdb.Error) as e:
        msg = str(e).splitlines()[0]
        raise _bad(path, where, f"`{key}` is not a valid regular expression {p!r}: {msg}") from None


def load_rules(source: Settings | str | Path | None = None) -> list[Rule]:
    """The rules of the `roles` setting: of `source` (the settings a command was given), of the config file at
    the path `source` (which must exist), or of the settings read afresh (None; an absent default file: none).
    """
    if not isinstance(source, Settings):
        from vault.settings import load

        source = load(None if source is None else {"config": ("load_rules()", str(source))})
    return parse_rules({"roles": source.roles}, str(source.origin("roles")))


# A folder holding a repository's worktrees: "spotter-worktrees", "app.worktrees", "repo_wt".
_WORKTREES_DIR = re.compile(r"^(?P<repo>.+?)[-_.](?:worktrees?|wt)$", re.I)


def _parts(path: str) -> list[str]:
    return [p for p in path.replace("\\", "/").split("/") if p]


def worktree_repository(cwd: str | None) -> str | None:
    """The repository a worktree folder belongs to; None when it is not one.

    On this machine, a `.git` file in the folder or above that points to `<main>/.git/worktrees/<name>`
    names it whatever the layout; otherwise the path alone.
    """
    if cwd and Path(cwd).is_absolute() and (repo := _repository_on_disk(Path(cwd))):
        return repo
    parts = _parts(cwd or "")
    for i, part in enumerate(parts[:-1]):  # the worktree itself comes after its container
        if m := _WORKTREES_DIR.match(part):
            return m["repo"]
        if part.lower() in ("worktrees", ".worktrees") and i > 0:
            j = i - 1 if parts[i - 1] not in (".git", ".claude") else i - 2
            if j >= 0:
                return parts[j]
    return None


_GITDIR = re.compile(r"gitdir:\s*(?P<dir>.+)")


def _repository_on_disk(start: Path) -> str | None:
    """The main checkout's folder name of the git worktree holding `start` (its `.git` file says), else None."""
    try:
        for d in (start, *start.parents):
            git = d / ".git"
            if git.is_dir():
                return None  # a main checkout, or inside one
            if git.is_file():
                m = _GITDIR.match(git.read_text(encoding="utf-8", errors="replace")[:4096].strip())
                gitdir = Path(m["dir"].strip()) if m else None
                if gitdir is None:
                    return None
                gitdir = gitdir if gitdir.is_absolute() else d / gitdir
                if gitdir.parent.name == "worktrees" and gitdir.parent.parent.name == ".git":
                    return gitdir.parent.parent.parent.name
                return None
    except OSError:
        return None
    return None


def repository_roles(cwds: dict[str, str | None], projects: dict[str, str | None]) -> dict[str, tuple[str, str]]:
    """session -> (role, why) for sessions whose folder says which repository they belong to.

    A worktree gives its repository; a folder inside another session's folder gives that session's
    repository (or project), so `spotter-fum/assets` is `spotter` too.
    """
    by_dir: dict[tuple[str, ...], str] = {}
    for sid, cwd in cwds.items():
        if cwd:
            by_dir.setdefault(tuple(_parts(cwd)), sid)
    out: dict[str, tuple[str, str]] = {}
    for sid, cwd in cwds.items():
        parts = tuple(_parts(cwd or ""))
        if not parts:
            continue
        # the outermost folder of another session that contains this one, else this one
        outer = next((by_dir[parts[:k]] for k in range(1, len(parts)) if parts[:k] in by_dir), None)
        base = cwds[outer] if outer else cwd
        if repo := worktree_repository(base):
            out[sid] = (repo, "default: repository (git worktree)")
        elif outer and projects.get(outer):
            out[sid] = (projects[outer], "default: project of the enclosing folder")
    return out


def compute_roles(con: duckdb.DuckDBPyConnection, rules: list[Rule]) -> list[tuple[str, str, str]]:
    """(session_id, role_name, rule) for every session, without writing anything."""
    def first_match(rs: list[Rule]) -> tuple[str, list[str]]:
        if not rs:
            return "NULL", []
        whens, params = [], []
        for r in rs:
            cond, p = r.sql()
            whens.append(f"WHEN {cond} THEN {r.index}")
            params += p
        return "CASE " + " ".join(whens) + " END", params

    any_sql, any_params = first_match(rules)
    agent_sql, agent_params = first_match([r for r in rules if "agent_type" in r.keys])
    rows = con.execute(
        f"""
        SELECT session_id, parent_session_id, {any_sql} AS any_rule, {agent_sql} AS agent_rule,
               project, source, cwd
        FROM sessions
        """,
        any_params + agent_params,
    ).fetchall()
    by_index = {r.index: r for r in rules}
    info = {sid: (parent, a, g, proj, src) for sid, parent, a, g, proj, src, _ in rows}
    repos = repository_roles({r[0]: r[6] for r in rows}, {r[0]: r[4] for r in rows})
    out: dict[str, tuple[str, str]] = {}

    def resolve(sid: str, depth: int = 0) -> tuple[str, str]:
        if sid in out:
            return out[sid]
        parent, any_rule, agent_rule, project, source = info[sid]
        if parent is not None and agent_rule is not None:
            r = by_index[agent_rule]
            res = (r.name, r.describe())
        elif parent is not None and parent in info and parent != sid and depth < 16:
            pname, prule = resolve(parent, depth + 1)
            res = (pname, "inherited from parent: " + prule.removeprefix("inherited from parent: "))
        elif any_rule is not None:
            r = by_index[any_rule]
            res = (r.name, r.describe())
        elif sid in repos:  # named so that no home folder or user name shows
            res = (anonymous_name(repos[sid][0]), repos[sid][1])
        elif project:  # the cwd's last part, named so that no home folder or user name shows
            res = (anonymous_name(project), "default: project")
        else:
            res = (source, "default: source")
        out[sid] = res
        return res

    return [(sid, *resolve(sid)) for sid in info]

