"""Claude Code hooks: `vault hooks install|uninstall|status` and what `vault ingest --hook` runs (docs/hooks.md).

Installing adds, per event (SessionEnd, PreCompact and optionally Stop), one hook group of our own to
Claude Code's user settings (`$CLAUDE_CONFIG_DIR/settings.json`, else `~/.claude/settings.json`):

    {"hooks": [{"type": "command", "command": "<this vault> [--db ...] ingest --hook"}]}

Our groups are recognised by that command (`ingest --hook`), so installing twice adds nothing and
uninstalling removes exactly them. The file is parsed, changed and written back atomically with its own
indentation; the original bytes are kept beside it (`settings.json.vault-backup`), and when the file is
still exactly what install wrote, uninstall puts those bytes back (so install + uninstall is a no-op to
the byte). A file that is not valid JSON is refused with its line and column, and never rewritten.

The hook run never disturbs the session. `vault ingest --hook` (the quick half) parses the hook JSON,
records the transcript and its subagent files in a pending folder (`<vault>.hook-pending/`, one small
file per path) and starts a detached worker, then exits 0 without a word: Claude Code waits only for
that. The worker ingests everything pending if it gets the vault's write lock within LOCK_WAIT
seconds and clears what it ingested; if another process holds the lock it leaves the paths pending for
the next ingest (any `vault ingest` takes them). Each run is logged in `<vault>.hook-runs.json`.

One module per concern, each importing only those above it in this list (stdlib only at load: every
`vault ingest` imports `pending`):

- `command`: the command line a hook runs (`hook_command`: the installed `vault` program) and how ours is recognised;
- `claude_settings`: Claude Code's settings.json, read (refused in one line when unusable) and written atomically;
- `install`: adding and removing our hook groups (`install`, `uninstall`), with the backup of the original;
- `pending`: the pending list and the run log, beside the vault;
- `status`: what `vault hooks status` shows;
- `accept`: the quick half of a hook run (`accept_hook`, `spawn_worker`);
- `worker`: the slow half, the detached ingest (`work`).
"""
