"""bench/miner_backend_eval.py: a classifier backend scored on label files through its own `label()`; the LLM
backend's answers given elsewhere replayed through its answer cache (nothing sent, no key needed); the figures
counted from those labels; a run that would send needs --yes; a bad answer line is named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "miner_backend_eval.py"
LABELS = ROOT / "data" / "labels" / "external-my-webserver-setup.jsonl"  # 17 turns, 7 corrections, an interrupt
sys.path.insert(0, str(ROOT / "bench"))
import miner_backend_eval  # noqa: E402


def run(*args: str, **more_env: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "VAULT_LLM"))} | more_env
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=600)


def requests(tmp_path: Path) -> list[dict]:
    out = tmp_path / "req.jsonl"
    r = run("--set", f"web={LABELS}", "--backend", "anthropic", "--vault", str(tmp_path / "v.duckdb"),
            "--dump-requests", str(out))
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def gold_of(request: dict, rows: list[dict]) -> str:
    """The label of the one line whose typed text, redacted, ends the request (the message to label comes last)."""
    from vault.redact import redact

    found = [row["label"] for row in rows
             if row["text"].strip() and request["user"].rstrip().endswith(redact(row["text"]).strip())]
    assert len(found) == 1, request["user"][-200:]
    return found[0]


def test_replayed_answers_become_the_labels_and_the_figures_count_them(tmp_path):
    rows = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines()]
    asked = requests(tmp_path)
    structural = [row for row in rows if row["kind"] == "interrupt"]
    assert structural and len(asked) == len(rows) - len(structural)  # interrupts are labelled here, not asked
    gold = [gold_of(q, rows) for q in asked]
    assert not any("/home/henry" in q["user"] for q in asked)  # what would leave the machine is redacted
    corrections = sum(g == "reattempt_with_feedback" for g in gold)
    assert corrections == sum(row["label"] == "reattempt_with_feedback" for row in rows) == 7

    def answer(path: Path, label_of) -> Path:
        path.write_text("".join(json.dumps({"key": q["key"], "label": label_of(g), "confidence": 0.9,
                                            "reason": "planted"}) + "\n" for q, g in zip(asked, gold)))
        return path

    # every answer right: all corrections found, no false alarm; then every answer "new_request": none found
    for name, label_of, (tp, fp, fn) in (("right", lambda g: g, (7, 0, 0)),
                                         ("never", lambda g: "new_request", (0, 0, 7))):
        out = tmp_path / f"{name}.json"
        r = run("--set", f"web={LABELS}", "--backend", "anthropic", "--vault", str(tmp_path / f"{name}.duckdb"),
                "--answers", str(answer(tmp_path / f"{name}.jsonl", label_of)), "--json", str(out))
        assert r.returncode == 0, r.stderr
        res = json.loads(out.read_text())
        web = res["sets"]["web"]
        assert (web["tp"], web["fp"], web["fn"]) == (tp, fp, fn) and web["turns"] == len(rows)
        assert res["report"]["usage"]["sent"] == 0 and res["report"]["usage"]["cached"] == len(asked)
        assert not res["report"]["failed"]


def test_nothing_is_sent_without_yes(tmp_path):
    r = run("--set", f"web={LABELS}", "--backend", "anthropic", "--vault", str(tmp_path / "v.duckdb"))
    assert r.returncode != 0
    assert "nothing was sent" in r.stderr and "Traceback" not in r.stderr


def test_the_plan_counts_what_would_be_sent(tmp_path):
    r = run("--set", f"web={LABELS}", "--backend", "anthropic", "--plan")
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    assert plan["to_send"] == plan["requests"] == len(requests(tmp_path)) and plan["cost_usd"] > 0


def test_llm_settings_choose_an_openai_compatible_endpoint(tmp_path):
    """--llm-settings: the `[llm]` settings' endpoint; a local one costs nothing and needs no consent (plan only)."""
    r = run("--set", f"web={LABELS}", "--backend", "anthropic", "--llm-settings", "--plan",
            VAULT_LLM_BACKEND="openai", VAULT_LLM_BASE_URL="http://127.0.0.1:9/v1", VAULT_LLM_MODEL="local-model",
            VAULT_HOME=str(tmp_path))
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    assert plan["model"] == "local-model" and plan["paid"] is False and plan["cost_usd"] == 0
    assert plan["to_send"] == len(requests(tmp_path))


