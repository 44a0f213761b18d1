"""The bounds of the MCP tools' whole-number arguments are written once (vault.mcp_tools.RANGES): the server's
schemas state exactly them, and each tool refuses a value just outside them with a line naming the range."""

from __future__ import annotations

import anyio
import pytest

from vault.mcp_tools import RANGES, ToolInputError, VaultTools

REQUIRED = {"search": {"query": "x"}, "get_session": {"session": "x"}}  # what a call needs besides the bounded value


def test_the_server_schemas_state_the_ranges_the_tools_check():
    from vault.mcp_server import build

    server = build(None)  # the tools object is only used when a tool is called
    stated = {(tool.name, arg): (prop.get("minimum"), prop.get("maximum"))
              for tool in anyio.run(server.list_tools)
              for arg, prop in tool.input_schema["properties"].items() if "minimum" in prop or "maximum" in prop}
    assert stated == RANGES


@pytest.mark.parametrize("tool, name", sorted(RANGES))
def test_each_tool_refuses_a_value_just_outside_its_range(tmp_path, tool, name):
    lo, hi = RANGES[tool, name]
    tools = VaultTools(tmp_path / "v.duckdb")  # never opened: the arguments are checked first
    try:
        for value in (lo - 1, hi + 1):
            with pytest.raises(ToolInputError, match=f"^{name}: expected a whole number from {lo} to {hi}, "):
                getattr(tools, tool)(**REQUIRED.get(tool, {}), **{name: value})
    finally:
        tools.close()


def test_the_server_schemas_give_the_tools_own_defaults():
    """The server's signatures repeat each argument's default (the SDK reads them there): they are the tools'."""
    import inspect

    from vault.mcp_server import build

    for tool in anyio.run(build(None).list_tools):
        method = inspect.signature(getattr(VaultTools, tool.name)).parameters
        stated = {arg: prop["default"] for arg, prop in tool.input_schema["properties"].items() if "default" in prop}
        own = {arg: p.default for arg, p in method.items() if p.default is not inspect.Parameter.empty}
        assert stated == own, tool.name
