"""The one settings object: precedence, provenance, one-line errors, `vault config`, the README table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from support import ROOT, run_cli
from vault.settings import ConfigError, Settings, load


@pytest.fixture
def cfg(tmp_path, monkeypatch) -> Path:
    p = tmp_path / "config.toml"
    monkeypatch.setenv("VAULT_CONFIG", str(p))
    return p


def test_defaults_follow_home(tmp_path):
    s = Settings(home=tmp_path)
    assert (s.config, s.db) == (tmp_path / "config.toml", tmp_path / "vault.duckdb")
    assert s.corrections.threshold == 0.15 and s.corrections.numerator == ["reattempt_with_feedback"]
    assert s.ingest.batch_bytes == 32 << 20 and s.embed.model is None and s.roles == []
    assert s.origin("corrections.threshold").kind == "default"


def test_the_default_config_file_may_be_absent(_isolated_home):
    s = load()
    assert s.home == _isolated_home and not s.config.exists() and s.db == _isolated_home / "vault.duckdb"
    assert {e["source"] for e in s.entries()} == {"default", "env"}  # VAULT_HOME from the test fixture


def test_precedence_default_file_env_flag(cfg, tmp_path, monkeypatch):
    cfg.write_text(f'db = "{tmp_path / "file.duckdb"}"\n[corrections]\nthreshold = 0.3\nmin_turns = 4\n'
                   '[ingest]\nbatch_bytes = 1000\n')
    s = load()
    assert (s.corrections.threshold, s.corrections.min_turns, s.ingest.batch_bytes) == (0.3, 4, 1000)
    assert s.db == tmp_path / "file.duckdb" and str(s.origin("db")) == str(cfg)
    assert s.corrections.denominator == "typed" and s.origin("corrections.denominator").kind == "default"

    monkeypatch.setenv("VAULT_CORRECTIONS_THRESHOLD", "0.4")
    monkeypatch.setenv("VAULT_DB", str(tmp_path / "env.duckdb"))
    s = load()
    assert s.corrections.threshold == 0.4 and str(s.origin("corrections.threshold")) == "VAULT_CORRECTIONS_THRESHOLD"
    assert s.corrections.min_turns == 4 and s.db == tmp_path / "env.duckdb"  # the file still counts for the rest

    s = load({"db": ("--db", str(tmp_path / "flag.duckdb")), "corrections.min_turns": ("--min-turns", None)})
    assert s.db == tmp_path / "flag.duckdb" and str(s.origin("db")) == "--db"
    assert s.corrections.min_turns == 4  # a flag left unset (None) changes nothing
    s2 = s.with_flags({"corrections.threshold": ("--threshold", 0.5)})
    assert s2.corrections.threshold == 0.5 and str(s2.origin("corrections.threshold")) == "--threshold"
    assert s.corrections.threshold == 0.4  # with_flags returns a copy


def test_lists_and_tables_from_the_environment(_isolated_home, monkeypatch):
    monkeypatch.setenv("VAULT_CORRECTIONS_NUMERATOR", '["reattempt_with_feedback", "reattempt_without_feedback"]')
    monkeypatch.setenv("VAULT_ROLES", '[{"name": "docs", "project": "docs-*"}]')
    monkeypatch.setenv("VAULT_EMBED_MODEL", "/models/mini")
    s = load()
    assert s.corrections.numerator == ["reattempt_with_feedback", "reattempt_without_feedback"]
    assert s.roles == [{"name": "docs", "project": "docs-*"}] and s.embed.model == "/models/mini"


@pytest.mark.parametrize("text, message", [
    ("[corrections]\nthreshhold = 0.1\n",
     "{cfg}: [corrections] threshhold: unknown key (known: threshold, numerator, denominator, min_turns)"),
    ("[settings]\nx = 1\n", "{cfg}: settings: unknown key (known: db, ingest, embed, search, corrections, redact, llm, "
     "roles)"),
    ('[ingest]\nbatch_bytes = "big"\n',
     "{cfg}: [ingest] batch_bytes: Input should be a valid"),
    ("[corrections]\nthreshold = -1\n", "{cfg}: [corrections] threshold: Input should be greater than or equal to 0"),
    ("corrections = 3\n", "{cfg}: corrections: Input should be a valid dictionary or instance of CorrectionSettings"),
    ('home = "/elsewhere"\n', "{cfg}: home: cannot be set in the config file (it says where the file is; use VAULT_HOME)"),
    ("db = [\n", "{cfg}: invalid TOML: "),
])
def test_bad_file_is_one_line_naming_file_and_key(cfg, text, message):
    cfg.write_text(text)
    with pytest.raises(ConfigError) as e:
        load()
    assert str(e.value).startswith(message.format(cfg=cfg)) and "\n" not in str(e.value)


def test_a_bad_file_value_is_an_error_even_when_the_environment_overrides_it(cfg, monkeypatch):
    cfg.write_text('[corrections]\nmin_turns = "many"\n')
    monkeypatch.setenv("VAULT_CORRECTIONS_MIN_TURNS", "4")
    with pytest.raises(ConfigError, match=re.escape(f"{cfg}: [corrections] min_turns")):
        load()


def test_bad_environment_and_flags_name_the_variable_and_the_flag(_isolated_home, monkeypatch):
    monkeypatch.setenv("VAULT_CORRECTIONS_THRESHOLD", "high")
    with pytest.raises(ConfigError, match=r"^VAULT_CORRECTIONS_THRESHOLD: Input should be a valid number"):
        load()
    monkeypatch.delenv("VAULT_CORRECTIONS_THRESHOLD")
    monkeypatch.setenv("VAULT_EMBED_MODLE", "x")
    with pytest.raises(ConfigError, match=r"^VAULT_EMBED_MODLE: unknown key \(known: model\)"):
        load()
    monkeypatch.delenv("VAULT_EMBED_MODLE")
    with pytest.raises(ConfigError, match=r"^--threshold: Input should be less than or equal to 1"):
        load().with_flags({"corrections.threshold": ("--threshold", 7.0)})


def test_a_named_config_file_must_exist(_isolated_home, tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="config file not found"):
        load({"config": ("--config", str(tmp_path / "nope.toml"))})
    monkeypatch.setenv("VAULT_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="config file not found"):
        load()


def test_vault_config_json_says_where_each_value_came_from(cfg, tmp_path, monkeypatch):
    cfg.write_text("[corrections]\nthreshold = 0.25\n")
    monkeypatch.setenv("VAULT_CORRECTIONS_MIN_TURNS", "5")
    code, out, _ = run_cli("config", "--json", db=tmp_path / "v.duckdb")
    assert code == 0
    rep = json.loads(out)
    assert rep["config_file"] == str(cfg) and rep["config_file_exists"]
    by = {e["key"]: e for e in rep["settings"]}
    assert (by["corrections.threshold"]["value"], by["corrections.threshold"]["source"],
            by["corrections.threshold"]["from"]) == (0.25, "file", str(cfg))
    assert (by["corrections.min_turns"]["value"], by["corrections.min_turns"]["from"]) == (5, "VAULT_CORRECTIONS_MIN_TURNS")
    assert (by["db"]["value"], by["db"]["source"], by["db"]["from"]) == (str(tmp_path / "v.duckdb"), "flag", "--db")
    assert (by["corrections.denominator"]["source"], by["corrections.denominator"]["from"]) == ("default", None)
    assert by["corrections.threshold"]["env"] == "VAULT_CORRECTIONS_THRESHOLD"
    assert by["corrections.threshold"]["config_key"] == "[corrections] threshold"
    assert not (tmp_path / "v.duckdb").exists()  # showing the settings opens no vault

    code, out, _ = run_cli("config")
    assert code == 0 and "corrections.threshold" in out and "0.25" in out and str(cfg) in out


def test_vault_config_checks_what_only_the_miner_knows(cfg):
    from vault.cli import main

    for text in ('[corrections]\nnumerator = ["fix"]\n', '[[roles]]\nname = "x"\nprojekt = "a"\n'):
        cfg.write_text(text)
        with pytest.raises(SystemExit) as e:
            main(["config"])
        assert e.value.code == 2


def test_vault_config_flag_names_the_file(tmp_path, capsys):
    from vault.cli import main

    other = tmp_path / "other.toml"
    other.write_text("[corrections]\nthreshold = 0.6\n")
    main(["--config", str(other), "config", "--json"])
    by = {e["key"]: e for e in json.loads(capsys.readouterr().out)["settings"]}
    assert (by["config"]["from"], by["corrections.threshold"]["value"]) == ("--config", 0.6)


def test_the_readme_table_documents_every_setting():
    """One row per setting in README.md's Settings table, naming its variable and config key."""
    text = (ROOT / "README.md").read_text()
    table = text[text.index("## Settings"):]
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([a-z_.]+)` \|.*$", table, re.M)}
    for e in Settings().entries():
        assert e["key"] in rows, f"README.md settings table lacks {e['key']}"
        assert f"`{e['env']}`" in rows[e["key"]]
        if e["config_key"]:
            assert e["config_key"].split()[-1] in rows[e["key"]]


def test_the_ingest_batch_setting_reaches_the_engine(tmp_path, monkeypatch):
    """`ingest.batch_bytes` decides how many files commit together (one group per file at 1 byte)."""
    from support import EXAMPLES
    from vault.ingest import Ingester

    commits: list[int] = []
    real = Ingester._commit
    monkeypatch.setattr(Ingester, "_commit", lambda self, batch: (commits.append(len(batch)), real(self, batch)))
    src = EXAMPLES / "claude-code" / "-home-jdoe-code-docs-site"
    assert run_cli("ingest", "--no-embed", str(src), db=tmp_path / "a.duckdb")[0] == 0
    assert commits == [7]  # the 7 docs-site sessions
    commits.clear()
    monkeypatch.setenv("VAULT_INGEST_BATCH_BYTES", "1")
    assert run_cli("ingest", "--no-embed", str(src), db=tmp_path / "b.duckdb")[0] == 0
    assert commits == [1] * 7


def test_the_embed_model_setting_reaches_the_embedder(tmp_path, monkeypatch):
    from vault.index import embeddings

    seen = []
    monkeypatch.setattr(embeddings, "embed_pending", lambda con, name=None, **kw: seen.append(name) or
                        embeddings.EmbedReport(model=name or "?"))
    monkeypatch.setenv("VAULT_EMBED_MODEL", "/models/from-env")
    from vault.store import open_vault

    open_vault(tmp_path / "v.duckdb").close()  # only `vault ingest` creates a vault
    assert run_cli("embed", "--json", db=tmp_path / "v.duckdb")[0] == 0
    assert run_cli("embed", "--json", "--model", "/models/from-flag", db=tmp_path / "v.duckdb")[0] == 0
    assert seen == ["/models/from-env", "/models/from-flag"]


def test_redact_phone_regions_from_file_and_environment(tmp_path, monkeypatch):
    from vault.redact import Redactor

    cfg = tmp_path / "c.toml"
    cfg.write_text('[redact]\nphone_regions = ["gb"]\n')
    monkeypatch.setenv("VAULT_CONFIG", str(cfg))
    s = load()
    assert s.redact.phone_regions == ["GB"]
    assert Redactor.from_settings(s).redact("ring 020 7946 0958") == "ring [PHONE]"
    monkeypatch.setenv("VAULT_REDACT_PHONE_REGIONS", '["XX"]')
    with pytest.raises(ConfigError, match="VAULT_REDACT_PHONE_REGIONS.*unknown region"):
        load()
