"""A small Claude Code archive with planted secrets and personal data, for the leak scan (issue 13).

Three projects, one per OS home layout (Windows, macOS, Linux), each with corrections whose feedback
carries planted values, so that they reach pairs, personas, role names, exports and API requests.
`NEEDLES` are what must never come out: every 10-character piece of a secret's random part (a cut
secret leaks its prefix), the credentials of a database URL, the local part of e-mails, phone
numbers, IPv4 addresses and the user names of the home folders.

The conversations are written by hand for this project (examples/make_examples.py plays them).
"""

from __future__ import annotations

import datetime as dt
import sys
import uuid
from pathlib import Path

from support import EXAMPLES

sys.path.insert(0, str(EXAMPLES))
from make_examples import NS, Writer, play, slug, write_jsonl  # noqa: E402

ANTHROPIC = "sk-ant-api03-Q7mZ2xR9vB4nK8wL1pT6yH3jF5dS0aG2cV9bN7mX4qW1eR8tY6uI3oP5lK2jH0_LeakCanary-AA"
OPENAI = "sk-proj-Tq8Lm2Vx9Rb4Nc7Kw1Py6Hj3Fd5Sa0GzLeak"
AWS_KEY = "AKIAQ3EGUT7LZ4WXYK2M"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYLeakCanary1"
GITHUB = "ghp_R8tK2mW9xQ4vN7bL1pZ6yH3jF5dS0aG2cV9b"
SLACK = "xoxb-204857-409612-LeakCanarySlackT0ken9x8y7z"
DB_URL = "postgres://ledger_admin:Sup3rS3cretLeak@db.internal.example:5432/ledger"
EMAILS = ("jsmith.private@example.org", "mkowalski.home@example.net")
PHONES = ("+1 415 555 2671", "020 7946 0958", "+49 30 901820", "(212) 555-0187")
IPS = ("203.0.113.77", "10.20.30.40", "198.51.100.23")
WIN, MAC, LINUX = "C:\\Users\\jsmith\\ledger-svc", "/Users/mkowalski/dev/shop", "/home/lchen/work/etl"
USERS = ("jsmith", "mkowalski", "lchen")


def _pieces(random_part: str, n: int = 10) -> list[str]:
    return [random_part[i:i + n] for i in range(0, max(1, len(random_part) - n + 1))]


# name -> substrings whose presence in an output is a leak
NEEDLES: dict[str, list[str]] = {
    "anthropic_key": _pieces(ANTHROPIC.removeprefix("sk-ant-api03-")),
    "openai_key": _pieces(OPENAI.removeprefix("sk-proj-")),
    "aws_access_key": [AWS_KEY, AWS_KEY[4:]],
    "aws_secret_key": _pieces(AWS_SECRET),
    "github_token": _pieces(GITHUB.removeprefix("ghp_")),
    "slack_token": _pieces(SLACK.removeprefix("xoxb-")),
    "database_url": ["ledger_admin", "Sup3rS3cretLeak"],
    "email": [e.split("@")[0] for e in EMAILS],
    "phone": [*PHONES, "555 2671", "7946 0958", "901820", "555-0187"],
    "ipv4": list(IPS),
    "home_path": [*USERS, "C:\\Users\\jsmith", "/Users/mkowalski", "/home/lchen"],
}

# A long command (> 160 characters, miner.render.TOOL_ARG_CHARS) whose cut falls inside the GitHub token.
LONG_PUSH = ("cd " + WIN + " && git fetch --all --prune --tags && git status --short --branch"
             " && git remote set-url origin https://x-access-token:" + GITHUB
             + "@github.com/acme/ledger.git && git push origin main")
assert LONG_PUSH.index(GITHUB) < 159 < LONG_PUSH.index(GITHUB) + len(GITHUB)

