"""Export preference pairs as datasets that training tools load directly.

One mechanism: select the pairs (filters + reviews), add the persona, redact, split by session,
then hand each pair to the format's row adapter (`FORMATS`, or a format another package registers under the
`vault.exports` entry point group: `formats()`) and write `train.jsonl` /
`test.jsonl` (+ parquet, + a `datasets.save_to_disk` folder), extra files (LLaMA-Factory's
`dataset_info.json`) and a dataset card `README.md`.

Privacy: every string of every pair (messages, feedback, persona, role name) and of the report
(which the card and `--json` show) goes through `vault.redact.Redactor.redact_obj` before anything
is written; the files are created 0600 in a 0700 folder (`vault.private`), whatever the umask.

Selection: a pair is exported when it passed every filter (`kept`), or a person accepted it in
review; a review `reject` always excludes it; an `edit` review replaces the chosen text (and
counts as accepted). `reviewed_only` exports accepted pairs only.
"""

from __future__ import annotations

import functools
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from miner.filters import FILTER_DOCS, FILTER_NAMES
from miner.tables import load_pairs

SPLITS = ("train", "test")


# --- format adapters: one canonical pair (TRL conversational) -> one row ------------------

SHAREGPT_FROM = {"system": "system", "user": "human", "assistant": "gpt"}


def _sharegpt(msgs: list[dict]) -> list[dict]:
    return [{"from": SHAREGPT_FROM[m["role"]], "value": m["content"]} for m in msgs]


def _split_system(pair: dict) -> tuple[str | None, list[dict]]:
    p = pair["prompt"]
    return (p[0]["content"], p[1:]) if p and p[0]["role"] == "system" else (None, p)


def trl_row(pair: dict) -> dict:
    return pair  # the canonical form: prompt/chosen/rejected message lists + metadata


def llamafactory_row(pair: dict) -> dict:
    system, msgs = _split_system(pair)
    row = {"conversations": _sharegpt(msgs), "chosen": _sharegpt(pair["chosen"])[0],
           "rejected": _sharegpt(pair["rejected"])[0], "system": system or ""}
    return row | _meta(pair)


def axolotl_row(pair: dict) -> dict:
    # axolotl `type: chat_template.default` (rl: dpo): messages + chosen/rejected messages.
    return {"messages": pair["prompt"], "chosen": pair["chosen"][0], "rejected": pair["rejected"][0]} | _meta(pair)


def openai_row(pair: dict) -> dict:
    # OpenAI preference fine-tuning (DPO) JSONL; extra keys would be rejected by the API.
    return {"input": {"messages": pair["prompt"], "tools": [], "parallel_tool_calls": True},
            "preferred_output": pair["chosen"], "non_preferred_output": pair["rejected"]}


def sharegpt_row(pair: dict) -> dict:
    # Plain ShareGPT (SFT): the conversation continued with the chosen answer.
    return {"conversations": _sharegpt(pair["prompt"] + pair["chosen"])} | _meta(pair)


def _meta(pair: dict) -> dict:
    return {k: pair[k] for k in ("pair_id", "session_id", "role_name", "method")}


def llamafactory_info(out: Path, counts: dict[str, int]) -> list[str]:
    """dataset_info.json: one entry per split file, ShareGPT preference format (ranking)."""
    entry = {"formatting": "sharegpt", "ranking": True,
             "columns": {"messages": "conversations", "chosen": "chosen", "rejected": "rejected", "system": "system"},
             "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
                      "system_tag": "system"}}
    info = {f"vault_pairs_{s}": {"file_name": f"{s}.jsonl", **entry} for s in SPLITS if counts.get(s)}
    (out / "dataset_info.json").write_text(json.dumps(info, indent=2) + "\n")
    return ["dataset_info.json"]


def axolotl_config(out: Path, counts: dict[str, int]) -> list[str]:
    # A relative path: an absolute one would put the user's home folder in the file.
    (out / "axolotl.yaml").write_text(
        "# Merge into your axolotl config (DPO on this export). The path is relative to this folder:\n"
        "# run axolotl from here, or write the folder's absolute path.\nrl: dpo\ndatasets:\n"
        "  - path: ./train.jsonl\n    ds_type: json\n    split: train\n"
        "    type: chat_template.default\n    field_messages: messages\n    field_chosen: chosen\n"
        "    field_rejected: rejected\n    message_property_mappings:\n      role: role\n      content: content\n")
    return ["axolotl.yaml"]


@dataclass(frozen=True)
class Format:
    """An export format: `row(pair)` makes one row of train/test.jsonl from a canonical pair (`trl_row`'s input,
    already redacted); `description` is one line for the dataset card; `extra(out, counts)` writes more files
    into the folder `out` (counts: split -> pairs) and returns their names."""

    row: Callable[[dict], dict]
    description: str
    extra: Callable[[Path, dict[str, int]], list[str]] | None = None


