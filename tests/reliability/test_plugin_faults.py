"""A broken third-party plugin is recorded and shown; everything else keeps working."""

from __future__ import annotations

import json

import pytest
from bad_input_cases import _plugin, _raises_in_hook, _raises_on_import
from reliability_kit import Workspace, run_cli


@pytest.mark.parametrize("load, error", [(_raises_on_import, "ImportError: No module named 'flaky_dependency'"),
                                         (_raises_in_hook, "RuntimeError: hook exploded")])
def test_broken_plugin_is_listed_and_isolated(load, error: str, workspace: Workspace) -> None:
    _plugin(workspace, load)
    code, out, err = run_cli("plugins", "list", "--json")
    assert code == 0, err
    records = {r["name"]: r for r in json.loads(out)}
    assert records["flaky-plugin"]["error"] == error and records["flaky-plugin"]["components"] == []
    assert all(r["error"] is None for name, r in records.items() if name != "flaky-plugin")
    code, out, err = run_cli("components", "list", "--kind", "interaction", "--json")
    assert code == 0 and "\"fm\"" in out
    code, out, err = run_cli("train", workspace.config_file(), "--json")  # built-ins still train
    assert code == 0, err
