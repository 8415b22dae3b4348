"""The versioned plugin API: a plugin's declared range is checked before anything registers.

The end-to-end test pip-installs a real plugin package (scaffolded, then declared for a
future API 2) and checks in a fresh process that ``plugins list`` reports both versions and
that none of its components or commands loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

from recforge.cli import cli
from recforge.core.errors import PluginError
from recforge.core.hookspecs import API_VERSION, hookimpl
from recforge.core.plugin_api import check_plugin_api
from recforge.core.registry import Registry
from recforge.testing.probes import Subject

REPO = Path(__file__).resolve().parents[2]


def test_hookspecs_carry_the_api_version() -> None:
    assert API_VERSION == "1.0"


@pytest.mark.parametrize("declared, ok", [(None, True), (">=1.0,<2", True), ("~=1.0", True),
                                          (">=2.0,<3", False), ("<1.0", False)])
def test_declared_ranges(declared: str | None, ok: bool) -> None:
    plugin = types.SimpleNamespace(**({} if declared is None else {"RECFORGE_API": declared}))
    if ok:
        assert check_plugin_api("p", plugin) == (declared or "")
    else:
        with pytest.raises(PluginError, match=rf"plugin 'p' supports recforge plugin API {declared}, this recforge "
                                              r"provides API 1\.0; it was skipped"):
            check_plugin_api("p", plugin)


def test_a_malformed_range_is_a_one_line_error() -> None:
    with pytest.raises(PluginError, match=r"RECFORGE_API = 'version two', which is not a version range"):
        check_plugin_api("p", types.SimpleNamespace(RECFORGE_API="version two"))


def _future_plugin(name: str) -> types.ModuleType:
    from recforge.plugins.interactions.fm import FM

    module = types.ModuleType(name)
    module.RECFORGE_API = ">=2.0,<3"  # type: ignore[attr-defined]
    renamed = type("FutureFM", (FM,), {"name": "future-fm"})

    @hookimpl
    def register_interactions(register):  # type: ignore[no-untyped-def]
        register(renamed)

    @hookimpl
    def register_commands(cli):  # type: ignore[no-untyped-def]
        raise AssertionError("a skipped plugin must not be asked for commands")

    module.register_interactions = register_interactions  # type: ignore[attr-defined]
    module.register_commands = register_commands  # type: ignore[attr-defined]
    return module


def test_an_incompatible_plugin_registers_nothing() -> None:
    registry = Registry()
    record = registry.register_module(_future_plugin("future_plugin"), version="9.0")
    assert record.api == "" and record.components == []
    assert record.error is not None and "supports recforge plugin API >=2.0,<3" in record.error
    assert not registry.has("future-fm")
    assert registry.pm.get_plugin("future_plugin") is None
    registry.add_commands(types.SimpleNamespace())  # no hook of the skipped plugin runs


def test_plugins_list_shows_the_api_column(monkeypatch: pytest.MonkeyPatch) -> None:
    from recforge.cli import plugins as plugins_cli

    registry = Registry()
    registry.register_module(_future_plugin("future_plugin"), version="9.0")
    monkeypatch.setattr(plugins_cli, "catalogue", lambda reload=False: registry)
    table = CliRunner().invoke(cli, ["plugins", "list"], terminal_width=200).stdout
    assert "plugin API 1.0" in table and "future_plugin" in table and ">=2.0,<3" in table


@pytest.mark.slow
def test_an_installed_plugin_for_a_future_api_is_listed_and_skipped(tmp_path: Path) -> None:
    out = tmp_path / "future-cross"
    assert CliRunner().invoke(cli, ["plugins", "new", "future-cross", "--kind", "interaction", "-o", str(out)]).exit_code == 0
    init = out / "future_cross" / "__init__.py"
    init.write_text(init.read_text().replace('RECFORGE_API = ">=1.0,<2"', 'RECFORGE_API = ">=2.0,<3"'))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("RECFORGE_LOAD_PLUGINS", None)
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", str(out)],
                   check=True, capture_output=True, timeout=600)
    try:
        listed = subprocess.run([sys.executable, "-m", "recforge", "plugins", "list", "--json"],
                                capture_output=True, text=True, env=env, timeout=300, check=True)
        record = next(r for r in json.loads(listed.stdout) if r["name"] == "future_cross")
        assert record["version"] == "0.1.0" and record["components"] == []
        assert "supports recforge plugin API >=2.0,<3, this recforge provides API 1.0" in record["error"]
        components = subprocess.run([sys.executable, "-m", "recforge", "components", "list", "--json"],
                                    capture_output=True, text=True, env=env, timeout=300, check=True)
        assert "future-cross" not in {c["name"] for c in json.loads(components.stdout)}
    finally:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "future-cross"], capture_output=True, timeout=300, check=True)


def test_subject_kind_of_a_standalone_ranker() -> None:
    from recforge.plugins.rankers.mf import MatrixFactorization

    assert Subject(MatrixFactorization).kind == "model"
