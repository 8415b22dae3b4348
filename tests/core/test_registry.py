"""Registry: built-ins, real entry points, the allowlist, duplicates, broken plugins, and the
example third-party plugin's components against brute-force references."""

from __future__ import annotations

import itertools
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from recforge.core.components import Interaction, param
from recforge.core.data.schema import FieldInfo
from recforge.core.errors import UnknownNameError
from recforge.core.hookspecs import hookimpl
from recforge.core.registry import Registry, get_registry
from recforge.plugins import BUILTIN_PLUGINS

EXAMPLE_PLUGIN = Path(__file__).resolve().parents[2] / "examples" / "plugins" / "recforge-example-plugin"


def _interaction(name: str) -> type[Interaction]:
    @dataclass
    class Params:
        k: int = param(2, "a number")

    return type(name.title(), (Interaction,), {"name": name, "Params": Params, "__doc__": f"{name}.\n\nArgs:\n  k: k\n\nExample:\n  x"})


def _plugin_module(module_name: str, *component_names: str, fail: bool = False) -> types.ModuleType:
    module = types.ModuleType(module_name)

    @hookimpl
    def register_interactions(register):  # type: ignore[no-untyped-def]
        for n in component_names:
            register(_interaction(n))
        if fail:
            raise RuntimeError("hook exploded")

    module.register_interactions = register_interactions  # type: ignore[attr-defined]
    return module


def test_builtins_load_without_errors() -> None:
    reg = get_registry()
    builtins = {p.name: p for p in reg.plugin_list() if p.origin == "builtin"}
    assert set(builtins) == set(BUILTIN_PLUGINS)
    assert all(p.error is None for p in builtins.values())
    for info in reg.components.values():
        if info.plugin in builtins:
            assert reg.get(info.name) is info and info.plugin_version and info.kind in info.cls.kind


def test_add_and_unregister_a_plugin() -> None:
    reg = Registry()
    record = reg.add_plugin("mine", lambda: _plugin_module("mine", "alpha-x", "alpha-y"), version="1.2", origin="manual")
    assert record.error is None and record.components == ["alpha-x", "alpha-y"]
    info = reg.get("alpha-x", kind="interaction")
    assert (info.plugin, info.plugin_version, info.params[0].name, info.params[0].default) == ("mine", "1.2", "k", 2)
    assert [c.name for c in reg.list("interaction", "alpha-*")] == ["alpha-x", "alpha-y"]
    assert reg.list(pattern="*-y")[0].name == "alpha-y" and reg.list("encoder") == []
    with pytest.raises(UnknownNameError, match="unknown interaction 'alpha-xx' \\(did you mean 'alpha-x'\\?\\)"):
        reg.get("alpha-xx", kind="interaction")
    reg.unregister("mine")
    assert not reg.has("alpha-x") and "mine" not in reg.plugins


def test_duplicate_names_name_both_plugins() -> None:
    reg = Registry()
    reg.add_plugin("first", lambda: _plugin_module("first", "shared", "own"), version="1", origin="manual")
    second = reg.add_plugin("second", lambda: _plugin_module("second", "other", "shared"), version="1", origin="manual")
    assert "component name 'shared' is registered by both plugin 'first' and plugin 'second'" in (second.error or "")
    assert reg.get("shared").plugin == "first" and not reg.has("other")  # all-or-nothing
    assert reg.plugins["first"].error is None


def test_broken_plugins_are_recorded_and_isolated() -> None:
    reg = Registry()

    def boom() -> types.ModuleType:
        raise ImportError("No module named 'missing_dependency'")

    bad_import = reg.add_plugin("bad-import", boom, version="0", origin="manual")
    bad_hook = reg.add_plugin("bad-hook", lambda: _plugin_module("bad_hook", "half", fail=True), version="0", origin="manual")
    good = reg.add_plugin("good", lambda: _plugin_module("good", "fine"), version="0", origin="manual")
    assert bad_import.error == "ImportError: No module named 'missing_dependency'"
    assert bad_hook.error == "RuntimeError: hook exploded" and not reg.has("half")
    assert good.error is None and reg.has("fine")
    assert {p.name: p.error is not None for p in reg.plugin_list()} == {"bad-hook": True, "bad-import": True, "good": False}


