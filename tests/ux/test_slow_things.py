"""Issue 17: say what is slow (the model load, the embedding), do the cheap checks first."""

from __future__ import annotations

import json
import shutil

from support import EXAMPLES, run_cli


def test_embedding_progress_has_a_known_total_before_the_model_loads(examples_vault, tmp_path):
    from vault.index import embeddings
    from vault.store import open_vault

    db = tmp_path / "v.duckdb"
    shutil.copy2(examples_vault, db)
    events: list = []
    con = open_vault(db)
    try:
        rep = embeddings.embed_pending(con, on_progress=lambda d, t: events.append((d, t)),
                                       on_stage=lambda s: events.append(s), batch_size=8)
    finally:
        con.close()
    total = rep.embedded
    assert total > 16
    assert events[0] == (0, total)  # the total is known before the model loads...
    assert events[1].startswith("loading the embedding model") and events[2] == "embedding"
    steps = [e for e in events[3:] if isinstance(e, tuple)]
    assert all(t == total for _, t in steps) and steps[-1] == (total, total)
    assert len(steps) >= total // 8  # ...and the bar moves every batch, not every 512 texts
    assert rep.load_seconds >= 0 and rep.encode_seconds > 0


def test_ingest_summary_and_json_say_how_long_the_embedding_took(tmp_path):
    code, out, _ = run_cli("ingest", str(EXAMPLES / "claude-code"), db=tmp_path / "a.duckdb")
    assert code == 0
    line = next(x for x in out.splitlines() if "embedded" in x)
    assert "texts in" in line and "model load" in line and "texts/s" in line
    code, out, _ = run_cli("ingest", "--json", str(EXAMPLES / "claude-code"), db=tmp_path / "b.duckdb")
    emb = json.loads(out)["index"]["embed"]
    assert emb["embedded"] > 0 and emb["seconds"] > 0 and "load_seconds" in emb and emb["encode_seconds"] > 0
