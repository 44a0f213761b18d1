"""Walking and resolving cheaply (vault.walk): the same files, order and real paths as the plain pathlib way."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vault.ingest import Ingester
from vault.store import open_vault
from vault.walk import real_folder, real_stat, walk, walk_names

LINE = b'{"type":"user","sessionId":"s1","uuid":"u1","message":{"role":"user","content":"hi"}}\n'


@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "archive"
    for rel in ("p1/a.jsonl", "p1/a/subagents/agent-1.jsonl", "p1/b.JSONL", "p2/z.json", "p2/notes.txt",
                "p2/x.meta.json", "p1/node_modules/m.jsonl", "top.jsonl", "p3/deep/er/c.jsonl"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(LINE)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "real.jsonl").write_bytes(LINE)
    (root / "p2" / "link.jsonl").symlink_to(tmp_path / "elsewhere" / "real.jsonl")
    (root / "linked-folder").symlink_to(tmp_path / "elsewhere")
    return root


def test_walk_finds_the_candidates_by_depth_then_path(tree):
    got = list(walk([tree]))
    rel = [str(p.relative_to(tree)) for p in got]
    assert rel == ["top.jsonl", "p1/a.jsonl", "p1/b.JSONL", "p2/link.jsonl", "p2/z.json",
                   "p1/a/subagents/agent-1.jsonl", "p3/deep/er/c.jsonl"]
    assert got == sorted(got, key=lambda p: (len(p.parts), str(p)))  # the order the ingester always had
    assert all(type(p) is type(tree) for p in got)


def test_walk_names_is_walk_as_strings_and_os_walk_finds_the_same(tree):
    (tree / "p1" / "unreadable").mkdir()
    names = list(walk_names([tree]))
    assert names == [str(p) for p in walk([tree])]
    by_os_walk = sorted((os.path.join(d, n) for d, dirs, files in os.walk(tree) if "node_modules" not in d
                         for n in files if n.lower().endswith((".jsonl", ".json")) and not n.endswith(".meta.json")),
                        key=lambda p: (p.count(os.sep), p))
    assert names == by_os_walk  # symlinked folders listed by os.walk, not entered: the same here


def test_real_folder_is_realpath(tree, tmp_path):
    (tree / "p1" / "to-elsewhere").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "elsewhere" / "inner").mkdir()
    dirs: dict[str, str] = {}
    for rel in ("p1", "p1/a/subagents", "linked-folder", "p1/to-elsewhere/inner", "p3/deep/er", "p1/to-elsewhere"):
        folder = str(tree / rel)
        for _ in range(2):
            assert real_folder(folder, dirs) == os.path.realpath(folder)
    assert real_folder("/", {}) == "/"


def test_walk_through_a_symlinked_root_and_a_relative_root(tree, monkeypatch):
    assert [p.name for p in walk([tree / "linked-folder"])] == ["real.jsonl"]
    monkeypatch.chdir(tree.parent)
    assert [str(p) for p in walk([Path("archive/p3")])] == ["archive/p3/deep/er/c.jsonl"]


@pytest.mark.parametrize("rel", ["p1/a.jsonl", "p2/link.jsonl", "linked-folder/real.jsonl", "p1/a",
                                 "linked-folder"])
def test_real_stat_is_resolve_and_stat(tree, rel):
    path = tree / rel
    dirs: dict[str, str] = {}
    for _ in range(2):  # the second time from the remembered folder
        real, st = real_stat(path, dirs)
        assert real == str(path.resolve(strict=True))
        want = path.resolve().stat()
        assert (st.st_ino, st.st_size, st.st_mtime, st.st_mode) == (want.st_ino, want.st_size, want.st_mtime,
                                                                    want.st_mode)


def test_real_stat_raises_as_resolve_does(tree):
    with pytest.raises(FileNotFoundError):
        real_stat(tree / "missing.jsonl", {})
    (tree / "dangling.jsonl").symlink_to(tree / "nowhere")
    with pytest.raises(FileNotFoundError):
        real_stat(tree / "dangling.jsonl", {})


def test_a_file_named_by_a_symlink_and_by_its_path_is_one_file(tree, tmp_path):
    con = open_vault(tmp_path / "v.duckdb")
    try:
        ing = Ingester(con)
        ing.ingest_files([tree / "linked-folder" / "real.jsonl", tmp_path / "elsewhere" / "real.jsonl",
                          tree / "p2" / "link.jsonl"])
        ing.finish()
        assert ing.report.files == 1
        paths = [r[0] for r in con.execute("SELECT path FROM files").fetchall()]
        assert paths == [os.path.realpath(tmp_path / "elsewhere" / "real.jsonl")]
        again = Ingester(con)
        again.ingest_files(walk([tree]))
        assert again.report.files_unchanged == 1  # p2/link.jsonl: the file already read under its real path
    finally:
        con.close()
