"""`python -m vault.cli`: the `vault` program, as its console script (pyproject `[project.scripts]`) runs it; for a
checkout whose code is importable but not installed (tests, worktrees sharing a virtualenv)."""

import sys

from vault.cli import main

if __name__ == "__main__":
    sys.exit(main())
