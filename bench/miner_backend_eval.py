"""Any classifier backend on labelled people, through the backend's own `label()`: correction P / R per set.

    python bench/miner_backend_eval.py --set judge=FOLDER             # the learned backend (the shipped model)
    python bench/miner_backend_eval.py --set wild-dev=labels-wild-dev.jsonl --backend anthropic --plan
        # what the LLM backend would send and cost: nothing is sent
    python bench/miner_backend_eval.py --set ... --backend anthropic --dump-requests REQ.jsonl
        # the requests not answered yet (redacted, as they would leave the machine), one JSON line each
    python bench/miner_backend_eval.py --set ... --backend anthropic --vault V --answers ANS.jsonl
        # answers given elsewhere ({"key", "label", "confidence", "reason"} a line) replayed through the backend's
        # answer cache: the backend runs unchanged and sends nothing
    ANTHROPIC_API_KEY=... python bench/miner_backend_eval.py --set ... --backend anthropic --yes --max-cost 5
        # the real thing (network; the cost is shown first; answers cached in --vault, a re-run pays nothing)
    VAULT_LLM_BACKEND=openai VAULT_LLM_BASE_URL=http://127.0.0.1:8080/v1 python bench/miner_backend_eval.py --set ... \
        --backend anthropic --llm-settings      # the same prompt through any OpenAI-compatible endpoint (docs/llm.md)

A set is a shared corpora dev label file (`labels-wild-dev.jsonl`, read from --corpora and ingested into a scratch
vault, as bench/miner_cv.py reads it) or a folder or file of the repository's external label files (their turns are
in the lines). A person is a source repository. Figures: correction precision / recall (F1) and tp / fp / fn, per set
and per person, the F1's 90% interval from resampling people; `--compare learned` adds another backend on the same
turns and the F1 change with its interval. The learned backend is in-sample on its own training people (the dev
labels, data/labels/, not-in-model/): their honest figure is bench/miner_cv.py's leave-one-author-out.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from _common import offline_one_thread  # noqa: E402

offline_one_thread()


def read_set(spec: str, corpora: Path, work: Path) -> list:
    """The examples of one set: a dev label file of the corpora, or external label files (a folder or a file)."""
    from miner.classify.dataset import EXTERNAL_GLOB, corpus_examples, read_external

    path = Path(spec)
    if not path.exists() and (corpora / spec).is_file():
        return corpus_examples(corpora, work, [spec])
    if path.is_dir():
        return [e for f in sorted(path.glob(EXTERNAL_GLOB)) for e in read_external(f)]
    if path.is_file():
        return read_external(path)
    raise SystemExit(f"--set {spec}: no such label file or folder (nor {corpora / spec})")


def figure(c: dict[str, list[int]], draws: int = 2000) -> dict:
    """Pooled P / R / F1 and the F1's 5th and 95th percentiles over resamplings of the people (seeded)."""
    import numpy as np
    from miner_own import prf

    C = np.asarray(list(c.values()), dtype=int).reshape(-1, 3)
    S = C[np.random.default_rng(0).integers(0, len(C), size=(draws, len(C)))].sum(axis=1) if len(C) else C
    S = S[S.sum(axis=1) > 0]  # a draw of people with no correction, said or true, has no F1
    boot = 2 * S[:, 0] / (2 * S[:, 0] + S[:, 1] + S[:, 2])
    tp, fp, fn = (int(x) for x in C.sum(axis=0))
    f = prf([tp, fp, fn])
    r3 = lambda x: None if x is None else round(x, 3)  # noqa: E731
    return {"people": len(C), "tp": tp, "fp": fp, "fn": fn, "precision": r3(f["precision"]), "recall": r3(f["recall"]),
            "f1": r3(f["f1"]) if tp + fp + fn else None,
            "f1_interval": [round(float(np.percentile(boot, q)), 3) for q in (5, 95)] if len(boot) else None}


def pooled(sets: dict) -> dict:
    """The backend's figure over the people of all sets, and each compared labelling's where every set has it."""
    def merged(get):
        return {p: c for r in sets.values() for p, c in get(r).items()}

    out = {"backend": figure(merged(lambda r: r["per_person"]))}
    for other in set.intersection(*({k for k, v in r.items() if isinstance(v, dict) and "f1_change" in v}
                                    for r in sets.values())):
        out[other] = figure(merged(lambda r: r[other]["per_person"]))
    return out