FORMATS: dict[str, Format] = {
    "trl": Format(trl_row, "TRL conversational preference: prompt / chosen / rejected message lists"),
    "llamafactory": Format(llamafactory_row, "LLaMA-Factory ShareGPT preference (ranking) + dataset_info.json",
                           llamafactory_info),
    "axolotl": Format(axolotl_row, "axolotl DPO, type chat_template.default: messages / chosen / rejected",
                      axolotl_config),
    "openai": Format(openai_row, "OpenAI preference fine-tuning: input / preferred_output / non_preferred_output"),
    "sharegpt": Format(sharegpt_row, "ShareGPT conversations ending with the chosen answer (SFT)"),
}
ENTRY_POINT_GROUP = "vault.exports"


def formats() -> dict[str, Format]:
    """Every format: the built-ins (`FORMATS`), then the registered ones (the entry points read)."""
    return {**FORMATS, **_registered()}


def format_spec(name: str) -> Format:
    """Format `name`: a built-in without reading the entry points, else a registered one."""
    if name in FORMATS:
        return FORMATS[name]
    plugins = _registered()
    if name not in plugins:
        raise ValueError(f"unknown format {name!r}; known: {', '.join(formats())}")
    return plugins[name]


@functools.cache
def _registered() -> dict[str, Format]:
    """Formats of the `vault.exports` entry points, each named by its entry point."""
    from vault.plugins import registered

    return registered(ENTRY_POINT_GROUP, _format, FORMATS, "export", "format name")


def _format(entry: str, obj: Any) -> tuple[str, Format]:
    """`registered`'s check: a `Format`, or any object (a module, a class) with a callable `row`, a one-line
    `description` and, if any, a callable `extra`."""
    from vault.plugins import NotAPlugin

    row, description, extra = (getattr(obj, a, None) for a in ("row", "description", "extra"))
    if not (callable(row) and isinstance(description, str) and description and (extra is None or callable(extra))):
        raise NotAPlugin("is not a miner.export.Format (a callable row, a description, an optional callable extra)")
    return entry, obj if isinstance(obj, Format) else Format(row, description, extra)


# --- selection -----------------------------------------------------------------------------

def select_pairs(con: duckdb.DuckDBPyConnection, reviewed_only: bool = False,
                 role: str | None = None) -> tuple[list[dict], dict[str, Any]]:
    """The pairs to export (canonical dicts, before persona and redaction) and selection counts."""
    rows = load_pairs(con, role=role)
    stats = {"pairs": len(rows), "filtered_out": 0, "review_accepted": 0, "review_rejected": 0, "edited": 0,
             "removed_by": Counter()}
    out = []
    for p in rows:
        rv = p["review"]
        accepted = rv.accepted
        for f in p["filters_failed"]:
            stats["removed_by"][f] += 1
        if rv.verdict == "reject":
            stats["review_rejected"] += 1
            continue
        if reviewed_only and not accepted:
            continue
        if not p["kept"] and not accepted:
            stats["filtered_out"] += 1
            continue
        stats["review_accepted"] += accepted
        chosen_msgs = p["chosen"]
        if rv.edit is not None:
            stats["edited"] += 1
            chosen_msgs = [{"role": "assistant", "content": rv.edit}]
        out.append({"prompt": p["prompt"], "chosen": chosen_msgs, "rejected": p["rejected"],
                    "pair_id": p["pair_id"], "session_id": p["session_id"], "role_name": p["role_name"],
                    "persona": None, "method": p["method"], "feedback": p["feedback"], "made_by": p["made_by"]})
    stats["removed_by"] = {f: stats["removed_by"].get(f, 0) for f in FILTER_NAMES}
    return out, stats


def add_persona(pair: dict, persona: str | None) -> dict:
    if not persona:
        return pair
    return {**pair, "persona": persona, "prompt": [{"role": "system", "content": persona}, *pair["prompt"]]}


