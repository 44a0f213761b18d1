"""Example sessions for the persona experiment (written for this project).

Two roles share the same questions but want opposite styles:
  terse     "terse: answers in one line, no preamble"
  detailed  "detailed: step-by-step explanations with examples"
In a `terse` session the assistant first answers at length and the user asks for one line;
in a `detailed` session it first answers in one line and the user asks for steps and an
example. Each correction is a preference pair: the revised answer is chosen, the first one
rejected, so the same two answers form opposite pairs in the two roles.
"""

PERSONAS = {
    "terse": "terse: answers in one line, no preamble",
    "detailed": "detailed: step-by-step explanations with examples",
}
CORRECTIONS = {
    "terse": ["too long. one line, no preamble", "shorter please, just the answer", "skip the tutorial, one line"],
    "detailed": ["explain it step by step, with an example", "that's too short, walk me through it",
                 "give me the steps and an example please"],
}

# (question, terse answer, detailed answer)
QA = [
    ("How do I undo my last git commit but keep the changes?",
     "git reset --soft HEAD~1",
     "Step 1: check what the last commit holds with git log -1. Step 2: run git reset --soft HEAD~1, which moves "
     "the branch back one commit. Step 3: your changes stay staged. Example: after committing a typo, reset, fix "
     "the file, then commit again."),
    ("How do I see which files changed in the last commit?",
     "git show --stat HEAD",
     "Step 1: run git show --stat HEAD. Step 2: read the list; each line is a file with its added and removed "
     "lines. Step 3: drop --stat to see the full diff. Example: git show --stat HEAD~2 does the same for an older "
     "commit."),
    ("How do I create a new branch and switch to it?",
     "git switch -c my-branch",
     "Step 1: make sure your work is committed or stashed. Step 2: run git switch -c my-branch, which creates "
     "the branch and moves to it. Step 3: push it with git push -u origin my-branch. Example: git switch -c "
     "fix/login-typo."),
    ("How do I count lines in a file?",
     "wc -l file.txt",
     "Step 1: open a terminal in the folder. Step 2: run wc -l file.txt; it prints the number of newline "
     "characters. Step 3: for many files use a glob. Example: wc -l *.py prints one count per file and a total."),
    ("How do I find all Python files under a folder?",
     "find . -name '*.py'",
     "Step 1: choose the start folder, here the current one. Step 2: run find . -name '*.py'; the quotes stop "
     "the shell from expanding the star. Step 3: add -type f to skip folders. Example: find src -type f -name "
     "'*.py'."),
    ("How do I search for a word in all files recursively?",
     "grep -rn word .",
     "Step 1: pick the folder to search. Step 2: run grep -rn word . where -r recurses and -n prints line "
     "numbers. Step 3: add -i to ignore case. Example: grep -rni timeout src lists every line mentioning "
     "timeout."),
    ("How do I reverse a list in Python?",
     "xs[::-1]",
     "Step 1: decide whether you need a copy. Step 2: for a copy use xs[::-1], a slice with step -1. Step 3: to "
     "reverse in place call xs.reverse(). Example: [1, 2, 3][::-1] gives [3, 2, 1]."),
    ("How do I read a JSON file in Python?",
     "json.load(open('data.json'))",
     "Step 1: import json. Step 2: open the file with a with block so it closes. Step 3: call json.load on the "
     "file object. Example: with open('data.json') as f: data = json.load(f), then data['name'] reads a field."),
    ("How do I remove duplicates from a list but keep the order?",
     "list(dict.fromkeys(xs))",
     "Step 1: remember that dict keys are unique and keep insertion order. Step 2: build dict.fromkeys(xs). "
     "Step 3: turn it back into a list. Example: list(dict.fromkeys([3, 1, 3, 2])) gives [3, 1, 2]."),
    ("How do I get the current date in Python?",
     "datetime.date.today()",
     "Step 1: import datetime. Step 2: call datetime.date.today() for the local date. Step 3: format it with "
     "isoformat() or strftime. Example: datetime.date.today().isoformat() returns a string like 2026-10-05."),
    ("How do I make an HTTP GET request in Python?",
     "requests.get(url).text",
     "Step 1: install requests with pip. Step 2: call r = requests.get(url, timeout=10). Step 3: check "
     "r.status_code, then read r.text or r.json(). Example: requests.get('https://example.com').status_code "
     "is 200."),
    ("How do I sort a list of dicts by a key?",
     "sorted(rows, key=lambda r: r['age'])",
     "Step 1: pick the key to sort on. Step 2: pass a key function to sorted. Step 3: add reverse=True for "
     "descending. Example: sorted(rows, key=lambda r: r['age']) puts the youngest first; use operator.itemgetter "
     "for speed."),
    ("What does HTTP status 404 mean?",
     "Not found.",
     "Step 1: the 4xx family means a client error. Step 2: 404 says the server is reachable but has nothing at "
     "that path. Step 3: check the URL and the route. Example: GET /users/99 returns 404 when user 99 does not "
     "exist."),
    ("What does HTTP status 503 mean?",
     "Service unavailable.",
     "Step 1: the 5xx family means a server error. Step 2: 503 says the server is overloaded or down for "
     "maintenance. Step 3: retry later, often after the Retry-After header. Example: a deploy in progress can "
     "return 503 for a minute."),
    ("What is the difference between PUT and PATCH?",
     "PUT replaces, PATCH updates part.",
     "Step 1: PUT sends the whole resource and replaces it. Step 2: PATCH sends only the fields to change. "
     "Step 3: PUT is idempotent by design. Example: PATCH /users/1 with {'email': 'a@b.c'} changes the e-mail "
     "and leaves the name alone."),
    ("How do I select the ten newest rows in SQL?",
     "SELECT * FROM t ORDER BY created_at DESC LIMIT 10;",
     "Step 1: find the column holding the time, say created_at. Step 2: sort newest first with ORDER BY "
     "created_at DESC. Step 3: keep ten rows with LIMIT 10. Example: SELECT id, title FROM posts ORDER BY "
     "created_at DESC LIMIT 10;"),
    ("How do I count rows per group in SQL?",
     "SELECT k, COUNT(*) FROM t GROUP BY k;",
     "Step 1: pick the grouping column k. Step 2: write SELECT k, COUNT(*) FROM t GROUP BY k. Step 3: filter "
     "groups with HAVING. Example: SELECT country, COUNT(*) FROM users GROUP BY country HAVING COUNT(*) > 100;"),
    ("How do I add a column to an existing SQL table?",
     "ALTER TABLE t ADD COLUMN c TEXT;",
     "Step 1: choose the name and type. Step 2: run ALTER TABLE t ADD COLUMN c TEXT. Step 3: add a default if "
     "old rows need a value. Example: ALTER TABLE users ADD COLUMN active BOOLEAN DEFAULT true;"),
    ("How do I list running Docker containers?",
     "docker ps",
     "Step 1: make sure the Docker daemon runs. Step 2: run docker ps to see running containers with their ids "
     "and ports. Step 3: add -a to include stopped ones. Example: docker ps --format '{{.Names}}' prints only "
     "the names."),
    ("How do I open a shell inside a running container?",
     "docker exec -it NAME sh",
     "Step 1: find the container name with docker ps. Step 2: run docker exec -it NAME sh, where -it gives an "
     "interactive terminal. Step 3: use bash instead of sh if the image has it. Example: docker exec -it web "
     "bash."),
    ("How do I see the logs of a container?",
     "docker logs -f NAME",
     "Step 1: get the container name from docker ps. Step 2: run docker logs NAME to print everything so far. "
     "Step 3: add -f to follow new lines. Example: docker logs -f --tail 50 api shows the last fifty lines and "
     "keeps going."),
    ("How do I run only one test with pytest?",
     "pytest tests/test_x.py::test_name",
     "Step 1: find the file and the test function. Step 2: run pytest tests/test_x.py::test_name. Step 3: or "
     "select by name with -k. Example: pytest -k refund -q runs every test whose name contains refund."),
    ("How do I see print output in pytest?",
     "pytest -s",
     "Step 1: know that pytest captures stdout by default. Step 2: pass -s to turn capturing off. Step 3: or "
     "read the captured output in the failure report. Example: pytest -s tests/test_api.py shows your prints "
     "live."),
    ("How do I stop at the first failing test?",
     "pytest -x",
     "Step 1: run the suite with -x, which stops at the first failure. Step 2: combine with --lf to rerun last "
     "failures. Step 3: add --pdb to open a debugger there. Example: pytest -x --lf -q after a failing run."),
    ("How do I check which process listens on a port?",
     "lsof -i :8080",
     "Step 1: pick the port, here 8080. Step 2: run lsof -i :8080 to list the process and its pid. Step 3: on "
     "systems without lsof use ss -ltnp. Example: ss -ltnp | grep 8080 shows the same."),
    ("How do I see disk usage of a folder?",
     "du -sh folder",
     "Step 1: open a terminal. Step 2: run du -sh folder; -s sums and -h prints human sizes. Step 3: to find big "
     "subfolders, list them sorted. Example: du -h --max-depth=1 . | sort -h shows the largest last."),
    ("How do I make a script executable?",
     "chmod +x script.sh",
     "Step 1: add a shebang line such as #!/usr/bin/env bash at the top. Step 2: run chmod +x script.sh. Step 3: "
     "run it with ./script.sh. Example: chmod u+x deploy.sh gives execute rights to the owner only."),
    ("How do I create a Python virtual environment?",
     "python3 -m venv .venv",
     "Step 1: go to the project folder. Step 2: run python3 -m venv .venv. Step 3: activate it with source "
     ".venv/bin/activate, then pip install what you need. Example: .venv/bin/pip install requests without "
     "activating."),
    ("How do I pin the exact versions of installed packages?",
     "pip freeze > requirements.txt",
     "Step 1: activate the environment. Step 2: run pip freeze > requirements.txt to write every package with "
     "its version. Step 3: reinstall elsewhere with pip install -r requirements.txt. Example: a line reads "
     "requests==2.32.3."),
    ("How do I convert a string to an integer in JavaScript?",
     "Number.parseInt(s, 10)",
     "Step 1: decide how to treat bad input. Step 2: call Number.parseInt(s, 10), always giving the radix. "
     "Step 3: check the result with Number.isNaN. Example: Number.parseInt('42px', 10) gives 42, while "
     "Number('42px') gives NaN."),
    ("How do I copy an object in JavaScript?",
     "structuredClone(obj)",
     "Step 1: decide between a shallow and a deep copy. Step 2: for shallow use {...obj}. Step 3: for deep use "
     "structuredClone(obj). Example: const b = structuredClone(a); b.tags.push('x') leaves a.tags unchanged."),
    ("How do I check if a key exists in a Python dict?",
     "'k' in d",
     "Step 1: use the in operator, which checks keys. Step 2: write 'k' in d to get True or False. Step 3: to "
     "read with a fallback use d.get('k', default). Example: 'port' in config before reading config['port']."),
    ("How do I merge two dicts in Python?",
     "a | b",
     "Step 1: know that later values win on shared keys. Step 2: on Python 3.9+ write a | b for a new dict. "
     "Step 3: use a |= b to update a in place. Example: {'x': 1} | {'x': 2, 'y': 3} gives {'x': 2, 'y': 3}."),
    ("How do I format a number with two decimals in Python?",
     "f'{x:.2f}'",
     "Step 1: use an f-string. Step 2: add the format spec .2f after a colon. Step 3: add a comma for thousands "
     "separators. Example: f'{1234.5:,.2f}' gives 1,234.50 and f'{0.1:.2f}' gives 0.10."),
    ("How do I measure how long a piece of Python code takes?",
     "time.perf_counter() before and after",
     "Step 1: import time. Step 2: store t = time.perf_counter() before the code. Step 3: subtract after it. "
     "Example: t = time.perf_counter(); run(); print(time.perf_counter() - t) prints the seconds; use timeit for "
     "tiny snippets."),
    ("How do I rename a git branch?",
     "git branch -m new-name",
     "Step 1: switch to the branch. Step 2: run git branch -m new-name. Step 3: if it was pushed, push the new "
     "name and delete the old one. Example: git push origin -u new-name then git push origin --delete old-name."),
]

GROUP = 3  # questions per session
