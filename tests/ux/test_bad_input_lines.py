"""Bad input a person gives gets one clear line naming the file (and line, where there is one), never a traceback
nor "internal error" (the net in vault.cli.main that says "a bug"). Each case here was an internal error or an
unclear line before this file was written."""

from __future__ import annotations

import pytest

from support import run_cli

MSG = "4de028e8-98a8-593e-ad66-bfad2e28de9b"  # a person's turn in the examples vault


def one_line(code: int, err: str) -> str:
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "internal error" not in err and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("body, said", [
    (b"", "labels.jsonl: no label lines"),  # DuckDB ConversionException
    (b"\n  \n", "labels.jsonl: no label lines"),
    # UnicodeDecodeError
    (b'{"msg_id": "x", "label": "new_request"}\n\n\xff\xfe\n', "labels.jsonl:3: not UTF-8 text (byte 0xff)"),
    (b'{"msg_id": "x"}\n', "labels.jsonl:1: not a label line: no 'label'"),  # was (KeyError: 'label')
    (b'{"label": "new_request"}\n', "labels.jsonl:1: not a label line: no 'msg_id'"),
    (b'["x", "new_request"]\n', "labels.jsonl:1: not a label line: not a JSON object"),  # was (TypeError: list ...)
    (b'"x"\n', "labels.jsonl:1: not a label line: not a JSON object"),
    (b'{"msg_id": "x", "label": "new_request"}\n{bad\n', "labels.jsonl:2: not a label line: not JSON ("),
])
@pytest.mark.parametrize("keep", ["--keep", "--no-keep"])
def test_eval_names_the_labels_file_and_line(ex_db, tmp_path, body, said, keep):
    labels = tmp_path / "labels.jsonl"
    labels.write_bytes(body)
    code, out, err = run_cli("eval", keep, str(labels), db=ex_db)
    assert said in one_line(code, err)


@pytest.mark.parametrize("name, body, said", [
    ("t.toml", "beta = \n", "t.toml: invalid TOML: Invalid value (at line 1, column 8)"),  # TOMLDecodeError
    ("t.json", '{"lr": \n', "t.json: invalid JSON: Expecting value: line 2 column 1"),  # JSONDecodeError
    ("t.json", "[1]\n", "t.json: the settings must be a table"),  # AttributeError in normalise
    ("t.toml", "train = 3\n", "t.toml: the settings must be a table"),
    ("t.toml", 'beta = "x"\nnosuch = 1\n',  # was pydantic's multi-line dump with its URLs
     "t.toml: beta: Input should be a valid number, unable to parse string as a number; nosuch: unknown key"),
])
def test_train_config_file_errors_are_one_line_naming_the_file(tmp_path, monkeypatch, name, body, said):
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_text(body)
    (tmp_path / "data").mkdir()
    code, out, err = run_cli("train", "--data", "data", "--config", name, "--dry-run")
    assert one_line(code, err) == f"Error: {said}" or said in one_line(code, err)


def test_train_a_flag_out_of_range_is_one_line(tmp_path):
    code, out, err = run_cli("train", "--data", str(tmp_path), "--lora-r", "-1", "--dry-run")
    assert "lora_r: Input should be greater than or equal to 1" in one_line(code, err)


def test_personas_of_an_unknown_role_names_the_roles_before_loading_a_model(ex_db, monkeypatch):
    import miner.personas

    code, _, err = run_cli("mine", "--no-embed", db=ex_db)
    assert code == 0, err
    monkeypatch.setattr(miner.personas, "build_personas", lambda *a, **k: pytest.fail("built personas"))
    code, out, err = run_cli("personas", "nosuch", db=ex_db)  # was "it has no corrections", after the model load
    assert one_line(code, err) == f"Error: role 'nosuch' matches no session in the vault {ROLES}"


@pytest.mark.parametrize("name, value, said", [
    # was 'environment: error parsing value for field "corrections" from source "EnvSettingsSource"'
    ("VAULT_CORRECTIONS_NUMERATOR", "[bad", "VAULT_CORRECTIONS_NUMERATOR: not JSON (Expecting value: line 1 column 2"),
    ("VAULT_REDACT_PHONE_REGIONS", "US,GB", "VAULT_REDACT_PHONE_REGIONS: not JSON ("),
    ("VAULT_ROLES", "x", "VAULT_ROLES: not JSON ("),
    ("VAULT_DB", "", "VAULT_DB: empty: name a path, or unset it for the default"),  # was ". is not a vault file"
    ("VAULT_HOME", " ", "VAULT_HOME: empty: name a path, or unset it for the default"),  # and two follow-on errors
    ("VAULT_CONFIG", "", "VAULT_CONFIG: empty: name a path, or unset it for the default"),
])
def test_a_bad_environment_variable_is_named(ex_db, tmp_path, monkeypatch, name, value, said):
    monkeypatch.setenv("VAULT_HOME", str(tmp_path))
    monkeypatch.setenv(name, value)
    code, out, err = run_cli("stats", db=None if name == "VAULT_DB" else ex_db)
    assert one_line(code, err) == f"Error: {said}" or said in one_line(code, err)
    assert "Value error" not in err and "EnvSettingsSource" not in err