def train_personas(con: duckdb.DuckDBPyConnection, test_sessions: set[str],
                   sources: dict[str, list[str]] | None = None) -> dict[str, str]:
    """role -> persona text built from the train split only: no leakage into the test pairs.

    `sources`, when given, receives role -> the correction msg_ids the persona's rules quote.

    Each mined rule is restated from the train sessions' corrections alone (`personas.restrict_rule`: their
    own words, still in two or more sessions) or left out; a persona a person wrote or edited is used as is.
    """
    from miner.personas import persona_text, restrict_rule, rule_from_dict
    from miner.tables import load_personas

    personas = [p for p in load_personas(con) if p["text"]]
    msgs = sorted({m for p in personas for r in p["rules"] for m in (r.get("clause_msgs") or r.get("examples") or [])})
    session_of = dict(con.execute("SELECT msg_id, session_id FROM messages WHERE msg_id IN (SELECT unnest(?))",
                                  [msgs]).fetchall()) if msgs else {}
    allowed = {m for m in msgs if session_of.get(m) not in test_sessions}
    out = {}
    for p in personas:
        if p["edited"] or not p["rules"]:
            out[p["role_name"]] = p["text"]
            continue
        rules = [r for r in (restrict_rule(rule_from_dict(d), allowed, session_of) for d in p["rules"]) if r]
        if rules:
            out[p["role_name"]] = persona_text(p["role_name"], rules, p["backend"])
            if sources is not None:
                sources[p["role_name"]] = sorted({m for r in rules for m in (r.clause_msgs or r.examples)})
    return out


def split_sessions(sessions: list[str], seed: int, test_fraction: float) -> set[str]:
    """The test sessions: a seeded shuffle of the sorted ids; at least one when there are two or more."""
    ids = sorted(set(sessions))
    random.Random(seed).shuffle(ids)
    n = round(len(ids) * test_fraction)
    if test_fraction > 0 and len(ids) >= 2:
        n = min(max(n, 1), len(ids) - 1)
    return set(ids[:n])


# --- writing -------------------------------------------------------------------------------

def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def export(con: duckdb.DuckDBPyConnection, fmt: str, out_dir: str | Path, seed: int = 0,
           test_fraction: float = 0.2, persona: bool = True, redact: bool = True, reviewed_only: bool = False,
           parquet: bool = False, hf: bool = False, role: str | None = None, redactor=None) -> dict[str, Any]:
    """Write the dataset; returns a report (counts, files).

    `redactor`: a vault.redact.Redactor (the CLI's is configured by the `[redact]` settings); used when `redact`.
    """
    spec = format_spec(fmt)
    if not 0 <= test_fraction < 1:
        raise ValueError("test_fraction must be in [0, 1)")
    from vault.private import private_output

    with private_output(out_dir) as out:
        return _export(con, spec, fmt, out, seed, test_fraction, persona, redact, reviewed_only, parquet,
                       hf, role, redactor)


def _export(con, spec: Format, fmt: str, out: Path, seed, test_fraction, persona, redact, reviewed_only, parquet,
            hf, role, redactor) -> dict[str, Any]:
    pairs, stats = select_pairs(con, reviewed_only, role)
    # Personas from the train split only (no test pair's own feedback in any prompt), then every
    # field that leaves the vault redacted in one pass.
    test_ids = split_sessions([p["session_id"] for p in pairs], seed, test_fraction)
    persona_sources: dict[str, list[str]] = {}
    personas = train_personas(con, test_ids, persona_sources) if persona else {}
    if redact and redactor is None:
        from vault.redact import Redactor

        redactor = Redactor()
    keep = (lambda x: x) if not redact else redactor.redact_obj  # noqa: E731
    ready = [keep(add_persona(p, personas.get(p["role_name"]))) for p in pairs]
    splits = {"train": [p for p in ready if p["session_id"] not in test_ids],
              "test": [p for p in ready if p["session_id"] in test_ids]}
    files = []
    for s, ps in splits.items():
        rows = [spec.row(p) for p in ps]
        _write_jsonl(out / f"{s}.jsonl", rows)
        files.append(f"{s}.jsonl")
        if parquet:
            files.append(_write_parquet(out / f"{s}.parquet", rows))
    counts = {s: len(ps) for s, ps in splits.items()}
    if spec.extra:
        files += spec.extra(out, counts)
    if hf:
        files.append(_save_hf(out / "hf", {s: [spec.row(p) for p in ps] for s, ps in splits.items()}))
    report = {
        "format": fmt, "out": str(out), "counts": counts, "seed": seed, "test_fraction": test_fraction,
        "persona": persona, "personas_used": sorted({p["role_name"] for p in ready if p.get("persona")}),
        "persona_sources": persona_sources,
        "redacted": redact, "reviewed_only": reviewed_only, "role": role, "selection": stats,
        "by_role": _count(ready, "role_name"), "by_method": _count(ready, "method"),
        "by_backend": _count(ready, "made_by"),
        "sessions": {s: len({p["session_id"] for p in ps}) for s, ps in splits.items()},
        "sources": _sources(con, [p["session_id"] for p in ready]),
    }
    report = keep(report)  # the out folder, a --role filter: what the card and --json show
    (out / "README.md").write_text(dataset_card(report, spec), encoding="utf-8")
    report["files"] = [*files, "README.md"]
    return report


def _count(pairs: list[dict], key: str) -> dict[str, int]:
    return dict(sorted(Counter(str(p[key]) for p in pairs).items()))


