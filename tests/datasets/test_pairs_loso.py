"""bench/pairs_eval.py --loso: variants are recomputed from a candidate, picked on the other samples, scored held out."""

from bench import pairs_eval
from miner.filters import Candidate, apply_filters


def _cand(pid, **kw):
    base = dict(pair_id=pid, session_id="s", role_name="r", method="next_attempt", feedback_msg_id="f",
                rejected_msg_id="r1", chosen_msg_id="c1", prompt=[{"role": "user", "content": "write a haiku"}],
                chosen="An old silent pond, a frog jumps in.", rejected="Ponds are bodies of still water.",
                feedback="make it a poem")
    return Candidate(**(base | kw))


def _row(pid, verdict, correction=True, **kw):
    return {"pair_id": pid, "verdict": verdict, "correction": correction}, _cand(pid, **kw)


def _sample(n):
    rows = [_row(f"v{n}", "valid"),
            # corrected after the chosen answer: only acknowledged_after catches it
            _row(f"a{n}", "invalid", turn_after="no", answer_after="You're right, I broke it. Let me fix it."),
            # a low-confidence correction the assistant acknowledged: the acknowledgement gate lets it through
            _row(f"g{n}", "invalid", confidence=0.3, chosen="You're right! A poem: an old silent pond.",
                 feedback_answer="You're right! A poem: an old silent pond.")]
    apply_filters([c for _, c in rows])
    return rows


def test_variants_recompute_the_look_ahead_filters():
    (_, v), (_, a), (_, g) = _sample(0)
    assert "acknowledged_after" in a.failed and "acknowledged_after" not in pairs_eval._variant_failed(a, "before")
    assert "gate_confidence" not in g.failed and "gate_confidence" in pairs_eval._variant_failed(g, "before")
    assert pairs_eval._variant_failed(v, "strict_gate") >= {"gate_confidence"}


def test_loso_picks_on_the_other_samples_and_scores_the_held_out_one():
    rep = pairs_eval.loso({"x": _sample(1), "y": _sample(2), "z": _sample(3)})
    assert rep["in_sample"]["before"]["kept"] == 6 and rep["in_sample"]["before"]["kept_valid"] == 3
    assert rep["in_sample"]["shipped"]["kept"] == 3 and rep["in_sample"]["shipped"]["kept_valid"] == 3
    for fold in rep["folds"].values():
        assert fold["export_pick"] in ("ack_after_only", "shipped")
        assert (fold["held_kept"], fold["held_kept_valid"]) == (1, 1)
    assert rep["loso_export"] == {"kept": 3, "kept_valid": 3, "openers": 0}
    assert pairs_eval._wilson_low(0, 0) == 0.0 and 0 < pairs_eval._wilson_low(3, 8) < 3 / 8