def test_a_bad_answer_line_names_its_file_and_line(tmp_path):
    key = requests(tmp_path)[0]["key"]
    bad = tmp_path / "answers.jsonl"
    bad.write_text(json.dumps({"key": key, "label": "new_request", "confidence": 0.5}) + "\n"
                   + json.dumps({"key": key, "label": "a_correction", "confidence": 0.5}) + "\n")
    r = run("--set", f"web={LABELS}", "--backend", "anthropic", "--answers", str(bad))
    assert r.returncode != 0 and f"not an answer line: {bad}:2: " in r.stderr and "Traceback" not in r.stderr


def test_figure_pools_people_and_leaves_draws_without_any_correction_out():
    c = {"a": [2, 1, 0], "b": [0, 0, 0], "c": [1, 0, 1]}
    f = miner_backend_eval.figure(c)
    assert (f["tp"], f["fp"], f["fn"], f["people"]) == (3, 1, 1, 3)
    assert f["precision"] == 0.75 and f["recall"] == 0.75 and f["f1"] == 0.75
    # every person with a count has a true positive: no draw may give F1 0 (a draw of "b" alone has no F1)
    assert 0 < f["f1_interval"][0] <= 0.75 <= f["f1_interval"][1] <= 1
    # people with no correction, said or true: no F1 and no interval, not a crash; no people at all, the same
    for none in ({"b": [0, 0, 0]}, {}):
        f = miner_backend_eval.figure(none)
        assert f["f1"] is None and f["f1_interval"] is None and f["precision"] is None and f["recall"] is None


def test_a_missing_set_is_one_line():
    r = run("--set", "x=no/such/folder")
    assert r.returncode != 0 and "--set no/such/folder: no such label file or folder" in r.stderr
    assert "Traceback" not in r.stderr


def test_against_scores_a_predictions_file_on_the_same_turns(tmp_path):
    """--predictions writes every scored turn; --against reads a bench/miner_cv.py --predictions file's recipe."""
    rows = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines()]
    mine = tmp_path / "mine.jsonl"
    r = run("--set", f"web={LABELS}", "--predictions", str(mine))
    assert r.returncode == 0, r.stderr
    scored = [json.loads(line) for line in mine.read_text().splitlines()]
    assert len(scored) == len(rows) and [s["gold"] for s in scored].count("reattempt_with_feedback") == 7
    # a recipe that calls every turn but the first a correction, in miner_cv's predictions format
    cv = tmp_path / "cv.jsonl"
    cv.write_text("".join(json.dumps({"recipe": "X", "msg_id": s["msg_id"], "p_correction": None,
                                      "prediction": "new_request" if i == 0 else "reattempt_with_feedback"}) + "\n"
                          for i, s in enumerate(scored)))
    out = tmp_path / "out.json"
    r = run("--set", f"web={LABELS}", "--against", f"{cv}:X", "--json", str(out))
    assert r.returncode == 0, r.stderr
    x = json.loads(out.read_text())["sets"]["web"]["X (cv.jsonl)"]
    first_is_correction = scored[0]["gold"] == "reattempt_with_feedback"
    assert (x["tp"], x["fp"], x["fn"]) == (7 - first_is_correction, len(rows) - 7 - (not first_is_correction),
                                           int(first_is_correction))
    r = run("--set", f"web={LABELS}", "--against", f"{cv}:Y")
    assert r.returncode != 0 and "no turn of recipe 'Y'" in r.stderr
