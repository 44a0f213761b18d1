"""Build a large Claude Code archive by replicating ../shared/corpora/claude-code.

Each copy gets fresh ids, remapped consistently inside the copy (the same old id maps
to the same new id in every file of that copy, and in file and folder names): record
uuids, sessionId, parentUuid, leafUuid, agentId, message ids, request ids and tool-use
ids. The folder layout (main files, `<session>/subagents/agent-*.jsonl`) is kept.

    python bench/make_archive.py --size-mb 1024 --out bench/data/archive-1g
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpora" / "claude-code"

_UUID = rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_API_ID = rb"(?:toolu|srvtoolu|msg|req)_[0-9A-Za-z]{8,}"
_AGENT_FIELD = re.compile(rb'"agentId":\s*"([^"]+)"')


def _agent_ids(corpus: Path) -> set[bytes]:
    """Agent ids as written in file names and `agentId` fields (short, so replaced only where known)."""
    ids: set[bytes] = set()
    for p in corpus.rglob("agent-*.jsonl"):
        ids.add(p.name[len("agent-"):-len(".jsonl")].encode())
    for p in corpus.rglob("*.jsonl"):
        ids.update(_AGENT_FIELD.findall(p.read_bytes()))
    return ids


class Template:
    """One corpus file split once into literal pieces and id pieces; each copy only re-joins them."""

    def __init__(self, rel: Path, data: bytes, pattern: re.Pattern[bytes]):
        self.rel = rel
        self.pieces = pattern.split(data)  # even indexes: literal bytes; odd: an id
        self.size = len(data)

    def render(self, mapping) -> bytes:
        p = self.pieces
        out = p[:]
        out[1::2] = [mapping(x) for x in p[1::2]]
        return b"".join(out)


def _new_id(copy: int, old: bytes, cache: dict[bytes, bytes]) -> bytes:
    new = cache.get(old)
    if new is None:
        h = hashlib.blake2b(b"%d:" % copy + old, digest_size=16).hexdigest().encode()
        if re.fullmatch(_UUID, old):
            new = b"-".join((h[:8], h[8:12], h[12:16], h[16:20], h[20:32]))
        elif b"_" in old:
            prefix = old.split(b"_", 1)[0]
            new = prefix + b"_" + h[: len(old) - len(prefix) - 1]
        else:  # agent id: keep its shape ("a" + hex, "acompact-" + hex)
            head = old.rstrip(b"0123456789abcdef")
            new = head + h[: len(old) - len(head)]
        cache[old] = new
    return new


def load_templates(corpus: Path = CORPUS) -> list[Template]:
    agents = sorted(_agent_ids(corpus), key=len, reverse=True)
    alts = [_UUID, _API_ID] + [rb"(?<![0-9A-Za-z])" + re.escape(a) + rb"(?![0-9A-Za-z])" for a in agents]
    pattern = re.compile(b"(" + b"|".join(alts) + b")")
    return [Template(p.relative_to(corpus), p.read_bytes(), pattern)
            for p in sorted(corpus.rglob("*")) if p.is_file() and p.suffix in (".jsonl", ".json")]


def build(out: Path, size_mb: float, corpus: Path = CORPUS, quiet: bool = False) -> list[Path]:
    """Write copies until `size_mb` is reached; returns the copy folders. Reuses copies already there."""
    templates = load_templates(corpus)
    per_copy = sum(t.size for t in templates)
    copies = max(1, -(-int(size_mb * 1024 * 1024) // per_copy))
    written = 0
    folders = []
    for k in range(copies):
        cache: dict[bytes, bytes] = {}

        def mapping(old: bytes, k=k, cache=cache) -> bytes:
            return _new_id(k, old, cache)

        base = out / f"copy-{k:04d}"
        folders.append(base)
        for t in templates:
            data = None
            rel = Path(*(_rename(part, mapping) for part in t.rel.parts))
            dest = base / rel
            if not (dest.exists() and dest.stat().st_size == t.size):
                data = t.render(mapping)
                dest.parent.mkdir(parents=True, exist_ok=True)
                tmp = dest.with_name(dest.name + ".tmp")
                tmp.write_bytes(data)
                os.replace(tmp, dest)
            written += t.size
        if not quiet:
            print(f"\rcopy {k + 1}/{copies}: {written / 2**20:.0f} MB", end="", file=sys.stderr, flush=True)
    if not quiet:
        print(file=sys.stderr)
    return folders


_NAME_ID = re.compile(r"^(agent-)?(.+?)(\.meta\.json|\.jsonl)?$")


def _rename(part: str, mapping) -> str:
    """Map the id inside a file or folder name (`<uuid>.jsonl`, `<uuid>/`, `agent-<id>.jsonl`)."""
    m = _NAME_ID.match(part)
    stem = m.group(2)
    if re.fullmatch(_UUID.decode(), stem) or m.group(1):
        return (m.group(1) or "") + mapping(stem.encode()).decode() + (m.group(3) or "")
    return part


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=float, default=1024)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "data" / "archive")
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    a = ap.parse_args(argv)
    folders = build(a.out, a.size_mb, a.corpus)
    files = [f for d in folders for f in d.rglob("*.jsonl")]
    print(f"{len(files)} files, {sum(f.stat().st_size for f in files) / 2**20:.1f} MB in {a.out}")


if __name__ == "__main__":
    main()
