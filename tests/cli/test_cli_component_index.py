"""The cached component catalogue (``recforge.core.component_index``).

``components list|show`` and ``plugins list`` read the index written by the last full load;
these tests check that it says exactly what the live registry says, that a second call
imports no torch (``sys.modules`` of a fresh process), and that a plugin that changes (an
edited module, a new version, a new plugin) is seen on the next call.

The third-party plugin here is installed the way a wheel lays itself out: a package folder
and a ``*.dist-info`` with ``METADATA`` and ``entry_points.txt`` on the import path (given to
the fresh processes through ``PYTHONPATH``), so ``importlib.metadata`` finds its entry point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

from recforge.cli import cli
from recforge.core.component_index import ComponentIndex, cached_catalogue, fingerprint, index_path
from recforge.core.registry import Registry

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import sys
from recforge.cli import main
code = 0
try:
    code = main(sys.argv[1:]) or 0
except SystemExit as exit:
    code = exit.code
heavy = sorted(m for m in ("torch", "transformers", "recforge.core.registry") if m in sys.modules)
print("HEAVY=" + ",".join(heavy), file=sys.stderr)
sys.exit(code)
"""

PLUGIN = '''
from dataclasses import dataclass
from typing import Literal

from recforge.core.components import Interaction, param
from recforge.core.hookspecs import hookimpl

{classes}

@hookimpl
def register_interactions(register):
    for cls in ({names},):
        register(cls)
'''

CLASS = '''
class Probe{n}(Interaction):
    """Probe interaction {n}: only ever listed."""

    name = "probe-cross-{n}"

    @dataclass
    class Params:
        width: int = param({n}, "a width")
        mode: Literal["a", "b"] = param("a", "how")
'''


def install_probe_plugin(site: Path, version: str, count: int) -> None:
    """(Re)write the ``recforge-indexprobe`` distribution under ``site`` with ``count`` components."""
    for old in site.glob("recforge_indexprobe-*.dist-info"):
        for f in old.iterdir():
            f.unlink()
        old.rmdir()
    info = site / f"recforge_indexprobe-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: recforge-indexprobe\nVersion: {version}\n")
    (info / "entry_points.txt").write_text("[recforge]\nindexprobe = indexprobe\n")
    package = site / "indexprobe"
    package.mkdir(exist_ok=True)
    classes = "\n".join(CLASS.format(n=n) for n in range(1, count + 1))
    names = ", ".join(f"Probe{n}" for n in range(1, count + 1))
    (package / "__init__.py").write_text(textwrap.dedent(PLUGIN.format(classes=classes, names=names)))


def _env(home: Path, site: Path | None = None) -> dict[str, str]:
    env = {**os.environ, "RECFORGE_HOME": str(home)}
    env["PYTHONPATH"] = os.pathsep.join([*([str(site)] if site else []), str(REPO)])
    # only this test's third-party plugin: other tests install and remove plugin packages
    env["RECFORGE_LOAD_PLUGINS"] = "recforge-indexprobe" if site else ""
    return env


def _recforge(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env,
                          timeout=300, check=False, cwd=REPO)


def _heavy(done: subprocess.CompletedProcess[str]) -> list[str]:
    line = next(li for li in done.stderr.splitlines() if li.startswith("HEAVY="))
    return [m for m in line[len("HEAVY="):].split(",") if m]


def test_the_stored_index_says_what_the_live_registry_says() -> None:
    live = Registry()
    live.load_builtins()
    stored = ComponentIndex.from_json(json.loads(json.dumps(ComponentIndex.of(live, "k").to_json())))
    assert [c.to_dict(full=True) for c in stored.list()] == [c.to_dict(full=True) for c in live.list()]
    assert [p.to_dict() for p in stored.plugin_list()] == [p.to_dict() for p in live.plugin_list()]
    some = live.list()[0]
    assert stored.get(some.name).params == some.params  # ParamSpec round trip, choices included
    assert [c.name for c in stored.list("interaction", "d*")] == [c.name for c in live.list("interaction", "d*")]
    with pytest.raises(Exception) as from_index:
        stored.get("deepfn")
    with pytest.raises(Exception) as from_live:
        live.get("deepfn")
    assert str(from_index.value) == str(from_live.value) and "deepfm" in str(from_index.value)


