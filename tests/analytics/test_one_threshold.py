"""`vault stats --corrections` and the TUI read the same `[corrections]` settings (issue #13)."""

from __future__ import annotations

import json

from analytics_data import IR, NR, RWF, add_session, typed

from support import run_cli


def _tui_troubled(db_path) -> tuple[int, int, float]:
    """(troubled in the stats report, troubled rows of the sessions screen, threshold) as the TUI computes them."""
    from tui import data
    from tui.app import make_app

    app = make_app(db_path)  # the factory reads the settings, as `vault tui` does
    with app.access.read() as con:
        report = data.corrections(con, app.settings)
        rows = data.session_rows(con, app.settings)
    app.access.close()
    return report["overall"]["troubled"], sum(r["troubled"] for r in rows), report["definition"]["threshold"]


def test_cli_and_tui_agree_on_troubled_sessions(rated_vault, db_path, tmp_path, monkeypatch):
    # s6: 3 corrections in 5 turns (0.6): troubled even at 0.5; s1 (0.20) and s3 (0.25) only at the default 0.15
    add_session(rated_vault, "s6", project="api", started="2026-03-06T09:00:00", turns=typed(IR, RWF, RWF, RWF, NR))
    rated_vault.close()

    def cli_troubled() -> int:
        code, out, _ = run_cli("stats", "--corrections", "--json", db=db_path)
        assert code == 0
        return json.loads(out)["overall"]["troubled"]

    assert cli_troubled() == 3 and _tui_troubled(db_path) == (3, 3, 0.15)

    cfg = tmp_path / "config.toml"
    cfg.write_text("[corrections]\nthreshold = 0.5\n")
    monkeypatch.setenv("VAULT_CONFIG", str(cfg))
    assert cli_troubled() == 1 and _tui_troubled(db_path) == (1, 1, 0.5)

    # the other [corrections] options too: with min_turns = 6 only s1 and s2 (10 and 20 turns) are rated
    cfg.write_text("[corrections]\nthreshold = 0.1\nmin_turns = 6\n")
    assert cli_troubled() == 2 and _tui_troubled(db_path) == (2, 2, 0.1)
