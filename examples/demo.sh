#!/usr/bin/env bash
# The main job on the bundled example archive: ingest, look, search, mine, export.
# Run through `make demo`, which creates the environment first.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"
export VAULT_HOME="$PWD/.demo"          # keep the demo's state out of your real vault
export HF_HUB_OFFLINE=1
rm -rf .demo && mkdir -p .demo
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step vault ingest examples/claude-code
step vault ingest examples/claude-code          # a second run adds nothing
step vault stats
step vault sessions --project billing
step vault search "did you run the test suite" --limit 3
step vault search "money amounts come out one penny wrong" --mode semantic --limit 3
step vault mine
step vault stats --corrections
step vault pairs --limit 2
step vault personas
step vault export --format trl --out .demo/export-trl
step ls .demo/export-trl
echo
echo "Vault: .demo/vault.duckdb. Browse it with: VAULT_HOME=.demo $VENV/bin/vault tui"
