"""The MCP `corrections` tool reads the labels in effect: a person's relabel in review wins over the miner's,
for the corrections listed and for the label of the turn that followed each."""

from __future__ import annotations

from mcp_support import SESSION, TURNS, mined_vault


def test_corrections_follow_the_relabels_of_review(tmp_path):
    from miner.tables import record_review
    from vault.mcp_tools import VaultTools
    from vault.store import open_vault

    db = mined_vault(tmp_path)
    con = open_vault(db)
    try:
        typed = dict(con.execute("SELECT text, msg_id FROM messages WHERE is_human").fetchall())
        miner_says = con.execute("SELECT label FROM labels WHERE msg_id = ?", [typed[TURNS[4][1]]]).fetchone()[0]
        assert miner_says != "new_request"
        record_review(con, "turn", typed[TURNS[4][1]], "relabel", "new_request")
    finally:
        con.close()
    tools = VaultTools(db)
    try:
        [corr] = tools.corrections()["corrections"]
        assert corr["msg_id"] == typed[TURNS[2][1]] and corr["session_id"] == SESSION
        assert corr["next_human_turn"]["label"] == "new_request"
        tools.reader.close()  # its read-only connection: this process cannot open the file read-write beside it
        con = open_vault(db)
        try:
            record_review(con, "turn", typed[TURNS[2][1]], "relabel", "new_request")
        finally:
            con.close()
        assert tools.corrections()["corrections"] == []
    finally:
        tools.reader.close()
