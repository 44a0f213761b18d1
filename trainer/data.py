"""The TRL export (train.jsonl, test.jsonl, README.md): loading, validation, persona ablation.

Each line: {"prompt": [messages], "chosen": [assistant msg], "rejected": [assistant msg],
"pair_id", "session_id", "role_name", "persona": str|null, "method"}. When a persona is used it
is also the leading system message of the prompt, which is what the ablations rewrite.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

ROLES = {"system", "user", "assistant"}
SPLITS = ("train", "test")


class DataError(ValueError):
    pass


@dataclass
class PairData:
    train: list[dict]
    test: list[dict]
    root: Path
    card: Path | None = None
    card_title: str | None = None
    warnings: list[str] = field(default_factory=list)

    def fingerprint(self) -> dict[str, str]:
        """sha256 of each file, so a model card pins the exact data it saw."""
        names = [f"{s}.jsonl" for s in SPLITS] + ["README.md"]
        return {n: _sha256(self.root / n) for n in names if (self.root / n).exists()}


def load_pairs(data_dir: str | Path) -> PairData:
    """Read and validate an export; raises DataError listing every problem found."""
    root = Path(data_dir)
    if not (root / "train.jsonl").is_file():
        raise DataError(f"{root}: no train.jsonl (expected a `vault export --format trl` folder)")
    errors: list[str] = []
    splits = {s: _read_split(root / f"{s}.jsonl", errors) for s in SPLITS}
    warnings: list[str] = []
    if not (root / "test.jsonl").is_file():
        warnings.append("no test.jsonl: nothing held out, before/after evaluation is empty")
    if not splits["train"] and not errors:
        errors.append("train.jsonl holds no pairs")

    seen: dict[str, str] = {}
    for split, pairs in splits.items():
        for p in pairs:
            if p["pair_id"] in seen:
                errors.append(f"{split}: pair_id {p['pair_id']} repeated (also in {seen[p['pair_id']]})")
            seen[p["pair_id"]] = split
    leaked = {p["session_id"] for p in splits["train"]} & {p["session_id"] for p in splits["test"]}
    if leaked:
        warnings.append(f"{len(leaked)} session(s) in both train and test: the split should be by session")
    if errors:
        shown = "\n  ".join(errors[:20]) + (f"\n  ... {len(errors) - 20} more" if len(errors) > 20 else "")
        raise DataError(f"{root}: invalid export:\n  {shown}")

    card = root / "README.md"
    title = None
    if card.is_file():
        title = card_title(card.read_text(errors="replace"))
    else:
        card = None
        warnings.append("no README.md dataset card beside the pairs: the model card cannot name it")
    return PairData(splits["train"], splits["test"], root, card, title, warnings)


def _read_split(path: Path, errors: list[str]) -> list[dict]:
    if not path.is_file():
        return []
    pairs = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name}:{n}"
        try:
            pair = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"{where}: not JSON ({e.msg})")
            continue
        problems = check_pair(pair)
        errors.extend(f"{where}: {p}" for p in problems)
        if not problems:
            pairs.append(pair)
    return pairs


def check_pair(pair: object) -> list[str]:
    """Contract violations of one exported pair (empty list: valid)."""
    if not isinstance(pair, dict):
        return ["not an object"]
    out = [f"missing {k}" for k in ("prompt", "chosen", "rejected", "pair_id") if k not in pair]
    if out:
        return out
    for key in ("prompt", "chosen", "rejected"):
        out += _check_messages(key, pair[key])
    if out:
        return out
    for key in ("chosen", "rejected"):
        if len(pair[key]) != 1 or pair[key][0]["role"] != "assistant" or not pair[key][0]["content"].strip():
            out.append(f"{key} must be one non-empty assistant message")
    if pair["prompt"][-1]["role"] == "assistant":
        out.append("prompt ends with an assistant message (the completion would follow another)")
    if not out and pair["chosen"][0]["content"] == pair["rejected"][0]["content"]:
        out.append("chosen and rejected are identical")
    persona = pair.get("persona")
    if persona is not None:
        first = pair["prompt"][0]
        if first["role"] != "system" or first["content"] != persona:
            out.append("persona is set but is not the prompt's leading system message")
    return out


def _check_messages(key: str, msgs: object) -> list[str]:
    if not isinstance(msgs, list) or not msgs:
        return [f"{key} must be a non-empty list of messages"]
    for m in msgs:
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            return [f"{key}: each message needs role in {sorted(ROLES)} and string content"]
    return []


def card_title(text: str) -> str | None:
    """pretty_name from the YAML front matter, else the first Markdown heading."""
    m = re.search(r"^---\n(.*?)\n---", text, re.S)
    if m:
        n = re.search(r"^pretty_name:\s*['\"]?(.+?)['\"]?\s*$", m.group(1), re.M)
        if n:
            return n.group(1)
    h = re.search(r"^#\s+(.+)$", text, re.M)
    return h.group(1).strip() if h else None


# --- persona ablation: the same pair, its prompt rewritten --------------------------------


def has_persona(pair: dict) -> bool:
    return pair.get("persona") is not None


def without_persona(pair: dict) -> dict:
    """The pair with its persona system message removed (other system messages kept)."""
    if not has_persona(pair):
        return pair
    return {**pair, "prompt": pair["prompt"][1:], "persona": None}


def with_persona(pair: dict, persona: str) -> dict:
    """The pair with `persona` as its leading system message (replacing its own, if any)."""
    rest = without_persona(pair)["prompt"]
    return {**pair, "prompt": [{"role": "system", "content": persona}, *rest], "persona": persona}


def role_of(pair: dict) -> str:
    return pair.get("role_name") or "?"


def role_personas(pairs: list[dict]) -> dict[str, str]:
    """role_name -> its persona (the first seen; the export writes one per role)."""
    out: dict[str, str] = {}
    for p in pairs:
        if has_persona(p):
            out.setdefault(role_of(p), p["persona"])
    return out


def other_roles(personas: dict[str, str]) -> dict[str, str]:
    """For each role, another role whose persona differs (the next in sorted order), if any."""
    roles = sorted(personas)
    out = {}
    for i, role in enumerate(roles):
        for other in roles[i + 1 :] + roles[:i]:
            if personas[other] != personas[role]:
                out[role] = other
                break
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
