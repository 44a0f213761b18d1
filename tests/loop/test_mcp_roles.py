"""The MCP tools and the command line name a role the same way, from one list (`miner.tables.role_unmatched`):
the roles `vault mine` stored, completed by the role rules for the sessions it has not seen. Before, the MCP tools
knew only the stored roles: before a `vault mine` every role was "no role" there, while the CLI listed them.
A source likewise (`vault.queries.source_unmatched`)."""

from __future__ import annotations

import pytest

from support import run_cli


@pytest.fixture
def tools(ex_db):
    from vault.mcp_tools import VaultTools

    t = VaultTools(ex_db)
    yield t
    t.close()


def cli_note(ex_db, *args: str) -> str:
    code, _, err = run_cli(*args, db=ex_db)
    assert code == 0, err
    [line] = err.strip().splitlines()
    return line


def test_an_unknown_role_is_named_as_the_command_line_names_it(ex_db, tools):
    from vault.mcp_tools import ToolInputError

    said = cli_note(ex_db, "sessions", "--role", "nosuch")
    assert said.startswith("--role 'nosuch' matches no session in the vault (roles: billing-api, ")
    for call in (lambda: tools.search("refunds", mode="keyword", role="nosuch"),
                 lambda: tools.corrections(role="nosuch"), lambda: tools.stats(role="nosuch"),
                 lambda: tools.persona(role="nosuch")):
        with pytest.raises(ToolInputError) as e:
            call()
        assert str(e.value) == "role: " + said.removeprefix("--role "), str(e.value)


def test_a_role_of_the_rules_is_known_before_vault_mine(ex_db, tools):
    """stats reads the rules' roles as `vault stats --corrections` does; search and corrections read the stored
    roles only, and say so as `vault turns` does."""
    from vault.mcp_tools import ToolInputError

    assert tools.stats(role="billing-api")["sessions"] > 0  # was "role: no role 'billing-api' in this vault"
    code, out, err = run_cli("turns", "--role", "billing-api", db=ex_db)
    said = err.strip().splitlines()[-1]
    assert said == "--role 'billing-api': no session has it yet (`vault mine` assigns the roles)", err
    for call in (lambda: tools.search("refunds", mode="keyword", role="billing-api"),
                 lambda: tools.corrections(role="billing-api")):
        with pytest.raises(ToolInputError) as e:
            call()
        assert str(e.value) == "role: " + said.removeprefix("--role ")
    tools.close()  # the CLI writes the vault: this process cannot open it read-write beside a read-only reader
    code, out, err = run_cli("mine", "--no-embed", db=ex_db)
    assert code == 0, err
    assert tools.search("refunds", mode="keyword", role="billing-api")["results"]


def test_an_unknown_source_is_named_as_the_command_line_names_it(ex_db, tools):
    """One wording for a source no session has (`vault.queries.source_unmatched`): the MCP search said
    "no source 'cursor' in this vault (known: ...)", the command line "--source 'cursor' matches no session ..."."""
    from vault.mcp_tools import ToolInputError

    said = cli_note(ex_db, "sessions", "--source", "cursor")
    assert said == "--source 'cursor' matches no session in the vault (sources: claude_code)", said
    with pytest.raises(ToolInputError) as e:
        tools.search("refunds", mode="keyword", source="cursor")
    assert str(e.value) == "source: " + said.removeprefix("--source ")
    assert tools.search("refunds", mode="keyword", source="claude_code")["results"]


@pytest.mark.parametrize("window", [{"since": "2099-01-01"}, {"until": "2000-01-01"},
                                    {"since": "2099-01-01", "until": "2000-01-01"}])
def test_a_window_no_session_falls_in_is_noted_as_the_command_line_says_it(ex_db, tools, window):
    """`vault search --since` on a window no session falls in says so on stderr with the vault's dates
    (`vault.queries.window_note`); the MCP search tool answered the same empty page without a word. Now its `notes`
    hold the CLI's line, the arguments named as the tool names them."""
    options = [x for name, value in window.items() for x in (f"--{name}", value)]
    said = cli_note(ex_db, "search", "refund", "--mode", "keyword", *options)
    assert "no session falls in this window" in said, said
    out = tools.search("refund", mode="keyword", **window)
    assert out["results"] == []
    assert out["notes"] == [said.replace("--since", "since").replace("--until", "until")], out


def test_a_window_some_session_falls_in_adds_no_note(ex_db, tools):
    out = tools.search("refund", mode="keyword", since="2026-11-17", until="2026-11-17")
    assert "notes" not in out, out
    out = tools.search("nosuchwordanywhere", mode="keyword", since="2026-10-01")
    assert out["results"] == [] and "notes" not in out, out  # empty for its words, not for its window