def read_against(spec: str) -> tuple[str, dict]:
    """FILE:RECIPE of a bench/miner_cv.py --predictions file: (its name, {msg_id: Label}) of that recipe's turns."""
    from miner.classify.base import Label

    path, _, recipe = spec.rpartition(":")
    if not path or not Path(path).is_file():
        raise SystemExit(f"--against {spec}: expected FILE:RECIPE of a bench/miner_cv.py --predictions file")
    preds = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["recipe"] == recipe:
            preds[row["msg_id"]] = Label(row["prediction"], row.get("p_correction") or 1.0, [])
    if not preds:
        raise SystemExit(f"--against {spec}: no turn of recipe {recipe!r} in {path}")
    return f"{recipe} ({Path(path).name})", preds


def read_answers(path: Path) -> list[tuple[str, str]]:
    """(cache key, answer JSON) of an answers file; a bad line stops with its file and line."""
    import pydantic

    from miner.classify.anthropic import Answer
    from miner.classify.dataset import numbered_rows

    out = []
    try:
        for n, row in numbered_rows(path, ("key", "label", "confidence")):
            key = row.pop("key")
            try:
                out.append((key, Answer.model_validate(row).model_dump_json()))
            except pydantic.ValidationError as e:
                raise ValueError(f"{path}:{n}: {e.errors()[0]['msg']}") from None
    except (ValueError, OSError) as e:
        raise SystemExit(f"not an answer line: {e}")
    return out


def llm_backend(args, con):
    """The anthropic backend, its answers cached in `con`; with --llm-settings, the endpoint the `[llm]` settings
    name (an OpenAI-compatible server, local or hosted) instead of Anthropic's API."""
    from miner.classify.anthropic import AnthropicClassifier

    options = {"model": args.model} if args.model else {}
    if args.llm_settings:
        from vault.settings import load

        options["llm_settings"] = load().llm
    return AnthropicClassifier(con, yes=args.yes, max_cost=args.max_cost, **options)


def run(args) -> dict:
    from vault.store import open_vault

    with tempfile.TemporaryDirectory(prefix="backend-eval-") as tmp:
        con = open_vault(args.vault or Path(tmp) / "eval.duckdb")
        try:
            return evaluate(args, con, Path(tmp))
        finally:
            con.close()


def evaluate(args, con, tmp: Path) -> dict:
    """The sets read, labelled by the backend (and the compared labellings), counted."""
    from miner.classify import get_backend

    out: dict = {"backend": args.backend, "sets": {}}
    sets = {}
    for spec in args.set:
        name, _, where = spec.partition("=")
        sets[name] = read_set(where or name, Path(args.corpora), tmp)
    turns = [e.turn for ex in sets.values() for e in ex]
    if args.backend == "anthropic":
        backend = llm_backend(args, con)
        if args.answers:
            from miner.llm.cache import store_answer

            for path in args.answers:
                for key, answer in read_answers(Path(path)):
                    store_answer(con, key, backend.llm.model, answer, 0, 0)
        if args.plan or args.dump_requests:
            requests = backend.requests(turns)
            out["plan"] = backend.llm.plan(requests).as_dict()
            if args.dump_requests:
                dump(requests, con, Path(args.dump_requests))
            return out
    else:
        backend = get_backend(args.backend)
        backend.prepare(con)
    from miner_cv import author_counts as counts, f1_change

    others = {name: get_backend(name) for name in args.compare}
    against = read_against(args.against) if args.against else None
    for name, examples in sets.items():
        labels = backend.label([e.turn for e in examples])
        c = counts(examples, labels)
        res = {"turns": len(examples), **figure(c), "per_person": c}
        for other, b in others.items():
            oc = counts(examples, b.label([e.turn for e in examples]))
            res[other] = {**figure(oc), "f1_change": list(f1_change(oc, c)), "per_person": oc}
        if against is not None:  # the same turns, where the predictions file scored them
            both = [i for i, e in enumerate(examples) if e.turn.msg_id in against[1]]
            ex = [examples[i] for i in both]
            mine = counts(ex, [labels[i] for i in both])
            theirs = counts(ex, [against[1][e.turn.msg_id] for e in ex])
            res[against[0]] = {**figure(theirs), "turns": len(ex), "f1_change": list(f1_change(theirs, mine)),
                               "backend_on_them": figure(mine), "per_person": theirs}
        if args.predictions:
            with open(args.predictions, "a", encoding="utf-8") as f:
                for e, lab in zip(examples, labels, strict=True):
                    f.write(json.dumps({"set": name, "author": e.author, "msg_id": e.turn.msg_id, "gold": e.label,
                                        "label": lab.label, "confidence": lab.confidence}) + "\n")
        out["sets"][name] = res
    if len(sets) > 1:  # every set's people together (a person is in one set)
        out["all"] = pooled(out["sets"])
    if args.backend == "anthropic":
        out["report"] = backend.report()
    return out


