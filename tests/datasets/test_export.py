"""Exports: every format loads with its consumer's loader (or matches its documented shape), the split
leaks no session, reviews are honoured, and planted secrets never reach a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import run_cli

from miner.export import FORMATS, export, split_sessions
from miner.filters import FILTER_DOCS
from miner.pairs import build_pairs
from miner.personas import build_personas

PLANTED = ("sk-ant-api03", "jane.doe@example.com", "/home/jdoe", "jdoe")
CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")

@pytest.fixture(scope="module")
def tokenizer():
    """A tiny local byte-level BPE tokenizer with a ChatML template (nothing downloaded)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(["system user assistant run the tests keep it short"], trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<|pad|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|pad|>")
    hf.chat_template = CHATML
    return hf

@pytest.fixture(scope="module")
def ready_vault(hand_vault, tmp_path_factory, embed_model):
    """examples/ with pairs and personas built, and the secret-bearing pair accepted in review."""
    import shutil

    from vault.store import open_vault

    path = tmp_path_factory.mktemp("ready") / "vault.duckdb"
    shutil.copy(hand_vault, path)
    con = open_vault(path)
    build_pairs(con)
    build_personas(con, model=embed_model)
    pid = con.execute("SELECT pair_id FROM pairs WHERE 'secrets' IN (SELECT unnest(from_json(filters_failed, "
                      "'[\"VARCHAR\"]')))").fetchone()[0]
    con.execute("INSERT INTO reviews (target, target_id, decision) VALUES ('pair', ?, 'accept')", [pid])
    con.close()
    return path

def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

def _export(vault_copy, ready_vault, tmp_path, fmt, **kw):
    con = vault_copy(ready_vault)
    return con, export(con, fmt, tmp_path / fmt, **kw)

@pytest.mark.parametrize("fmt", list(FORMATS))
def test_no_planted_secret_in_any_file(fmt, vault_copy, ready_vault, tmp_path):
    _, rep = _export(vault_copy, ready_vault, tmp_path, fmt, parquet=True, hf=True)
    assert sum(rep["counts"].values()) == 6  # 5 kept + the accepted secret-bearing pair
    files = [p for p in (tmp_path / fmt).rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in files) and any("hf" in p.parts for p in files)
    for p in files:
        data = p.read_bytes()
        for s in PLANTED:
            assert s.encode() not in data, f"{s} in {p}"
    assert "[REDACTED:" in (tmp_path / fmt / "train.jsonl").read_text() + (tmp_path / fmt / "test.jsonl").read_text()

def test_no_redact_is_explicit_and_keeps_the_text(vault_copy, ready_vault, tmp_path):
    _, rep = _export(vault_copy, ready_vault, tmp_path, "trl", redact=False)
    text = (tmp_path / "trl" / "train.jsonl").read_text() + (tmp_path / "trl" / "test.jsonl").read_text()
    assert "sk-ant-api03" in text and "jane.doe@example.com" in text
    assert "Not redacted" in (tmp_path / "trl" / "README.md").read_text()

def test_trl_loads_with_datasets_trl_and_the_trainer(vault_copy, ready_vault, tmp_path, tokenizer):
    from datasets import load_dataset
    from trl.data_utils import apply_chat_template, is_conversational

    from trainer.data import load_pairs

    _, rep = _export(vault_copy, ready_vault, tmp_path, "trl", seed=3)
    out = tmp_path / "trl"
    ds = load_dataset("json", data_files={"train": str(out / "train.jsonl"), "test": str(out / "test.jsonl")})
    assert len(ds["train"]) == rep["counts"]["train"] and len(ds["test"]) == rep["counts"]["test"] >= 1
    for row in ds["train"]:
        ex = {k: row[k] for k in ("prompt", "chosen", "rejected")}
        assert is_conversational(ex)
        text = apply_chat_template(ex, tokenizer)
        assert text["prompt"].endswith("<|im_start|>assistant\n") and text["chosen"] and text["rejected"]
        assert len(tokenizer(text["prompt"] + text["chosen"])["input_ids"]) > 10
        if row["persona"]:  # roles with a train-split persona (extractive personas have few rules)
            assert row["prompt"][0] == {"role": "system", "content": row["persona"]}
        else:
            assert row["prompt"][0]["role"] == "user"
    assert any(row["persona"] for row in ds["train"])
    data = load_pairs(out)  # the trainer's own validation
    assert data.warnings == [] and len(data.train) == rep["counts"]["train"]
    assert data.card_title == "vault preference pairs"

def test_no_persona(vault_copy, ready_vault, tmp_path):
    _export(vault_copy, ready_vault, tmp_path, "trl", persona=False)
    rows = _rows(tmp_path / "trl" / "train.jsonl")
    assert rows and all(r["persona"] is None and r["prompt"][0]["role"] == "user" for r in rows)

def test_split_by_session_is_deterministic_and_leaks_nothing(vault_copy, ready_vault, tmp_path):
    con = vault_copy(ready_vault)
    seen = set()
    for seed in (0, 1, 2):
        rep = export(con, "trl", tmp_path / f"s{seed}", seed=seed, test_fraction=0.3)
        train = {r["session_id"] for r in _rows(tmp_path / f"s{seed}" / "train.jsonl")}
        test = {r["session_id"] for r in _rows(tmp_path / f"s{seed}" / "test.jsonl")}
        assert train and test and not train & test
        seen.add(frozenset(test))
        again = export(con, "trl", tmp_path / f"again{seed}", seed=seed, test_fraction=0.3)
        same = (tmp_path / f"again{seed}" / "test.jsonl").read_text()
        assert same == (tmp_path / f"s{seed}" / "test.jsonl").read_text()
        assert again["counts"] == rep["counts"]
    assert len(seen) > 1  # the seed matters
    ids = [f"s{i}" for i in range(10)]
    assert len(split_sessions(ids, 0, 0.2)) == 2 and split_sessions(ids, 0, 0.0) == set()
    assert len(split_sessions(["a"], 0, 0.5)) == 0 and len(split_sessions(["a", "b"], 0, 0.1)) == 1

def test_reviews_reject_edit_and_reviewed_only(vault_copy, ready_vault, tmp_path):
    con = vault_copy(ready_vault)
    kept = [r[0] for r in con.execute("SELECT pair_id FROM pairs WHERE kept ORDER BY pair_id").fetchall()]
    con.execute("INSERT INTO reviews (target, target_id, decision) VALUES ('pair', ?, 'reject')", [kept[0]])
    con.execute("INSERT INTO reviews (target, target_id, decision, value) VALUES ('pair', ?, 'edit', 'EDITED ANSWER')",
                [kept[1]])
    rep = export(con, "trl", tmp_path / "a", test_fraction=0)
    rows = {r["pair_id"]: r for r in _rows(tmp_path / "a" / "train.jsonl")}
    assert kept[0] not in rows and rows[kept[1]]["chosen"] == [{"role": "assistant", "content": "EDITED ANSWER"}]
    assert rep["selection"]["review_rejected"] == 1 and len(rows) == 5
    rep = export(con, "trl", tmp_path / "b", reviewed_only=True, test_fraction=0)
    assert {r["pair_id"] for r in _rows(tmp_path / "b" / "train.jsonl")} == {
        kept[1], *[r[0] for r in con.execute("SELECT target_id FROM reviews WHERE decision = 'accept'").fetchall()]}

def test_llamafactory_shape_and_dataset_info(vault_copy, ready_vault, tmp_path):
    _export(vault_copy, ready_vault, tmp_path, "llamafactory")
    out = tmp_path / "llamafactory"
    info = json.loads((out / "dataset_info.json").read_text())
    entry = info["vault_pairs_train"]
    assert entry["ranking"] is True and entry["formatting"] == "sharegpt" and entry["file_name"] == "train.jsonl"
    assert entry["columns"] == {"messages": "conversations", "chosen": "chosen", "rejected": "rejected",
                                "system": "system"}
    for row in _rows(out / "train.jsonl") + _rows(out / "test.jsonl"):
        conv = row["conversations"]
        # LLaMA-Factory's ShareGPT converter: human at odd positions, gpt at even, a ranking prompt ends with human
        assert [m["from"] for m in conv] == ["human", "gpt"] * (len(conv) // 2) + ["human"]
        assert row["chosen"]["from"] == row["rejected"]["from"] == "gpt" and row["chosen"]["value"]
        assert row["system"] == "" or row["system"].startswith("Standing preferences")
    assert any(row["system"] for row in _rows(out / "train.jsonl") + _rows(out / "test.jsonl"))

def test_axolotl_openai_sharegpt_shapes(vault_copy, ready_vault, tmp_path):
    con = vault_copy(ready_vault)
    for fmt in ("axolotl", "openai", "sharegpt"):
        export(con, fmt, tmp_path / fmt)
    ax = _rows(tmp_path / "axolotl" / "train.jsonl")
    assert all(r["messages"][-1]["role"] == "user" and r["chosen"]["role"] == "assistant"
               and isinstance(r["rejected"]["content"], str) for r in ax)
    assert "type: chat_template.default" in (tmp_path / "axolotl" / "axolotl.yaml").read_text()
    oa = _rows(tmp_path / "openai" / "train.jsonl")
    assert all(set(r) == {"input", "preferred_output", "non_preferred_output"} for r in oa)
    assert all(r["input"]["messages"][-1]["role"] == "user" and r["preferred_output"][0]["role"] == "assistant"
               for r in oa)
    sg = _rows(tmp_path / "sharegpt" / "train.jsonl")
    assert all(r["conversations"][0]["from"] in ("system", "human") and r["conversations"][-1]["from"] == "gpt"
               for r in sg)
    assert any(r["conversations"][0]["from"] == "system" for r in sg)

def test_hf_and_parquet_load(vault_copy, ready_vault, tmp_path):
    import pyarrow.parquet as pq
    from datasets import load_from_disk

    _, rep = _export(vault_copy, ready_vault, tmp_path, "trl", parquet=True, hf=True)
    dd = load_from_disk(str(tmp_path / "trl" / "hf"))
    assert dd["train"].num_rows == rep["counts"]["train"]
    assert pq.read_table(tmp_path / "trl" / "train.parquet").num_rows == rep["counts"]["train"]

def test_dataset_card_counts(vault_copy, ready_vault, tmp_path):
    _, rep = _export(vault_copy, ready_vault, tmp_path, "trl")
    card = (tmp_path / "trl" / "README.md").read_text()
    assert "| docs-site | 4 |" in card and "| next_attempt | 6 |" in card
    for name, n in [("chosen_corrected_later", 1), ("secrets", 1), ("reply_to_feedback", 2),
                    ("gate_pasted_failure", 1), ("sycophantic_opener", 1)]:
        assert f"| {name} | {n} | {FILTER_DOCS[name]} |" in card
    assert "claude_code: 6 session(s)" in card and "seed 0" in card and "Redacted" in card

def test_export_cli(ready_vault, vault_copy, tmp_path):
    con = vault_copy(ready_vault)
    path = con.execute("SELECT file FROM pragma_database_list WHERE name = current_database()").fetchone()[0]
    con.close()
    code, out, _ = run_cli("export", "--format", "openai", "--out", str(tmp_path / "o"), "--json", "--seed", "1",
                           "--role", "docs-site", "--no-persona", db=path)
    rep = json.loads(out)
    assert code == 0 and sum(rep["counts"].values()) == 4 and rep["by_role"] == {"docs-site": 4}
    code, out, _ = run_cli("export", "--format", "trl", "--out", str(tmp_path / "t"), db=path)
    assert code == 0 and "train" in out

@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_loads_with_datasets_json(fmt, vault_copy, ready_vault, tmp_path):
    """LLaMA-Factory and axolotl read local JSONL through `datasets` too: every split must load as one table."""
    from datasets import load_dataset

    _, rep = _export(vault_copy, ready_vault, tmp_path, fmt, persona=fmt != "sharegpt")
    out = tmp_path / fmt
    ds = load_dataset("json", data_files={"train": str(out / "train.jsonl"), "test": str(out / "test.jsonl")})
    assert (len(ds["train"]), len(ds["test"])) == (rep["counts"]["train"], rep["counts"]["test"])

def test_end_to_end_cli_on_examples(tmp_path):
    """ingest -> mine -> pairs -> personas -> export, all through the real CLI, on examples/."""
    from support import EXAMPLES

    db = tmp_path / "v.duckdb"
    assert run_cli("ingest", str(EXAMPLES / "claude-code"), "--json", db=db)[0] == 0
    assert run_cli("mine", "--json", db=db)[0] == 0
    code, out, _ = run_cli("pairs", "--json", db=db)
    pairs = [json.loads(line) for line in out.splitlines()]
    # 10 planted corrections: the gate and filters keep 4 with the learned-2 model (reply_to_feedback x2,
    # secrets, a pasted traceback, and one below the confidence gate are dropped; see the dataset card)
    assert code == 0 and len(pairs) >= 4
    assert {p["role_name"] for p in pairs} >= {"billing-api", "docs-site"}
    code, out, _ = run_cli("personas", "docs-site", "--format", "claude-md", db=db)
    assert code == 0 and "emoji" in out.lower()
    code, out, _ = run_cli("export", "--format", "trl", "--out", str(tmp_path / "d"), "--json", db=db)
    rep = json.loads(out)
    assert code == 0 and sum(rep["counts"].values()) == len(pairs) and rep["personas_used"]
    text = (tmp_path / "d" / "train.jsonl").read_text() + (tmp_path / "d" / "test.jsonl").read_text()
    assert not any(s in text for s in PLANTED)


def test_test_pairs_never_see_their_own_feedback_in_the_persona(vault_copy, ready_vault, tmp_path):
    """Personas come from the train split only: no test-session correction is quoted in any prompt."""
    from miner.personas import clauses_of, load_personas

    con = vault_copy(ready_vault)
    full = {p["role_name"]: p["text"] for p in load_personas(con) if p["text"]}
    feedback_msg = dict(con.execute("SELECT pair_id, feedback_msg_id FROM pairs").fetchall())
    session_of = dict(con.execute("SELECT msg_id, session_id FROM messages").fetchall())
    train_text = {}
    leaked_before = tested = 0
    for seed in range(6):
        rep = export(con, "trl", tmp_path / f"s{seed}", seed=seed, test_fraction=0.5)
        test_rows = _rows(tmp_path / f"s{seed}" / "test.jsonl")
        test_sessions = {r["session_id"] for r in test_rows}
        assert rep["counts"]["test"] == len(test_rows) >= 1
        for role, msgs in rep["persona_sources"].items():  # every quoted correction is a train one
            assert msgs and not {session_of[m] for m in msgs} & test_sessions, (seed, role)
        train_text = {r[0] for r in con.execute("SELECT m.text FROM messages m WHERE m.session_id NOT IN "
                                                "(SELECT unnest(?))", [sorted(test_sessions)]).fetchall()}
        for row in test_rows:
            assert feedback_msg[row["pair_id"]] not in {m for ms in rep["persona_sources"].values() for m in ms}
            # a clause only this test pair's feedback says (no train correction says it) never reaches its prompt
            own = [c.lower() for c in clauses_of(row["feedback"]) if len(c.split()) >= 2
                   and not any(c.lower() in (t or "").lower() for t in train_text)]
            system = row["prompt"][0]["content"].lower() if row["prompt"][0]["role"] == "system" else ""
            assert not [c for c in own if c in system], (seed, row["feedback"])
            tested += bool(system)
            # the persona built from all corrections quotes test feedback: the leak this prevents
            leaked_before += any(c.lower() in (full.get(row["role_name"]) or "").lower()
                                 for c in clauses_of(row["feedback"]) if len(c.split()) >= 2)
    assert leaked_before > 0 and tested > 0
