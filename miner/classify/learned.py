"""The learned classifier (default backend): structure first, then a logistic regression.

1. Rules decide first. Structure, what is true by definition: an interrupt, or a tool rejection
   without a typed reason, is `interrupt`; a rejection with a reason is feedback on the call it
   refused; the first turn of a session with no assistant answer before it is `initial_request`.
   And short praise with nothing else in it ("that works") is `positive_feedback`: the labelled
   data holds too few praise turns, all by one author, for a regression to learn the class from
   people it has not seen, and the rule is never wrong on them.
2. Every other turn gets a multinomial logistic regression over `new_request`,
   `reattempt_with_feedback`, `reattempt_without_feedback` and `positive_feedback` on the
   features of features.py (cue families, shape, context) and, when the model has them, the
   sentence embeddings of vectors.py. A correction is called when its probability reaches the
   model's threshold (chosen by cross-validation when it was fitted), else the likeliest other label.
   The label is decided on that probability; the `confidence` reported with it then goes through
   the model's calibration map, if it has one (learned-8, below): the map changes no label.

The weights live in a small JSON file (`model.json` in this package, written by
`python -m miner.classify.train`; or a model fitted on a vault's own labels by `vault mine
--fit`, stored in the vault). `confidence` is the model's probability of the label it gives,
temperature-scaled on cross-validated predictions, then (a model with a `calibration`, learned-8 on)
mapped for people the model never saw: the correction probability p becomes
q = sigmoid(slope * (logit p - logit anchor) + logit anchor), a Platt map fitted on predictions for authors
outside each fit and anchored at the correction gate's 0.7 (miner/filters.py), so q >= 0.7 exactly when p >= 0.7;
another label's probability is rescaled by (1 - q) / (1 - p). Labels are decided on p, before the map.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from typing import Any

import numpy as np

from miner.classify import features as F
from miner.classify.after import AWAITING
from miner.classify.base import POSITIVE_FEEDBACK, REATTEMPT_WITH_FEEDBACK, Classifier, Label, Turn
from miner.classify.heuristic import structural

MODEL_FILE = "model.json"
PRAISE_CONFIDENCE = 0.9  # the praise rule was right on all its dev turns (7 of 7, one author): not more
PRAISE_REASON = "rule: praise and nothing else"
PRAISE_COLUMN = F.NAMES.index("cue:praise_only")
AFTER_KNOWN = "after:known"  # a model that has this feature reads the `after` family
META_KEY = "miner_model"  # a vault's own fitted model (vault mine --fit), in the meta table


class Model:
    """Weights of a fitted model and the arithmetic to apply them (numpy only)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.version: str = data["version"]
        self.classes: list[str] = data["classes"]
        self.features: list[str] = data["features"]
        self.embedding: bool = bool(data.get("embedding"))
        self.mean = np.asarray(data["mean"], dtype=np.float64)
        self.scale = np.asarray(data["scale"], dtype=np.float64)
        self.coef = np.asarray(data["coef"], dtype=np.float64)
        self.intercept = np.asarray(data["intercept"], dtype=np.float64)
        self.temperature = float(data.get("temperature", 1.0))
        self.threshold = data.get("threshold")  # probability that calls a correction; None: the likeliest label
        self.calibration: dict[str, Any] | None = data.get("calibration")  # the confidence map (module docstring)
        # A model fitted before a family was appended (learned-5 before `after`) reads the prefix it knows.
        if self.features != F.NAMES[: len(self.features)]:
            raise ValueError(f"model {self.version} was fitted on other features than this version computes")

    @classmethod
    def from_json(cls, text: str) -> Model:
        return cls(json.loads(text))

    def to_json(self) -> str:
        return json.dumps(self.data, separators=(",", ":"))

    def columns(self, X: np.ndarray) -> np.ndarray:
        """X (features.NAMES columns, then any embedding columns) restricted to the columns this model reads."""
        n, full = len(self.features), len(F.NAMES)
        return X if n == full else np.hstack([X[:, :n], X[:, full:]])

    def proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities per row of X; X may stop after the plain features (no embedding columns):
        the embeddings then sit at their training mean, which standardises to 0 and adds nothing."""
        X = self.columns(X)
        n = X.shape[1]
        z = ((X - self.mean[:n]) / self.scale[:n]) @ self.coef[:, :n].T + self.intercept
        z = z / self.temperature
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def decide(self, P: np.ndarray) -> list[tuple[str, float]]:
        """(label, its probability) per row: a correction at or above the threshold, else the likeliest."""
        if self.threshold is None:
            best = P.argmax(axis=1)
        else:
            ci = self.classes.index(REATTEMPT_WITH_FEEDBACK)
            others = P.copy()
            others[:, ci] = -1
            best = np.where(P[:, ci] >= self.threshold, ci, others.argmax(axis=1))
        p = P[np.arange(len(P)), best]
        if self.calibration is not None:
            p = self.confident(P, best)
        return [(self.classes[i], x) for i, x in zip(best.tolist(), p.tolist(), strict=True)]

    def confident(self, P: np.ndarray, best: np.ndarray) -> np.ndarray:
        """The reported confidence of label `best` per row of P through the calibration map, to 3 decimals (as
        stored), a correction's kept on the same side of the anchor as its probability to 3 decimals is: the gate
        (confidence >= anchor) selects exactly the turns it selected before the map."""
        cal = self.calibration or {}
        ci = self.classes.index(REATTEMPT_WITH_FEEDBACK)
        a, x0 = float(cal["slope"]), float(cal["anchor"])
        p = np.clip(P[:, ci], 1e-12, 1 - 1e-12)
        q = calibrate(p, a, x0)
        mine = P[np.arange(len(P)), best]
        out = np.where(best == ci, q, mine * (1 - q) / (1 - p))
        out = np.asarray([round(x, 3) for x in np.clip(out, 0.0, 1.0).tolist()])  # Python's round, as `predict`
        raw = np.asarray([round(x, 3) for x in mine.tolist()])
        side = np.where(raw >= x0, np.maximum(out, x0), np.minimum(out, round(x0 - 0.001, 3)))
        return np.where(best == ci, side, out)


def calibrate(p: np.ndarray, slope: float, anchor: float) -> np.ndarray:
    """The calibration map of a correction probability: Platt, its slope fitted, anchored at `anchor`."""
    z0 = np.log(anchor / (1 - anchor))
    return 1.0 / (1.0 + np.exp(-(slope * (np.log(p / (1 - p)) - z0) + z0)))


def rules(t: Turn) -> Label | None:
    """The label the rules give before the regression (structure, then praise and nothing else), or None."""
    label = structural(t)
    if label is None and F.praise_only(t):
        label = Label(POSITIVE_FEEDBACK, PRAISE_CONFIDENCE, [PRAISE_REASON])
    return label


# The shipped model's corrections on people no model had scored (docs/mining.md, "Measured: what to expect on a new
# user", twenty-second session): the people of the blind sets first scored by RULE27, 28, 29, 30, 31 or 32, each once,
# by fits that never saw them (RULE32's: the shipped model itself). A figure belongs to one model version: a refit
# measures it again.
NEW_PEOPLE = {"version": "learned-10", "precision": 0.558, "recall": 0.513, "people": 255, "corrections": 824,
              "measured": "docs/mining.md, RULE27-32"}


def shipped_model() -> Model:
    return Model.from_json(resources.files("miner.classify").joinpath(MODEL_FILE).read_text(encoding="utf-8"))


def vault_model(con) -> Model | None:
    """The model `vault mine --fit` stored in this vault, if any."""
    from vault.store import get_meta

    text = get_meta(con, META_KEY)
    return Model.from_json(text) if text else None


def feature_matrix(turns: Sequence[Turn]) -> np.ndarray:
    return np.asarray([F.vector(t) for t in turns], dtype=np.float64).reshape(len(turns), len(F.NAMES))


class LearnedClassifier(Classifier):
    name = "learned"

    def __init__(self, model: Model | None = None, con=None, embed: bool = True, on_embed=None) -> None:
        self._model_given, self._embed_wanted = model is not None, embed
        self.on_embed = on_embed
        self.embed_report: dict[str, Any] | None = None
        self._use(model or (vault_model(con) if con is not None else None) or shipped_model(), con)

    def prepare(self, con, confirm=None) -> None:
        """The vault's own fitted model (`vault mine --fit`) unless one was given; embeddings cached in the vault."""
        self._use(self.model if self._model_given else (vault_model(con) or shipped_model()), con)

    def _use(self, model: Model, con) -> None:
        self.model, self.version = model, model.version
        self.con = con  # where embeddings are cached (None: computed, not kept)
        self.embed = self._embed_wanted and self.model.embedding

    def on_new_people(self) -> dict[str, Any] | None:
        """The shipped model's figure on people it never saw; None for a model fitted to this vault (`--fit`) or
        labelling without its embeddings (each measured apart from it)."""
        return dict(NEW_PEOPLE) if self.version == NEW_PEOPLE["version"] and self.embed else None

    @property
    def embed_seconds(self) -> float:
        return (self.embed_report or {}).get("seconds", 0.0)

    def label(self, turns: Sequence[Turn]) -> list[Label]:
        self.embed_report = None
        out: list[Label | None] = [structural(t) for t in turns]
        rest = [i for i, lab in enumerate(out) if lab is None]
        if rest:
            X = feature_matrix([turns[i] for i in rest])  # the praise rule reads its own feature: computed once
            praise = X[:, PRAISE_COLUMN] == 1.0
            for i in np.asarray(rest)[praise]:
                out[i] = Label(POSITIVE_FEEDBACK, PRAISE_CONFIDENCE, [PRAISE_REASON])
            keep = ~praise
            if keep.any():
                todo = [turns[i] for i in np.asarray(rest)[keep]]
                for i, lab in zip(np.asarray(rest)[keep], self.predict(todo, X[keep]), strict=True):
                    out[i] = lab
        return out  # type: ignore[return-value]

    def predict(self, turns: Sequence[Turn], X: np.ndarray | None = None) -> list[Label]:
        X = self.matrix(turns, X)
        P = self.model.proba(X)
        reasons = _reasons(X)
        if AFTER_KNOWN in self.model.features:  # judged without the next answer: to be judged again once it arrives
            for r, t in zip(reasons, turns, strict=True):
                if t.next_assistant is None:
                    r.append(AWAITING)
        return [Label(label, round(p, 3), r) for (label, p), r in zip(self.model.decide(P), reasons, strict=True)]

    def matrix(self, turns: Sequence[Turn], X: np.ndarray | None = None) -> np.ndarray:
        X = feature_matrix(turns) if X is None else X
        if not (self.model.embedding and self.embed):  # no embeddings: at their training mean (see proba)
            return X
        from miner.classify.vectors import embed

        E, self.embed_report = embed(self.con, turns, self.on_embed)
        return np.hstack([X, E])


_REASON_COLUMNS = np.asarray([i for i, n in enumerate(F.NAMES) if not n.startswith("shape:")])
_REASON_NAMES = [F.NAMES[i] for i in _REASON_COLUMNS]


def _reasons(X: np.ndarray) -> list[list[str]]:
    """Per row: the cue and context features that fired (binary ones set), for `labels.reasons`."""
    fired = X[:, _REASON_COLUMNS] == 1.0
    rows, cols = np.nonzero(fired)
    out: list[list[str]] = [[] for _ in range(len(X))]
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        out[r].append(_REASON_NAMES[c])
    return out