def _sources(con: duckdb.DuckDBPyConnection, session_ids: list[str]) -> dict[str, int]:
    if not session_ids:
        return {}
    import pyarrow as pa

    con.register("_export_sessions", pa.table({"session_id": sorted(set(session_ids))}))
    try:
        return dict(con.execute("SELECT source, count(*) FROM sessions WHERE session_id IN "
                                "(SELECT session_id FROM _export_sessions) GROUP BY 1 ORDER BY 1").fetchall())
    finally:
        con.unregister("_export_sessions")


def _write_parquet(path: Path, rows: list[dict]) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)
    return path.name


def _save_hf(path: Path, splits: dict[str, list[dict]]) -> str:
    try:
        from datasets import Dataset, DatasetDict
    except ImportError as e:  # the [dev]/[train] extra
        raise RuntimeError("--hf needs the `datasets` package (pip install 'vault[train]')") from e
    DatasetDict({s: Dataset.from_list(rows) for s, rows in splits.items() if rows}).save_to_disk(str(path))
    return path.name + "/"


def dataset_card(rep: dict[str, Any], spec: Format) -> str:
    sel = rep["selection"]
    total = sum(rep["counts"].values())
    lines = [
        "---", "pretty_name: vault preference pairs",
        "size_categories: [n<1K]" if total < 1000 else "size_categories: [1K<n<10K]",
        "tags: [dpo, preference, rlhi]", "---", "",
        "# vault preference pairs", "",
        f"Preference pairs mined from the user's own assistant sessions by `vault` (RLHI-style: a correction "
        f"marks the answer before it as rejected; the answer the user then accepted is chosen). "
        f"Format **{rep['format']}**: {spec.description}.", "",
        "## Counts", "",
        f"- pairs: {total} (train {rep['counts']['train']}, test {rep['counts']['test']}); "
        f"sessions: train {rep['sessions']['train']}, test {rep['sessions']['test']}",
        "- split: by session, no session in both; seeded shuffle of session ids, "
        f"seed {rep['seed']}, test fraction {rep['test_fraction']}",
        "", "| role | pairs |", "|---|---|", *[f"| {k} | {v} |" for k, v in rep["by_role"].items()],
        "", "| method | pairs |", "|---|---|", *[f"| {k} | {v} |" for k, v in rep["by_method"].items()],
        "", "Who wrote the chosen answers (`person`: the user's own session; `anthropic:<model>` or "
        "`openai:<model>@<host>`: an LLM rewrite of the rejected answer following the feedback):", "",
        "| chosen written by | pairs |", "|---|---|", *[f"| {k} | {v} |" for k, v in rep["by_backend"].items()],
        "", "## Filters", "",
        f"{sel['pairs']} pairs mined; {sel['filtered_out']} left out by the quality filters, "
        f"{sel['review_rejected']} rejected in review, {sel['review_accepted']} accepted in review "
        f"(exported whatever the filters said), {sel['edited']} with an edited chosen answer"
        + ("; only reviewed-and-accepted pairs exported" if rep["reviewed_only"] else "") + ".",
        "", "| filter | pairs failing it | fails when |", "|---|---|---|",
        *[f"| {k} | {v} | {FILTER_DOCS.get(k, '')} |" for k, v in sel["removed_by"].items()],
        "", "A pair can fail several filters.", "",
        "## Sources", "", *([f"- {k}: {v} session(s)" for k, v in rep["sources"].items()] or ["- none"]), "",
        "## Persona", "",
        ("Each role's persona (its standing preferences, from `vault personas`) is the leading system message "
         "of the prompt and the `persona` field, built from the **train split only**: a mined rule supported by "
         "any correction of a test session is left out, so no test pair's feedback reaches a prompt (personas "
         "written or edited by a person are used as they are); roles with a persona: "
         f"{', '.join(rep['personas_used']) or 'none'}."
         if rep["persona"] else "No persona (exported with --no-persona)."),
        "", "## Redaction", "",
        ("Redacted (vault.redact): secrets (detect-secrets plus patterns for API keys, tokens, private keys, "
         "credentials in URLs) -> `[REDACTED:<type>]`, e-mail addresses -> `[EMAIL]`, phone numbers -> `[PHONE]`, "
         "IPv4 addresses -> `[IP]`, home paths -> `~`, user names -> `[USER]`, in every string. Names of people "
         "and other personal details are not detected: review before publishing (docs/privacy.md in vault)."
         if rep["redacted"] else "**Not redacted** (exported with --no-redact): the data may hold secrets and "
         "personal details. Do not share it."),
        "",
    ]
    if rep["role"]:
        lines.insert(lines.index("## Counts") + 2, f"- role: {rep['role']} only")
    return "\n".join(lines)
