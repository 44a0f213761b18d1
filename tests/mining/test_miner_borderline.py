"""bench/miner_borderline.py: figures on the lines a labeller marked borderline and on the rest, from a union bench's
per-turn predictions joined to the label rows' notes."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import miner_borderline  # noqa: E402

C, N = "reattempt_with_feedback", "new_request"


def test_lines_split_by_the_label_note(tmp_path, capsys):
    labels = tmp_path / "labels"
    (labels / "pointers-only").mkdir(parents=True)
    rows = [{"author": "o/r", "session": "s", "n": 0, "label": C, "note": "borderline: a worry, not a fault"},
            {"author": "o/r", "session": "s", "n": 1, "label": C, "note": ""},
            {"author": "o/r", "session": "s", "n": 2, "label": N, "note": "Borderline"}]
    (labels / "pointers-only" / "external-o-r.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert miner_borderline.borderline_ids(labels) == {"ext:o/r:s:0", "ext:o/r:s:2"}
    preds = [(0, C, N), (1, C, C), (2, N, C), (3, N, N)]  # n, gold, predicted
    pred_file = tmp_path / "pred.jsonl"
    pred_file.write_text("".join(json.dumps({"recipe": "AB", "author": "o/r", "msg_id": f"ext:o/r:s:{n}", "label": g,
                                             "prediction": p}) + "\n" for n, g, p in preds))
    assert miner_borderline.main([str(pred_file), "--labels", str(labels)]) == 0
    out = capsys.readouterr().out
    assert "50% of lines borderline" in out
    assert "all lines         P 0.500 R 0.500 F1 0.500 (1 / 1 / 1; 4 lines)" in out
    assert "not borderline    P 1.000 R 1.000 F1 1.000 (1 / 0 / 0; 2 lines)" in out
    assert "borderline only   P 0.000 R 0.000 F1 0.000 (0 / 1 / 1; 2 lines)" in out
