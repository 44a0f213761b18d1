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
    (b'{"msg_id": "x", "label": "new_request"}\n\n\xff\xfe\n', "labels.jsonl:3: not UTF-8 text (byte 0xff)"),  # UnicodeDecodeError
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
