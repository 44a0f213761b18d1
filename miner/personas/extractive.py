"""The offline persona of a role (steps 2-4): its general-form clauses embedded with the search model, clustered,
and each cluster that is a standing preference stated as one rule from its most central clause."""

from __future__ import annotations

import re

from miner.personas.clauses import Clause, marked_clauses
from miner.personas.clustering import cluster, overlap_bonus
from miner.personas.rule_form import is_general, state_rule
from miner.personas.rules import MIN_SESSIONS, Rule, is_standing

THRESHOLD = 0.45  # similarity (cosine + shared-word bonus) above which clusters merge (average linkage)
MAX_RULES = 8
MAX_CLAUSES = 1500  # per role: clustering is quadratic in memory
ECHO = 0.55  # cosine above which a clause of another session's correction restates a rule in substance
# A word that points outside the clause ("we don't need it yet", "its contents"): not a rule on its own.
# ("it's done" is a dummy subject, not a reference).
_DANGLING = re.compile(r"\b(?:its|them|these|those)\b|\bit\b(?!'s|’s| is\b)", re.I)


def rules_for(feedback: list[tuple[str, str]], model, threshold: float = THRESHOLD,
              max_rules: int = MAX_RULES, sessions: dict[str, str] | None = None,
              min_sessions: int = MIN_SESSIONS, echo: float = ECHO) -> list[Rule]:
    """Cluster the general-form clauses of a role's feedback; each cluster that is a standing preference
    (`is_standing`: stated in `min_sessions` sessions, counting a clause of another session's correction within
    cosine `echo` of the cluster's central clause, or in a correction saying it stands) is a rule.
    `sessions`: msg_id -> session; without it each correction counts as its own."""
    import numpy as np

    from vault.index.embeddings import encode

    every = [Clause(c, msg_id, st) for msg_id, text in feedback for c, st in marked_clauses(text)][:MAX_CLAUSES]
    general = [k for k, c in enumerate(every) if is_general(c.text)]
    if not general:
        return []
    clauses = [every[k] for k in general]
    session_of = sessions or {}
    all_vecs = encode(model, [c.text for c in every])
    vecs = all_vecs[general]
    bonus = overlap_bonus([c.text for c in clauses])
    sim = vecs @ vecs.T + bonus
    rules = []
    for idx in cluster(vecs, threshold, bonus):
        centrality = sim[np.ix_(idx, idx)].mean(axis=1) if len(idx) > 1 else np.ones(1)
        order = [idx[k] for k in np.argsort(-centrality, kind="stable")]
        best = next((i for i in order if not _DANGLING.search(clauses[i].text)), None)
        if best is None:
            continue  # every clause leans on its context ("we don't need it yet"): no rule a reader can use
        examples = list(dict.fromkeys(clauses[i].msg_id for i in order))
        own = {session_of.get(m, m) for m in examples}
        near = all_vecs @ vecs[best]
        echoes = list(dict.fromkeys(every[k].msg_id for k in np.flatnonzero(near >= echo)
                                    if session_of.get(every[k].msg_id, every[k].msg_id) not in own))
        says = list(dict.fromkeys(clauses[i].msg_id for i in order if clauses[i].standing))
        if not is_standing(examples, echoes, says, session_of, min_sessions) or len(clauses[best].text.split()) < 2:
            continue  # said in one session only: a task detail; or a fragment
        rules.append(Rule(state_rule(clauses[best].text), len(examples), examples,
                          [clauses[i].text for i in order], [clauses[i].msg_id for i in order], echoes, says))
    rules.sort(key=lambda r: (-r.support, r.examples[0]))
    return rules[:max_rules]
