"""No tracked file quotes the text of a pointers-only label file (data/labels/pointers-only/: sources without a
licence, only hashes in the repository; data/labels/README.md, "The fourth set"). The rulebook and the docs describe
such turns in their own words; quotes of licensed label files and of the shared corpora stay as written.

The check (tests/mining/pointer_quotes.py, which says how a quote is told from a common phrase) needs the pointers'
text, kept outside the repository; where it is not on the machine (CI, a fresh clone) the test skips.
`python tests/mining/pointer_quotes.py --show` lists the hits on the terminal."""

from __future__ import annotations

import json

import pytest
from pointer_quotes import COMMON, POINTERS_DIR, POINTERS_TEXT, build, scan, scan_text


@pytest.fixture(scope="module")
def table():
    names = [p.name for p in POINTERS_DIR.glob("external-*.jsonl")]
    if not names or not any((POINTERS_TEXT / n).is_file() for n in names):
        pytest.skip(f"the pointers-only text is not on this machine ({POINTERS_TEXT}): nothing to compare with")
    return build()


def test_no_tracked_file_quotes_pointers_only_text(table):
    hits = scan(table)
    # Where, and from which row, never the passage: the test's output may end up in a log.
    if hits:
        pytest.fail(f"{len(hits)} passages quote pointers-only text (paraphrase them):\n" +
                    "\n".join(h.where() for h in hits), pytrace=False)


def test_a_planted_quote_is_found_and_a_common_phrase_is_not(table):
    # A quote taken from the pointers' text at run time (never written here), planted in a Markdown line, a JSON
    # string and a Python comment, is found in each; its own words around common ones, or reworded, are not.
    grams = table.grams[5]
    long_runs = [w for w in grams if table.surprise(w) >= 80]
    assert long_runs, "no distinctive 5-word window of 80 bits in the pointers' text"
    quote = " ".join(long_runs[0])
    md = f'- A turn like "{quote}" is `new_request`.\n'
    assert [h.n_words for h in scan_text("x.md", md, table)] == [5]
    assert len(scan_text("x.jsonl", '{"note": "' + quote + '"}\n', table)) == 1
    assert len(scan_text("x.py", f"x = 1  # {quote}\n", table)) == 1
    # a label row's identifiers are not prose: the same words as its session id or source path are no quote there
    row = {"session": quote, "source": {"repo": "a/b", "path": quote, "commit": "0" * 40}, "note": "a redo"}
    assert scan_text("x.jsonl", json.dumps(row) + "\n", table) == []
    assert len(scan_text("x.jsonl", json.dumps({**row, "note": quote}) + "\n", table)) == 1
    assert scan_text("x.py", f"{quote.replace(' ', '_')} = 1\n", table) == []  # code, not a comment or string
    assert scan_text("x.md", "- " + " and ".join(long_runs[0]) + "\n", table) == []  # words, not the run
    assert scan_text("x.md", f"- `{quote.replace(' ', '-')}.md`\n", table) == []  # a file name, not prose
    assert [h.n_words for h in scan_text("x.md", f"- `{quote.replace(' ', '-')}`\n", table)] == [5]  # no extension
    common = "Can you check the tests and let me know if you have any questions?"
    assert scan_text("x.md", f'"{common}"\n', table) == []
    for phrase in COMMON:
        assert scan_text("x.md", f'"{" ".join(phrase)}"\n', table) == []


def test_a_sealed_folder_is_not_read_while_it_holds_label_files(tmp_path):
    # data/labels/sealed/, sealed13/...: nobody reads a sealed set until its rule is judged; a sealed folder left
    # with its README only is read like any other.
    import subprocess

    from pointer_quotes import tracked_files

    files = ["docs/a.md", "data/labels/sealed/README.md", "data/labels/sealed13/README.md",
             "data/labels/sealed13/external-x.jsonl", "data/labels/not-in-model/external-y.jsonl"]
    for f in files:
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_text("x\n")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "add", "."], check=True)
    assert sorted(tracked_files(tmp_path)) == ["data/labels/not-in-model/external-y.jsonl",
                                               "data/labels/sealed/README.md", "docs/a.md"]
