"""``recforge plugins list|install|uninstall``, including a real editable pip install of the
example plugin found through its entry point in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from recforge.cli import cli
from recforge.core.errors import PluginError
from recforge.services import plugins as pip_service
from recforge.plugins import BUILTIN_PLUGINS

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plugins" / "recforge-example-plugin"
EXAMPLE_DIST = "recforge-example-plugin"


def test_list_shows_builtins_as_json() -> None:
    result = CliRunner().invoke(cli, ["plugins", "list", "--json"])
    assert result.exit_code == 0
    records = {r["name"]: r for r in json.loads(result.stdout)}
    assert set(BUILTIN_PLUGINS) <= set(records)
    assert all(records[b]["origin"] == "builtin" and records[b]["error"] is None for b in BUILTIN_PLUGINS)


def test_pip_runs_in_this_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    class FakePopen:
        def __init__(self, cmd: list[str], **_: object) -> None:
            calls.append(cmd)
            self.stdout = iter(["Successfully installed x-1.0\n"])

        def wait(self) -> int:
            return 0

    monkeypatch.setattr(pip_service.subprocess, "Popen", FakePopen)
    result = CliRunner().invoke(cli, ["plugins", "install", "a", "b>=2", "-e", "/p/q", "--upgrade"])
    # pip's log is shown only with -v (or on failure)
    assert result.exit_code == 0 and "Successfully installed" not in result.output
    assert calls == [[sys.executable, "-m", "pip", "install", "--upgrade", "a", "b>=2", "-e", "/p/q"]]
    verbose = CliRunner().invoke(cli, ["plugins", "install", "a", "-v"])
    assert verbose.exit_code == 0 and "Successfully installed x-1.0" in verbose.stdout
    as_json = CliRunner().invoke(cli, ["plugins", "install", "a", "--json"])
    assert json.loads(as_json.stdout) == {"action": "install", "packages": ["a"], "ok": True}
    with pytest.raises(PluginError, match="options are not allowed"):  # refused before pip runs
        pip_service.pip_argv("install", ["--index-url=http://evil"])
    result = CliRunner().invoke(cli, ["plugins", "uninstall", "a"], input="y\n")
    assert result.exit_code == 0 and calls[-1] == [sys.executable, "-m", "pip", "uninstall", "-y", "a"]


def test_pip_failure_is_one_error_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["plugins", "install", str(tmp_path / "missing")])
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: pip install failed (exit 1)")
    assert errors[0].endswith("read pip's output above, fix the package name or path, and retry")
    assert "ERROR:" in result.stderr  # pip's own output is shown when it fails


def test_usage_errors() -> None:
    nothing = CliRunner().invoke(cli, ["plugins", "install"])
    assert nothing.exit_code == 1 and nothing.stderr.strip() == "error: nothing to install; pass a package name or -e PATH"
    itself = CliRunner().invoke(cli, ["plugins", "uninstall", "recforge", "-y"])
    assert itself.exit_code == 1 and "refusing to uninstall recforge itself" in itself.stderr
    declined = CliRunner().invoke(cli, ["plugins", "uninstall", "somepkg"], input="n\n")
    assert declined.exit_code != 0


def _components_in_fresh_process(env: dict[str, str]) -> dict[str, dict]:
    out = subprocess.run(
        [sys.executable, "-m", "recforge", "components", "list", "--json"],
        capture_output=True, text=True, env=env, timeout=300, check=True,
    ).stdout
    return {c["name"]: c for c in json.loads(out)}


@pytest.mark.slow
def test_editable_install_is_found_through_the_entry_point() -> None:
    env = {**os.environ}
    env.pop("RECFORGE_LOAD_PLUGINS", None)
    try:
        result = CliRunner().invoke(cli, ["plugins", "install", "-e", str(EXAMPLE)])
        assert result.exit_code == 0, result.output
        found = _components_in_fresh_process(env)
        for name, kind in (("example-hadamard-sum", "interaction"), ("example-bucket-id", "encoder")):
            assert (found[name]["kind"], found[name]["plugin"], found[name]["plugin_version"]) == (kind, "example", "0.1.0")
        # the allowlist keeps it out when empty
        hidden = _components_in_fresh_process({**env, "RECFORGE_LOAD_PLUGINS": ""})
        assert "example-hadamard-sum" not in hidden
    finally:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", EXAMPLE_DIST], capture_output=True, timeout=300)
    assert "example-hadamard-sum" not in _components_in_fresh_process(env)