def dump(requests, con, path: Path) -> None:
    """The requests not answered yet in `con`'s answer cache (their cache keys, the redacted text); beside them,
    the system prompt every request is sent with (redacted as it is sent)."""
    from miner.classify.anthropic import SYSTEM_PROMPT
    from miner.llm.cache import cached_answers

    reqs = {r.key: r for r in requests}
    have = cached_answers(con, list(reqs))
    with path.open("w", encoding="utf-8") as f:
        for r in reqs.values():
            if r.key not in have:
                f.write(json.dumps({"key": r.key, "user": r.user}, ensure_ascii=False) + "\n")
    path.with_suffix(".system.txt").write_text(requests[0].system if requests else SYSTEM_PROMPT, encoding="utf-8")


def show(out: dict) -> None:
    if "plan" in out:
        print(json.dumps(out["plan"], indent=1))
        return
    fmt = lambda r: (f"P {r['precision']} / R {r['recall']} (F1 {r['f1']} {r['f1_interval'] or ''}), "  # noqa: E731
                     f"{r['tp']} / {r['fp']} / {r['fn']}, {r['people']} people")
    for name, r in out["sets"].items():
        print(f"{name} ({r['turns']} turns): {out['backend']} {fmt(r)}")
        for other in (k for k in r if isinstance(r[k], dict) and "f1_change" in r[k]):
            d, o = r[other]["f1_change"], r[other]
            on = f" ({o['turns']} turns; {out['backend']} on them: {fmt(o['backend_on_them'])})" if "turns" in o else ""
            print(f"  {other}: {fmt(o)}{on}; {out['backend']} - {other}: {d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}]")
        for person, (tp, fp, fn) in sorted(r["per_person"].items()):
            print(f"    {person:50s} {tp:3d} / {fp:3d} / {fn:3d}")
    for name, f in (out.get("all") or {}).items():
        print(f"all sets: {out['backend'] if name == 'backend' else name} {fmt(f)}")
    failed = (out.get("report") or {}).get("failed")
    if failed:
        print(f"{len(failed)} turns had no answer (labelled new_request, confidence 0)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", action="append", required=True, metavar="NAME=SPEC",
                    help="a dev label file of the corpora, or a folder / file of external label files (repeatable)")
    ap.add_argument("--backend", default="learned", help="a classifier backend's name (default learned)")
    ap.add_argument("--compare", action="append", default=[], help="also this backend on the same turns")
    ap.add_argument("--against", metavar="FILE:RECIPE",
                    help="also a recipe's labels from a bench/miner_cv.py --predictions file (e.g. leave-one-author-"
                         "out), on the turns of each set it scored, and the F1 change on them")
    ap.add_argument("--predictions", help="append every scored turn (set, author, msg_id, gold, label) to this file")
    ap.add_argument("--corpora", default=str(ROOT.parent / "shared" / "corpora"))
    ap.add_argument("--vault", help="the vault holding the LLM answers (default: a scratch vault)")
    ap.add_argument("--model", help="the LLM's model id (part of every cache key)")
    ap.add_argument("--plan", action="store_true", help="print what the LLM backend would send and cost, and stop")
    ap.add_argument("--dump-requests", help="write the LLM requests not answered yet to this JSONL file, and stop")
    ap.add_argument("--answers", action="append", default=[], help="answers to replay through the answer cache")
    ap.add_argument("--llm-settings", action="store_true",
                    help="the endpoint the [llm] settings name (VAULT_LLM_*, the config file), e.g. a local "
                         "OpenAI-compatible server, instead of Anthropic's API")
    ap.add_argument("--yes", action="store_true", help="allow the LLM backend to send and spend")
    ap.add_argument("--max-cost", type=float, help="US dollars the LLM backend may spend at most")
    ap.add_argument("--json", dest="json_out", help="write the figures here too")
    args = ap.parse_args()
    if args.backend != "anthropic" and (args.plan or args.dump_requests or args.answers or args.llm_settings):
        ap.error("--plan, --dump-requests, --answers and --llm-settings belong to --backend anthropic")
    from miner.llm import LLMError

    try:
        out = run(args)
    except LLMError as e:
        raise SystemExit(f"error: {e}")
    show(out)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