SESSIONS = [
    {"name": "leak-ledger", "cwd": WIN, "start": "2026-11-02T09:00:00", "script": [
        ("user", f"Connect the ledger service to {DB_URL} and expose GET /balance."),
        ("tool", "Read", {"file_path": WIN + "\\config.py"},
         f"DB_URL = '{DB_URL}'\nANTHROPIC_API_KEY = '{ANTHROPIC}'\nHOST = '{IPS[0]}'"),
        ("say", f"Done: config.py now holds ANTHROPIC_API_KEY = '{ANTHROPIC}' and the service listens on "
                f"{IPS[0]}; the files are in {WIN}."),
        ("user", f"no, never hardcode credentials, ask {EMAILS[0]} for them instead. Keys like {ANTHROPIC} do not "
                 f"go in config.py; call {PHONES[0]} if unsure, my files live in {WIN}"),
        ("tool", "Bash", {"command": LONG_PUSH}, "To github.com:jdoe/app.git\n   4f1c2d9..8a7b6e3  main -> main"),
        ("say", "Moved the credentials to environment variables (ANTHROPIC_API_KEY, DATABASE_URL) and pushed."),
        ("user", "thanks"),
        ("user", "now add the OpenAI fallback client"),
        ("say", f"Added the fallback with OPENAI_API_KEY={OPENAI} inline, and a Slack alert with token {SLACK}."),
        ("user", f"don't paste keys like {OPENAI} or {SLACK} into answers. My desk phone is {PHONES[1]}"),
        ("say", "Understood: the client reads OPENAI_API_KEY and SLACK_TOKEN from the environment now."),
        ("user", "good"),
    ]},
    # The same standing rule in a second session of the role: offline personas keep only rules stated in 2+.
    {"name": "leak-ledger-2", "cwd": WIN, "start": "2026-11-05T09:00:00", "script": [
        ("user", "Add a health check endpoint to the ledger service."),
        ("say", f"Added GET /health; it pings {DB_URL} with ANTHROPIC_API_KEY = '{ANTHROPIC}' set inline."),
        ("user", f"never hardcode credentials, ask {EMAILS[0]} for them instead. {ANTHROPIC} must come from the "
                 f"environment; the repo is in {WIN}"),
        ("say", "The health check now reads DATABASE_URL and ANTHROPIC_API_KEY from the environment."),
        ("user", "thanks"),
    ]},
    {"name": "leak-shop", "cwd": MAC, "start": "2026-11-03T10:00:00", "script": [
        ("user", f"Deploy the shop to {IPS[1]} with AWS key {AWS_KEY} and aws_secret_access_key = {AWS_SECRET}"),
        ("tool", "Bash", {"command": f"scp -r {MAC}/dist deploy@{IPS[1]}:/srv/shop"}, "dist/index.html 100%"),
        ("say", f"Deployed to {IPS[1]} using {AWS_KEY}; logs are in {MAC}/logs."),
        ("user", f"no, don't echo the AWS key {AWS_KEY} back to me. Write to {EMAILS[1]} or ring {PHONES[2]} "
                 f"before deploying from {MAC}"),
        ("say", "Deployed again without printing any credential; the key stays in the environment."),
        ("user", "perfect"),
    ]},
    {"name": "leak-etl", "cwd": LINUX, "start": "2026-11-04T11:00:00", "script": [
        ("user", f"Why does the nightly ETL job on {IPS[2]} fail?"),
        ("say", f"It fails because /home/lchen/work/etl/run.sh calls {PHONES[3]} as a port. I rewrote the whole "
                "scheduler, added retries, a dashboard, metrics and a long explanation of cron semantics."),
        ("user", f"no, keep it short and fix only the bug. Server {IPS[2]}, home /home/lchen, "
                 f"phone {PHONES[3]}, token {GITHUB}"),
        ("say", "The job's port variable was empty; run.sh now defaults it to 5432."),
        ("user", "lgtm"),
    ]},
]
CORRECTION_PREFIXES = ("no, never hardcode", "never hardcode", "don't paste keys", "no, don't echo",
                       "no, keep it short")


def write_archive(root: Path) -> Path:
    """Write the planted sessions under root/ (Claude Code layout); returns root."""
    for s in SESSIONS:
        project_dir = root / slug(s["cwd"])
        project_dir.mkdir(parents=True, exist_ok=True)
        sid = str(uuid.uuid5(NS, s["name"]))
        w = Writer(sid, s["cwd"], "main", dt.datetime.fromisoformat(s["start"]))
        play(w, s["script"], root, project_dir)
        write_jsonl(project_dir / f"{sid}.jsonl", w.lines)
    return root


def label_corrections(con) -> int:
    """Make sure the planted feedback turns are labelled corrections (whatever the miner said)."""
    from miner.mine import store_hand_labels

    rows = con.execute("SELECT msg_id, text FROM messages WHERE kind = 'human_prompt'").fetchall()
    return store_hand_labels(con, [{"msg_id": msg_id, "label": "reattempt_with_feedback"} for msg_id, text in rows
                                   if (text or "").startswith(CORRECTION_PREFIXES)], version="planted")


def leaks(data: bytes | str) -> dict[str, list[str]]:
    """kind -> the needles found in `data`."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    found = {k: [n for n in ns if n in text] for k, ns in NEEDLES.items()}
    return {k: v for k, v in found.items() if v}


def build_vault(path: Path, archive: Path) -> Path:
    """ingest -> mine (heuristic, offline) -> planted corrections labelled -> roles -> pairs (all accepted in
    review) -> personas (offline)."""
    from miner.mine import mine
    from miner.pairs import build_pairs
    from miner.personas import build_personas
    from miner.tables import assign_roles
    from vault.index.embeddings import load_model
    from vault.index.settings import DEFAULT_MODEL
    from vault.ingest import ingest
    from vault.store import open_vault

    con = open_vault(path)
    try:
        ingest(con, [archive])
        mine(con, backend="heuristic", build_pairs_too=False)
        assert label_corrections(con) == len(CORRECTION_PREFIXES)
        assign_roles(con, [])
        build_pairs(con)
        # accepted in review: exported although the `secrets` filter removes them (as a person may do)
        con.execute("INSERT INTO reviews (target, target_id, decision) SELECT 'pair', pair_id, 'accept' FROM pairs")
        build_personas(con, model=load_model(DEFAULT_MODEL))
    finally:
        con.close()
    return path


def decoded_views(path: Path) -> list[str]:
    """What a reader of the file sees: its text (JSON escapes undone too), parquet and arrow tables as rows."""
    import json

    data = path.read_bytes()
    views = [data.decode("utf-8", "replace")]
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        views.append(json.dumps(pq.read_table(path).to_pylist(), ensure_ascii=False, default=str))
    elif path.suffix == ".arrow":
        import pyarrow as pa

        with pa.memory_map(str(path)) as src:
            views.append(json.dumps(pa.ipc.open_stream(src).read_all().to_pylist(), ensure_ascii=False, default=str))
    views += [v.replace("\\\\", "\\") for v in views]  # "C:\\\\Users" in JSON is C:\Users to its reader
    return views
