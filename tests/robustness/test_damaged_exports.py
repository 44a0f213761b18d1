"""A ChatGPT or Claude.ai export zip whose conversations.json is damaged (a failed CRC check, a broken deflate
stream) is reported as damaged, naming the member, not as an export "without 'mapping'" (which sends the user
looking for the wrong problem); a good session beside it is still ingested."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from support import ROOT, run_cli

SOURCES = ROOT / "tests" / "fixtures" / "sources"
SESSION = ROOT / "tests" / "fixtures" / "claude_code" / "v21-layout"


def _damaged_zip(dest: Path, conversations: Path, where: str, method: int) -> Path:
    raw = conversations.read_bytes()
    with zipfile.ZipFile(dest, "w", method) as zf:
        zf.writestr("conversations.json", raw)
    data = bytearray(dest.read_bytes())
    with zipfile.ZipFile(dest) as zf:
        info = zf.getinfo("conversations.json")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    at = start + (40 if where == "head" else info.compress_size // 2)
    for i in range(8):  # a few flipped bits where the data is
        data[at + i] ^= 0x01
    dest.write_bytes(bytes(data))
    return dest


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=["stored", "deflated"])
@pytest.mark.parametrize("where", ["head", "middle"])
@pytest.mark.parametrize("source", ["chatgpt", "claude_ai"])
def test_a_damaged_export_zip_is_reported_as_damaged(tmp_path, source, where, method):
    folder = tmp_path / "in"
    shutil.copytree(SESSION, folder)
    export = _damaged_zip(folder / f"{source}-export.zip", SOURCES / source / "conversations.json", where, method)
    code, out, err = run_cli("ingest", str(folder), "--json", "--no-embed", db=tmp_path / "v.duckdb")
    assert code == 0, err
    rep = json.loads(out)
    said = [u["reason"] for u in rep["unrecognised"] if u["file"] == str(export)]
    said += [e["reason"] for e in rep["errors"] if e["file"] == str(export)]
    assert len(said) == 1, rep
    assert "conversations.json" in said[0] and ("damaged" in said[0] or "CRC" in said[0] or "cannot read" in said[0])
    assert "'mapping'" not in said[0], said[0]
    assert rep["messages_added"] > 0  # the good session beside it


def test_an_export_zip_that_reads_whole_is_still_called_one_without_mapping(tmp_path):
    export = tmp_path / "export.zip"
    with zipfile.ZipFile(export, "w") as zf:
        zf.writestr("conversations.json", json.dumps([{"id": "c1", "title": "no mapping here"}]))
    code, out, err = run_cli("ingest", str(tmp_path), "--json", "--no-embed", db=tmp_path / "v.duckdb")
    rep = json.loads(out)
    assert [u["reason"] for u in rep["unrecognised"]] == [
        "zip archive whose conversations.json has no 'mapping' (ChatGPT) or 'chat_messages' (Claude.ai)"], rep



@pytest.mark.parametrize("children", [None, "missing", 5, [["nested"]], "f9a0-u2"])
def test_chatgpt_node_without_a_usable_children_list_keeps_its_descendants(tmp_path, children):
    """The messages under a node whose `children` is null, absent or of another type name that node as their
    `parent`: they were dropped without a word (the walk followed `children` only); now they come through."""
    doc = json.loads((SOURCES / "chatgpt" / "conversations.json").read_text())
    before, after = tmp_path / "before", tmp_path / "after"
    before.mkdir()
    (before / "conversations.json").write_text(json.dumps(doc))
    node = doc[0]["mapping"]["e7f8-a1b"]  # the kept answer, with two prompts (an edit) under it
    assert node["children"]
    if children == "missing":
        del node["children"]
    else:
        node["children"] = children
    after.mkdir()
    (after / "conversations.json").write_text(json.dumps(doc))
    got = {}
    for name, folder in (("before", before), ("after", after)):
        code, out, err = run_cli("ingest", str(folder), "--json", "--no-embed", db=tmp_path / f"{name}.duckdb")
        assert code == 0 and not json.loads(out)["errors"], (err, out)
        from vault.store import open_vault

        con = open_vault(tmp_path / f"{name}.duckdb", read_only=True)
        try:
            got[name] = con.execute("SELECT msg_id, parent_id, on_main_branch, kind, text FROM messages "
                                    "ORDER BY msg_id").fetchall()
        finally:
            con.close()
    assert got["after"] == got["before"]
