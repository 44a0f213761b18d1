"""Build the persona experiment's TRL export from the example sessions in persona_sessions.py.

    python examples/persona_experiment/build_data.py OUT_DIR

Writes OUT_DIR/{train,test}.jsonl and a README.md dataset card in the `vault export --format
trl` layout. The sessions are played as conversations, then mined the RLHI way: an assistant
answer, the user's correction, the revised answer -> (prompt, chosen=revised, rejected=first).
The split holds out whole question groups (every third session group), so the test questions
were seen in neither role during training.

Each role's persona (the prompt's leading system message) is built the way `vault export` builds it: the
offline, extractive persona (miner.personas) of the role's corrections in the **train sessions only**, so no
test correction is quoted in a prompt. A role whose corrections state no rule in general form gets no persona.
`build(out, personas="written")` uses the hand-written PERSONAS instead (the first runs of the experiment).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from persona_sessions import CORRECTIONS, GROUP, PERSONAS, QA  # noqa: E402

ROLES = ("terse", "detailed")


def sessions() -> list[dict]:
    """One session per (question group, role): question, first answer, correction, revision."""
    out = []
    for g in range(0, len(QA), GROUP):
        for role in ROLES:
            msgs = []
            for k, (q, terse, detailed) in enumerate(QA[g : g + GROUP]):
                first, revised = (detailed, terse) if role == "terse" else (terse, detailed)
                msgs += [("user", q), ("assistant", first), ("user", CORRECTIONS[role][k % 3]),
                         ("assistant", revised)]
            out.append({"session_id": f"persona-{role}-{g // GROUP:02d}", "role_name": role, "group": g // GROUP,
                        "messages": [{"role": r, "content": c} for r, c in msgs]})
    return out


def train_personas(all_sessions: list[dict]) -> dict[str, str | None]:
    """role -> its extractive persona from the corrections of its train sessions (None: no rule found)."""
    from miner.personas import persona_text, rules_for
    from vault.index.embeddings import load_model
    from vault.index.settings import model_name

    model = load_model(model_name(None, None))
    out = {}
    for role in ROLES:
        feedback, session_of = [], {}
        for s in all_sessions:
            if s["role_name"] != role or is_test(s):
                continue
            for i, msg in enumerate(s["messages"]):
                if msg["role"] == "user" and msg["content"] in CORRECTIONS[role]:
                    feedback.append((f"{s['session_id']}#{i}", msg["content"]))
                    session_of[f"{s['session_id']}#{i}"] = s["session_id"]
        rules = rules_for(feedback, model, sessions=session_of)
        out[role] = persona_text(role, rules) if rules else None
    return out


def mine(session: dict, persona: str | None) -> list[dict]:
    """Pairs from user -> assistant -> user correction -> assistant revision."""
    m, role = session["messages"], session["role_name"]
    system = [{"role": "system", "content": persona}] if persona else []
    pairs = []
    for i in range(len(m) - 3):
        if [x["role"] for x in m[i : i + 4]] == ["user", "assistant", "user", "assistant"] and \
                m[i + 2]["content"] in CORRECTIONS[role]:
            pid = hashlib.sha1(f"{session['session_id']}/{i}".encode()).hexdigest()[:12]
            pairs.append({
                "prompt": [*system, m[i]],
                "chosen": [m[i + 3]],
                "rejected": [m[i + 1]],
                "pair_id": pid,
                "session_id": session["session_id"],
                "role_name": role,
                "persona": persona,
                "method": "correction",
            })
    return pairs


def is_test(session: dict) -> bool:
    return session["group"] % 3 == 2


CARD = """---
pretty_name: vault persona experiment (terse vs detailed)
task_categories: [text-generation]
tags: [dpo, preference, persona, vault]
---
# vault persona experiment (terse vs detailed)

Preference pairs mined from hand-written example sessions (`examples/persona_experiment/persona_sessions.py`)
in the `vault export --format trl` layout. Two roles share {n_q} questions and want opposite styles:

| role | persona (leading system message) |
|---|---|
{persona_rows}

Split by session and by question group: {n_train} train pairs, {n_test} test pairs; no test
question appears in training, in either role.
"""


def build(out: str | Path, personas: str = "train") -> Path:
    """The export in `out`; `personas`: "train" (built from the train split) or "written" (PERSONAS)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    all_sessions = sessions()
    persona_of = train_personas(all_sessions) if personas == "train" else dict(PERSONAS)
    split = {"train": [], "test": []}
    for s in all_sessions:
        split["test" if is_test(s) else "train"].extend(mine(s, persona_of[s["role_name"]]))
    for name, pairs in split.items():
        (out / f"{name}.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pairs))
    rows = "\n".join(f"| {r} | {(p or '(none)').replace(chr(10), ' ')} |" for r, p in persona_of.items())
    (out / "README.md").write_text(CARD.format(n_q=len(QA), persona_rows=rows, n_train=len(split["train"]),
                                               n_test=len(split["test"])))
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(build(sys.argv[1]))
