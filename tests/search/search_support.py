"""Paths of the shared corpora used by the search tests (kept here: `conftest` is ambiguous to import)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPORA = ROOT.parent / "shared" / "corpora"
CLAUDE_CORPUS = CORPORA / "claude-code"
CONVERSATIONS = CORPORA / "conversations"
SMALL_SESSION = CLAUDE_CORPUS / "sniffly" / "fed8ce56-bc79-401f-a83e-af084253362f.jsonl"
SECOND_FILE = CONVERSATIONS / "brain_explore.jsonl"
