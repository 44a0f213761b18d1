"""A package outside the vault adds an export format through the `vault.exports` entry point group.

The plugin is a real installed distribution (tests/plugin_site.py), found by importlib.metadata as a pip-installed
one is: `vault export --format` offers it, its rows and extra file are written through the one export mechanism
(selection, split, persona, redaction, private files, card), and a broken one, or one taking a name already known,
is one line naming it.
"""

from __future__ import annotations

import json
import shutil
import stat

import pytest
from plugin_site import install
from plugin_site import plugin_site as site  # noqa: F401 (a fixture)
from support import run_cli

from vault.errors import VaultError

PLUGIN = '''
from miner.export import Format


def row(pair):
    return {"ask": pair["prompt"][-1]["content"], "good": pair["chosen"][0]["content"],
            "bad": pair["rejected"][0]["content"]}


def extra(out, counts):
    (out / "plain.txt").write_text(f"{counts['train']} train, {counts['test']} test\\n")
    return ["plain.txt"]


PLAIN = Format(row, "plain strings: ask / good / bad", extra)
NOT_A_FORMAT = {"row": row}
'''
# A module can be the format itself: its `row` and `description` (no extra files).
MODULE_FORMAT = '''
description = "the chosen answer alone"


def row(pair):
    return {"text": pair["chosen"][0]["content"]}
'''


def _install(site, entries: str, source: str = PLUGIN, module: str = "vault_test_plugin_plain") -> None:
    install(site, module, source, "vault.exports", entries)


def _rows(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _accept_the_pair_with_secrets(db) -> None:
    from miner.pairs import build_pairs
    from vault.store import open_vault

    con = open_vault(db)
    try:
        build_pairs(con)
        con.execute("INSERT INTO reviews (target, target_id, decision) SELECT 'pair', pair_id, 'accept' FROM pairs "
                    "WHERE 'secrets' IN (SELECT unnest(from_json(filters_failed, '[\"VARCHAR\"]')))")
    finally:
        con.close()


def test_vault_export_writes_a_registered_format(site, hand_vault, tmp_path):
    _install(site, "plain = vault_test_plugin_plain:PLAIN")
    db = shutil.copy(hand_vault, tmp_path / "v.duckdb")
    _accept_the_pair_with_secrets(db)
    out = tmp_path / "out"
    code, stdout, err = run_cli("export", "--format", "plain", "--no-persona", "--out", str(out), "--json", db=db)
    assert code == 0, err
    rep = json.loads(stdout)
    assert rep["format"] == "plain" and "plain.txt" in rep["files"]
    rows = _rows(out / "train.jsonl") + _rows(out / "test.jsonl")
    assert len(rows) == sum(rep["counts"].values()) > 0 and all(set(r) == {"ask", "good", "bad"} for r in rows)
    text = json.dumps(rows)
    assert "[REDACTED:" in text and "sk-ant-api03" not in text  # redacted before the plugin's row saw the pair
    assert (out / "plain.txt").read_text() == f"{rep['counts']['train']} train, {rep['counts']['test']} test\n"
    assert stat.S_IMODE((out / "plain.txt").stat().st_mode) == 0o600  # the plugin's file is private too
    assert "Format **plain**: plain strings: ask / good / bad." in (out / "README.md").read_text()


def test_a_module_can_be_a_format(site, vault_copy, hand_vault, tmp_path):
    _install(site, "chosen = vault_test_plugin_chosen", MODULE_FORMAT, "vault_test_plugin_chosen")
    from miner.export import export

    rep = export(vault_copy(hand_vault), "chosen", tmp_path / "out", persona=False)
    assert rep["format"] == "chosen" and rep["files"] == ["train.jsonl", "test.jsonl", "README.md"]
    assert all(set(r) == {"text"} for r in _rows(tmp_path / "out" / "train.jsonl"))


def test_the_cli_offers_a_registered_format(site, tmp_path):
    _install(site, "plain = vault_test_plugin_plain:PLAIN")
    code, out, _ = run_cli("export", "--help")
    assert code == 0 and "[trl|llamafactory|axolotl|openai|sharegpt|plain]" in " ".join(out.split())
    code, _, err = run_cli("export", "--format", "nope", "--out", str(tmp_path / "o"), db=tmp_path / "v.duckdb")
    assert code == 2 and "'nope' is not one of 'trl', 'llamafactory', 'axolotl', 'openai', 'sharegpt', 'plain'" in err


def test_a_broken_export_plugin_is_one_line_naming_it(site, tmp_path, ex_db):
    _install(site, "broken = vault_test_plugin_broken:FORMAT", "raise RuntimeError('half-installed')\n",
             "vault_test_plugin_broken")
    for args in (["export", "--help"], ["export", "--format", "nope", "--out", str(tmp_path / "o")]):
        code, out, err = run_cli(*args, db=tmp_path / "v.duckdb")
        assert code == 2 and "Traceback" not in out + err and len(err.strip().splitlines()) == 1
        assert ("export plugin 'broken' (vault_test_plugin_broken:FORMAT) cannot be loaded: RuntimeError: "
                "half-installed") in " ".join(err.split())
    # A built-in format: the entry points are not read.
    code, _, err = run_cli("export", "--format", "trl", "--no-persona", "--out", str(tmp_path / "trl"), db=ex_db)
    assert code == 0, err


@pytest.mark.parametrize(("entries", "error"), [
    ("trl = vault_test_plugin_plain:PLAIN",
     "export plugin 'trl' (vault_test_plugin_plain:PLAIN) reuses the format name 'trl'"),
    ("odd = vault_test_plugin_plain:NOT_A_FORMAT",
     "export plugin 'odd' (vault_test_plugin_plain:NOT_A_FORMAT) is not a miner.export.Format (a callable row, "
     "a description, an optional callable extra)"),
])
def test_a_plugin_taking_a_known_name_or_not_a_format_is_refused(site, entries, error):
    _install(site, entries)
    from miner.export import formats

    with pytest.raises(VaultError) as e:
        formats()
    assert str(e.value) == error