def test_index_is_written_once_and_reused_until_the_code_changes(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[int] = []

    def load_live() -> Registry:
        loads.append(1)
        registry = Registry()
        registry.load_builtins()
        return registry

    first = cached_catalogue(load_live)
    second = cached_catalogue(load_live)
    assert len(loads) == 1 and index_path().is_file()
    assert [c.to_dict(full=True) for c in first.list()] == [c.to_dict(full=True) for c in second.list()]
    cached_catalogue(load_live, reload=True)
    assert len(loads) == 2
    index_path().write_text("{not json")  # a damaged index is rebuilt, not an error
    assert cached_catalogue(load_live).list() and len(loads) == 3
    # a new plugin on the import path, its new version, an edit of its code: each a new key
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    before = fingerprint()
    install_probe_plugin(site, "1.0", 1)
    with_plugin = fingerprint()
    assert with_plugin != before
    info = site / "recforge_indexprobe-1.0.dist-info"
    bumped_info = info.rename(site / "recforge_indexprobe-1.1.dist-info")
    (bumped_info / "METADATA").write_text("Metadata-Version: 2.1\nName: recforge-indexprobe\nVersion: 1.1\n")
    bumped = fingerprint()  # same code, new version
    assert bumped != with_plugin
    init = site / "indexprobe" / "__init__.py"
    init.write_text(init.read_text() + "\n# edited\n")
    assert fingerprint() != bumped
    assert fingerprint() == fingerprint()  # and nothing else moves it


def test_second_listing_imports_no_torch_and_a_changed_plugin_is_seen(tmp_path: Path) -> None:
    home, site = tmp_path / "home", tmp_path / "site"
    install_probe_plugin(site, "1.0", 1)
    env = _env(home, site)
    first = _recforge(env, "components", "list", "--kind", "interaction", "--json")
    assert first.returncode == 0, first.stderr
    assert "torch" in _heavy(first)  # the first listing loads every plugin and stores the index
    live = json.loads(first.stdout)
    probe = next(c for c in live if c["name"] == "probe-cross-1")
    assert probe["plugin"] == "indexprobe" and probe["plugin_version"] == "1.0"

    for args in (("components", "list", "--kind", "interaction", "--json"), ("plugins", "list", "--json"),
                 ("components", "show", "probe-cross-1", "--json"), ("components", "show", "deepfm")):
        stamp = index_path(home).stat().st_mtime_ns
        done = _recforge(env, *args)
        assert done.returncode == 0, done.stderr
        if index_path(home).stat().st_mtime_ns != stamp:  # another test installed a package meanwhile
            done = _recforge(env, *args)
        assert _heavy(done) == [], f"recforge {' '.join(args)} imported {_heavy(done)}"
        if args[:2] == ("components", "list"):
            assert json.loads(done.stdout) == live
    shown = json.loads(_recforge(env, "components", "show", "probe-cross-1", "--json").stdout)
    assert shown["params"] == [
        {"name": "width", "type": "int", "default": 1, "help": "a width", "choices": None},
        {"name": "mode", "type": "choice", "default": "a", "help": "how", "choices": ["a", "b"]},
    ]

    install_probe_plugin(site, "1.1", 2)  # an upgrade: new version, one more component
    upgraded = json.loads(_recforge(env, "components", "list", "--kind", "interaction", "--json").stdout)
    assert {c["name"]: c["plugin_version"] for c in upgraded if c["plugin"] == "indexprobe"} == {
        "probe-cross-1": "1.1", "probe-cross-2": "1.1"}
    plugins = json.loads(_recforge(env, "plugins", "list", "--json").stdout)
    assert next(p for p in plugins if p["name"] == "indexprobe")["components"] == ["probe-cross-1", "probe-cross-2"]

    unknown = _recforge(env, "components", "show", "probe-cross-9")
    assert unknown.returncode != 0 and "error: unknown component 'probe-cross-9'" in unknown.stderr
    assert _heavy(unknown) == []


def test_in_process_listing_shows_plugins_registered_at_run_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that loaded the registry lists it, plugins registered at run time included."""
    from recforge.core.registry import get_registry

    module = types.ModuleType("runtime_probe")
    monkeypatch.setitem(sys.modules, "runtime_probe", module)  # dataclasses look their module up
    exec(textwrap.dedent(PLUGIN.format(classes=CLASS.format(n=7), names="Probe7")), module.__dict__)  # noqa: S102
    registry = get_registry()
    registry.register_module(module, name="runtime_probe", version="0.7")
    try:
        listed = CliRunner().invoke(cli, ["components", "list", "--kind", "interaction", "--json"])
        assert listed.exit_code == 0
        assert {"name": "probe-cross-7", "plugin": "runtime_probe", "plugin_version": "0.7"}.items() <= next(
            c for c in json.loads(listed.stdout) if c["name"] == "probe-cross-7").items()
    finally:
        registry.unregister("runtime_probe")