def test_ingest_prints_file_names_that_look_like_markup_as_they_are(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    bad = tmp_path / "[bold]notes.jsonl"  # rich took "[bold]" for markup: the report named "notes.jsonl"
    bad.write_text("{bad\n")
    code, out, err = run_cli("ingest", "--no-embed", "--source", "claude_code", str(bad), str(tmp_path / "[red]gone"),
                             db=tmp_path / "vault.duckdb")
    assert f"{bad}:1 invalid JSON" in out, out
    assert f"not found: {tmp_path / '[red]gone'}" in err, err


ROLES = "(roles: billing-api, data-pipeline, docs-site; `vault roles` lists them, `vault mine` assigns them)"


@pytest.mark.parametrize("args", [
    ("sessions",), ("pairs", "--no-rebuild"), ("turns",), ("stats", "--corrections"),
    ("export", "--format", "trl", "--no-persona", "--out", "OUT"),
])
@pytest.mark.parametrize("as_json", [False, True])
def test_an_unknown_role_is_said_on_stderr_with_the_roles_and_the_output_keeps_its_shape(ex_db, tmp_path, args,
                                                                                        as_json):
    """`--role nosuch` answered empty without a word (a typo looked like "no data"). Stdout is what it was: the
    JSON (lines) of CONTRACTS.md; the note goes to stderr. The roles come from the role rules before `vault mine`."""
    import json

    args = tuple(str(tmp_path / "out") if a == "OUT" else a for a in args)
    code, out, err = run_cli(*args, "--role", "nosuch", *(["--json"] if as_json else []), db=ex_db)
    assert code == 0, err
    assert err.strip().splitlines() == [f"--role 'nosuch' matches no session in the vault {ROLES}"], err
    if as_json:
        if args[0] in ("pairs", "turns"):  # JSONL: nothing at all
            assert out == ""
        else:
            json.loads(out)
    code, out, err = run_cli(*args, "--role", "billing-api", *(["--json"] if as_json else []), db=ex_db)
    assert code == 0 and "matches no session" not in err, err


def test_sessions_names_each_filter_that_matches_no_session(ex_db):
    code, out, err = run_cli("sessions", "--project", "nosuch", "--source", "nope", "--json", db=ex_db)
    assert code == 0 and out.strip() == "[]", out
    assert err.strip().splitlines() == [
        "--project 'nosuch' matches no session in the vault (`vault sessions` shows the projects)",
        "--source 'nope' matches no session in the vault (sources: claude_code)"], err


def test_a_search_role_that_matches_nothing_lists_the_roles_too(ex_db):
    code, out, err = run_cli("search", "refund", "--role", "nosuch", "--mode", "keyword", db=ex_db)
    assert code == 0 and err.strip() == f"--role 'nosuch' matches no session in the vault {ROLES}", err


def test_eval_the_same_message_under_two_labels_is_an_error_naming_both_lines(ex_db, tmp_path):
    labels = tmp_path / "labels.jsonl"
    labels.write_text(f'{{"msg_id": "{MSG}", "label": "new_request"}}\n\n'
                      f'{{"msg_id": "{MSG}", "label": "interrupt"}}\n')  # was: the last one kept, silently
    code, out, err = run_cli("eval", "--no-keep", str(labels), db=ex_db)
    assert one_line(code, err) == (f"Error: {labels}:3: '{MSG}' is labelled 'interrupt' here and 'new_request' "
                                   "at line 1: one label a message")


def test_eval_the_same_label_twice_counts_once(ex_db, tmp_path):
    import json

    labels = tmp_path / "labels.jsonl"
    labels.write_text(f'{{"msg_id": "{MSG}", "label": "new_request"}}\n' * 2)
    code, out, err = run_cli("eval", "--no-keep", "--json", str(labels), db=ex_db)
    assert code == 0, err
    rep = json.loads(out)
    assert sum(d["support"] for d in rep["per_label"].values()) == 1, rep


def test_a_role_the_rules_give_but_no_mine_assigned_yet_says_so_where_only_assigned_roles_count(ex_db):
    import duckdb

    with duckdb.connect(str(ex_db)) as con:
        con.execute("DELETE FROM roles")
    code, out, err = run_cli("sessions", "--role", "billing-api", db=ex_db)
    assert code == 0 and err.strip() == "--role 'billing-api': no session has it yet (`vault mine` assigns the roles)"