@pytest.fixture
def fake_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A real installed-distribution layout (dist-info with an entry point) on sys.path."""
    (tmp_path / "fakeplug_mod.py").write_text(
        "from dataclasses import dataclass\n"
        "from recforge.core.components import Interaction\n"
        "from recforge.core.hookspecs import hookimpl\n"
        "class Fake(Interaction):\n"
        "    '''Fake.\n\n    Args:\n        none.\n\n    Example:\n        x\n    '''\n"
        "    name = 'fake-ep'\n"
        "@hookimpl\n"
        "def register_interactions(register):\n"
        "    register(Fake)\n"
    )
    dist = tmp_path / "fakeplug-3.4.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplug\nVersion: 3.4\n")
    (dist / "entry_points.txt").write_text("[recforge]\nfake = fakeplug_mod\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "fakeplug"
    sys.modules.pop("fakeplug_mod", None)


@pytest.mark.parametrize(
    ("allow", "loaded"),
    [(None, True), ("", False), ("fakeplug", True), ("fake", True), ("something-else", False), (" fakeplug , x", True)],
)
def test_entry_points_and_allowlist(fake_distribution: str, monkeypatch: pytest.MonkeyPatch, allow: str | None, loaded: bool) -> None:
    if allow is None:
        monkeypatch.delenv("RECFORGE_LOAD_PLUGINS", raising=False)
    else:
        monkeypatch.setenv("RECFORGE_LOAD_PLUGINS", allow)
    reg = Registry()
    reg.load_builtins()
    reg.load_entrypoints()
    assert reg.has("fake-ep") is loaded
    if allow == "":  # empty allowlist: no third-party plugin at all
        assert [p.name for p in reg.plugin_list() if p.origin == "entrypoint"] == []
    if loaded:
        record = reg.plugins["fake"]
        assert (record.origin, record.version, record.components, record.error) == ("entrypoint", "3.4", ["fake-ep"], None)
    assert set(BUILTIN_PLUGINS) <= set(reg.plugins)  # built-ins always load


# ---------------------------------------------------------------- the example third-party plugin


@pytest.fixture
def example_registry(monkeypatch: pytest.MonkeyPatch) -> Registry:
    monkeypatch.syspath_prepend(str(EXAMPLE_PLUGIN))
    import importlib

    reg = Registry()
    record = reg.add_plugin("example", lambda: importlib.import_module("recforge_example_plugin"), version="0.1.0", origin="manual")
    assert record.error is None and sorted(record.components) == ["example-bucket-id", "example-hadamard-sum"]
    yield reg
    reg.unregister("example")
    assert not reg.has("example-hadamard-sum")


def test_example_hadamard_sum_matches_brute_force(example_registry: Registry) -> None:
    info = example_registry.get("example-hadamard-sum", kind="interaction")
    torch.manual_seed(0)
    x = torch.randn(4, 5, 3, dtype=torch.float64)
    layer = info.cls(5, 3, None)
    expected = sum(x[:, i] * x[:, j] for i, j in itertools.combinations(range(5), 2))
    assert layer.output_dim == 3
    torch.testing.assert_close(layer(x), expected)
    # hand-computed: fields (1,2), (3,4), (5,6) -> 1*3+1*5+3*5 = 23, 2*4+2*6+4*6 = 44
    three = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]])
    torch.testing.assert_close(info.cls(3, 2, None)(three), torch.tensor([[23.0, 44.0]]))
    torch.testing.assert_close(info.cls(1, 2, None)(three[:, :1]), torch.zeros(1, 2))


def test_example_bucket_id_hashes_into_a_small_table(example_registry: Registry) -> None:
    from recforge.core.components import build_params

    info = example_registry.get("example-bucket-id", kind="encoder")
    params = build_params(info.cls, {"buckets": "5"})
    assert params.buckets == 5
    field = FieldInfo(name="user_id", kind="categorical", role="user", vocab_size=1000)
    encoder = info.cls([field], 8, params)
    index = torch.tensor([0, 1, 2, 3, 4, 5, 999])
    out = encoder({"user_id": index}, {})
    assert out.shape == (7, 1, 8)
    assert torch.all(out[0] == 0)  # padding stays zero
    from recforge_example_plugin.bucket_id import bucket_of

    buckets = bucket_of(index, 5)
    assert buckets.tolist() == [0] + [1 + (i * 2654435761) % 4 for i in index.tolist()[1:]]
    assert int(buckets.min()) >= 0 and int(buckets.max()) < 5
    for a, b in itertools.combinations(range(1, 7), 2):  # colliding indices share a vector
        if buckets[a] == buckets[b]:
            torch.testing.assert_close(out[a], out[b])
    from recforge.core.errors import ConfigError

    with pytest.raises(ConfigError, match="needs buckets >= 2"):
        info.cls([field], 8, build_params(info.cls, {"buckets": 1}))
