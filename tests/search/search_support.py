"""Files used by the search tests (kept here: `conftest` is ambiguous to import)."""

from support import CLAUDE_CORPUS, CONVERSATIONS, CORPORA, claude_code_file  # noqa: F401

SMALL_SESSION = claude_code_file("sniffly/fed8ce56-bc79-401f-a83e-af084253362f.jsonl")
# A second source to add after the first: a bare clone uses a licensed conversation of tests/corpus.
SECOND_FILE = CONVERSATIONS / ("brain_explore.jsonl" if CORPORA.is_dir() else "cctrace-js.jsonl")
