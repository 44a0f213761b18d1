"""The example conversations (written for this project). Steps are played by make_examples.py.

Planted standing preferences, which `vault personas` should recover:
- billing-api (backend work): run the tests before claiming something is fixed; read the
  spec before guessing; never edit an applied migration, add a new one.
- docs-site (writing): keep it short; no emojis; no preamble.
data-pipeline carries planted secrets (an API key, an e-mail, the home path) for the
redaction tests.
"""

BILLING = "/home/jdoe/code/billing-api"
DOCS = "/home/jdoe/code/docs-site"
PIPE = "/home/jdoe/code/data-pipeline"

SESSIONS = [
    {
        "name": "billing-invoice-total", "cwd": BILLING, "branch": "feat/invoice-total",
        "start": "2026-10-05T09:12:00",
        "script": [
            ("title", "Invoice total endpoint"),
            ("user", "Add an endpoint GET /invoices/{id}/total that returns the invoice total including tax."),
            ("think", "I need to find the invoice router and the tax helper."),
            ("tool", "Grep", {"pattern": "def get_invoice", "path": "src"}, "src/billing/routes/invoices.py:41: def get_invoice(invoice_id: int):"),
            ("tool", "Read", {"file_path": f"{BILLING}/src/billing/routes/invoices.py"}, "     1\tfrom fastapi import APIRouter\n    41\tdef get_invoice(invoice_id: int):\n    42\t    return repo.get(invoice_id)"),
            ("tool", "Edit", {"file_path": f"{BILLING}/src/billing/routes/invoices.py", "old_string": "    return repo.get(invoice_id)", "new_string": "    return repo.get(invoice_id)\n\n@router.get('/invoices/{invoice_id}/total')\ndef invoice_total(invoice_id: int):\n    inv = repo.get(invoice_id)\n    return {'total': inv.subtotal * (1 + inv.tax_rate)}"}, "The file has been updated."),
            ("say", "Done! I added `GET /invoices/{id}/total`. It loads the invoice and returns `subtotal * (1 + tax_rate)`. It should work now."),
            ("user", "did you run the tests? don't tell me it's done before the test suite passes"),
            ("tool", "Bash", {"command": "pytest -q tests/test_invoices.py"}, "F.\nFAILED tests/test_invoices.py::test_total_rounds_to_cents - assert 107.00000000000001 == 107.0\n1 failed, 13 passed in 0.84s", True),
            ("say", "You're right, I should have run them. One test fails: the total is not rounded to cents. I'll use `Decimal` and quantize to two places."),
            ("tool", "Edit", {"file_path": f"{BILLING}/src/billing/routes/invoices.py", "old_string": "    return {'total': inv.subtotal * (1 + inv.tax_rate)}", "new_string": "    total = (Decimal(inv.subtotal) * (1 + Decimal(inv.tax_rate))).quantize(Decimal('0.01'))\n    return {'total': str(total)}"}, "The file has been updated."),
            ("tool", "Bash", {"command": "pytest -q"}, "..............\n14 passed in 0.91s"),
            ("say", "All 14 tests pass now. The total is computed with `Decimal` and rounded to cents, returned as a string to keep precision."),
            ("user", "great, that works"),
            ("user", "now add pagination to GET /invoices: limit and offset query params, default limit 50"),
            ("tool", "Edit", {"file_path": f"{BILLING}/src/billing/routes/invoices.py", "old_string": "def list_invoices():", "new_string": "def list_invoices(limit: int = 50, offset: int = 0):"}, "The file has been updated."),
            ("tool", "Bash", {"command": "pytest -q"}, "...............\n15 passed in 0.95s"),
            ("say", "Added `limit` (default 50) and `offset` to `GET /invoices`, with a test for the second page. 15 tests pass."),
            ("user", "thanks"),
        ],
    },
    {
        "name": "billing-refund-rounding", "cwd": BILLING, "branch": "fix/refund-rounding",
        "start": "2026-10-08T14:03:00",
        "script": [
            ("user", "Why are partial refunds off by one cent sometimes?"),
            ("say", "This is most likely floating point error: 0.1 + 0.2 is not exactly 0.3 in binary, so the refund amount drifts. Switching the amounts to floats with `round()` at the end should fix it."),
            ("user", "No, read the spec in docs/refunds.md first before guessing. The rounding rule is in there."),
            ("tool", "Read", {"file_path": f"{BILLING}/docs/refunds.md"}, "## Partial refunds\nRefunds are prorated per line item and each line is rounded half-even to the cent. The remainder goes to the last line."),
            ("say", "The spec says each line item is rounded half-even to the cent and the remainder goes to the last line. Our code rounds the total once with `round()` (half-up on Decimal strings), so the lines don't add up. I'll implement per-line half-even rounding with the remainder on the last line."),
            ("reject", "Edit", {"file_path": f"{BILLING}/migrations/0007_refund_amounts.py", "old_string": "Numeric(10, 2)", "new_string": "Numeric(12, 4)"}, "don't edit an applied migration, add a new migration instead"),
            ("say", "Understood. I'll leave 0007 alone and add a new migration 0012 that widens the column."),
            ("tool", "Write", {"file_path": f"{BILLING}/migrations/0012_widen_refund_amounts.py", "content": "..."}, "File created successfully."),
            ("tool", "Bash", {"command": "pytest -q tests/test_refunds.py"}, "......\n6 passed in 0.40s"),
            ("say", "Per-line half-even rounding is in, with the remainder on the last line, and a new migration 0012. The 6 refund tests pass, including a new one with three lines of 33.33."),
            ("user", "perfect"),
        ],
    },
    {
        "name": "billing-currency-bug", "cwd": BILLING, "branch": "fix/currency",
        "start": "2026-10-14T10:30:00",
        "script": [
            ("user", "The CSV export crashes for invoices in EUR. Fix it."),
            ("task", "Find the CSV export code", "Find where invoices are exported to CSV and how currency is handled. Report file paths and the relevant functions.",
             [("tool", "Grep", {"pattern": "csv", "path": "src"}, "src/billing/export/csv_export.py:12: def export_invoices(rows):"),
              ("tool", "Read", {"file_path": f"{BILLING}/src/billing/export/csv_export.py"}, "12 def export_invoices(rows):\n13     for r in rows:\n14         yield [r['id'], r['amount'], SYMBOLS[r['currency']]]"),
              ("say", "The export is in src/billing/export/csv_export.py: `export_invoices` looks up `SYMBOLS[r['currency']]`, and SYMBOLS only has USD and GBP.")],
             "The export is in src/billing/export/csv_export.py; `export_invoices` indexes SYMBOLS by currency, and SYMBOLS lacks EUR."),
            ("tool", "Edit", {"file_path": f"{BILLING}/src/billing/export/csv_export.py", "old_string": "SYMBOLS = {'USD': '$', 'GBP': '£'}", "new_string": "SYMBOLS = {'USD': '$', 'GBP': '£', 'EUR': '€'}"}, "The file has been updated."),
            ("say", "Fixed: EUR was missing from the symbol table. The export works for EUR invoices now."),
            ("user", "Traceback (most recent call last):\n  File \"src/billing/export/csv_export.py\", line 14, in export_invoices\n    yield [r['id'], r['amount'], SYMBOLS[r['currency']]]\nKeyError: 'currency'"),
            ("say", "The rows from the archive table have no `currency` key at all (older invoices). I'll default to the account currency when the key is missing and add a test with an old row."),
            ("tool", "Bash", {"command": "pytest -q tests/test_export.py"}, "F\nFAILED tests/test_export.py::test_old_rows - KeyError: 'account_currency'", True),
            ("interrupt",),
            ("user", "continue"),
            ("tool", "Edit", {"file_path": f"{BILLING}/src/billing/export/csv_export.py", "old_string": "SYMBOLS[r['currency']]", "new_string": "SYMBOLS[r.get('currency') or DEFAULT_CURRENCY]"}, "The file has been updated."),
            ("tool", "Bash", {"command": "pytest -q"}, "..................\n18 passed in 1.02s"),
            ("say", "Old rows now fall back to `DEFAULT_CURRENCY`. I ran the whole suite this time: 18 passed, including the new old-row export test."),
            ("user", "ok, it works now. thanks"),
        ],
    },
    {
        "name": "billing-question", "cwd": BILLING, "branch": "main",
        "start": "2026-10-21T16:45:00",
        "script": [
            ("user", "What does the `dunning_level` field on accounts mean?"),
            ("tool", "Grep", {"pattern": "dunning_level", "path": "src"}, "src/billing/models.py:88:    dunning_level = Column(Integer, default=0)  # reminders sent for overdue invoices"),
            ("say", "`dunning_level` counts the payment reminders sent for an account's overdue invoices (0 = none). It is raised by the nightly reminder job and reset when the balance is paid."),
            ("user", "thanks, that's what I needed"),
        ],
    },
    {
        "name": "billing-webhook", "cwd": BILLING, "branch": "feat/webhooks",
        "start": "2026-10-28T11:00:00",
        "script": [
            ("reminder", "Add a webhook that fires when an invoice is paid"),
            ("tool", "Write", {"file_path": f"{BILLING}/src/billing/webhooks.py", "content": "..."}, "File created successfully."),
            ("say", "I added `invoice.paid` webhooks with HMAC signatures and retries. This should be working now."),
            ("user", "you didn't run the tests again. run the suite before you say it works"),
            ("tool", "Bash", {"command": "pytest -q"}, "...................F\nFAILED tests/test_webhooks.py::test_signature - assert 'sha256=' in header", True),
            ("say", "One failure: the signature header lacks the `sha256=` prefix the test expects. Fixing it."),
            ("tool", "Edit", {"file_path": f"{BILLING}/src/billing/webhooks.py", "old_string": "header = sig", "new_string": "header = f'sha256={sig}'"}, "The file has been updated."),
            ("tool", "Bash", {"command": "pytest -q"}, "....................\n20 passed in 1.30s"),
            ("say", "20 passed. The signature header is now `sha256=<hex>`."),
            ("queued", "also log the delivery attempts"),
            ("say", "Delivery attempts are logged at INFO with the event id and HTTP status."),
            ("user", "lgtm"),
        ],
    },
    {
        "name": "docs-readme-intro", "cwd": DOCS, "branch": "main",
        "start": "2026-10-06T08:30:00",
        "script": [
            ("user", "Write a short intro paragraph for the README of the docs site."),
            ("say", "Great question! 🎉 Here's an intro for your README:\n\nWelcome to the documentation site! 📚 This site is the central place where you will find everything you need to know about our product, from getting started guides to in-depth API references. 🚀\n\nWhether you're a beginner or an experienced developer, our docs are designed to help you succeed. We cover installation, configuration, deployment, troubleshooting and much more. 💡\n\nWe hope you enjoy reading and please contribute! 🙌"),
            ("user", "too long. two sentences max, and no emojis"),
            ("say", "This site holds the product documentation: guides, configuration and the API reference. Edit any page with the link at its bottom."),
            ("user", "good"),
        ],
    },
    {
        "name": "docs-changelog", "cwd": DOCS, "branch": "release-2.0",
        "start": "2026-10-13T13:20:00",
        "script": [
            ("user", "Summarise the 2.0 changelog for the release notes page."),
            ("tool", "Read", {"file_path": f"{DOCS}/CHANGELOG.md"}, "## 2.0.0\n- new sidebar\n- dark mode\n- search rewritten\n- dropped IE11\n- 40 bug fixes"),
            ("say", "Absolutely! I'd be happy to help you summarise the changelog. Release notes are an important way to communicate with your users, so let's make them clear and engaging.\n\nVersion 2.0 is our biggest release yet, bringing a brand-new sidebar that makes navigation easier than ever, a beautiful dark mode for late-night reading, a completely rewritten search engine that is faster and more accurate, and more than forty bug fixes. Please note that Internet Explorer 11 is no longer supported.\n\nLet me know if you'd like me to adjust the tone!"),
            ("user", "skip the preamble and keep it short, a bullet list is enough"),
            ("say", "- New sidebar\n- Dark mode\n- Faster, more accurate search\n- 40 bug fixes\n- IE11 no longer supported"),
            ("user", "thanks"),
        ],
    },
    {
        "name": "docs-sidebar-howto", "cwd": DOCS, "branch": "main",
        "start": "2026-10-20T09:05:00",
        "script": [
            ("user", "How do I configure the sidebar order?"),
            ("say", "Sure! ✨ The sidebar is one of the most powerful features of the docs site. Let me walk you through everything step by step.\n\nFirst, it's important to understand that the sidebar is generated from the folder structure. Each folder becomes a section and each file becomes a page. By default, pages are sorted alphabetically, which may not be what you want.\n\nTo change this, you can create a `_sidebar.yml` file in the docs root. In it, you list the pages in the order you want. You can also nest sections. Finally, restart the dev server to see your changes. 🎉"),
            ("user", "shorter please, just the config snippet. and drop the emojis"),
            ("say", "```yaml\n# docs/_sidebar.yml\n- intro.md\n- guides/\n- reference/api.md\n```"),
            ("user", "perfect"),
            ("user", "Now add a page listing the keyboard shortcuts of the search box."),
            ("tool", "Write", {"file_path": f"{DOCS}/guides/shortcuts.md", "content": "# Keyboard shortcuts\n\n| key | action |\n|---|---|\n| / | focus search |\n| Esc | close |"}, "File created successfully."),
            ("say", "Added guides/shortcuts.md with the two search shortcuts."),
            ("user", "thanks"),
        ],
    },
    {
        "name": "docs-faq", "cwd": DOCS, "branch": "main",
        "start": "2026-11-03T10:10:00",
        "script": [
            ("user", "Draft an FAQ entry: how do I reset my password?"),
            ("say", "Of course! Happy to help with that. 😊 Resetting your password is easy and only takes a minute! First, go to the login page. Then click the \"Forgot password?\" link below the form. Enter your e-mail address and we'll send you a reset link right away. Check your spam folder if it doesn't arrive within a few minutes! 🔑"),
            ("user", "Too wordy and no emojis please. One line."),
            ("say", "Click \"Forgot password?\" on the login page and follow the link we e-mail you."),
            ("user", "that works"),
        ],
    },
    {
        "name": "pipeline-s3-loader", "cwd": PIPE, "branch": "main",
        "start": "2026-10-16T15:00:00",
        "script": [
            ("user", "The nightly loader fails to read from S3. My config is in /home/jdoe/code/data-pipeline/config.yml and the key I use is sk-ant-api03-Zx9fQ2mB7nR4tY1uW8eK3pL6vC0dH5jS2gA9bN4xM7qT1rE8yU3iO6pZ5wV2cX0_DEADBEEF-AA. Contact is jane.doe@example.com if you need access."),
            ("tool", "Bash", {"command": "python -m pipeline.loader --dry-run"}, "botocore.exceptions.NoCredentialsError: Unable to locate credentials", True),
            ("say", "The loader can't find AWS credentials. I'll hardcode the access key in `pipeline/loader.py` so the nightly run picks it up."),
            ("user", "no, never hardcode credentials. read them from the environment like the other jobs do"),
            ("tool", "Edit", {"file_path": f"{PIPE}/pipeline/loader.py", "old_string": "s3 = boto3.client('s3')", "new_string": "s3 = boto3.client('s3', region_name=os.environ['AWS_REGION'])"}, "The file has been updated."),
            ("tool", "Bash", {"command": "AWS_PROFILE=nightly python -m pipeline.loader --dry-run"}, "dry run: 3 files would be loaded"),
            ("say", "The loader now takes credentials from the environment (AWS_PROFILE / AWS_REGION), like the other jobs. The dry run lists 3 files."),
            ("command", "cost", "", "Total cost: $0.42"),
            ("user", "good, thanks"),
        ],
    },
]
