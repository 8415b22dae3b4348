"""``recforge plugins new``: every kind scaffolds a package whose conformance suite passes; a
scaffolded layer broken on purpose fails the suite naming the broken property; the
interaction scaffold installs with pip, shows in the catalogue and trains from a config."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from click.testing import CliRunner

from recforge.cli import cli
from recforge.testing import CHECKS, ConformanceFailure, check_component
from recforge.testing.probes import Subject
from recforge.testing.tiny_data import tiny_data_config

REPO = Path(__file__).resolve().parents[2]
KINDS = ["interaction", "encoder", "ranker", "model", "dataset"]


def scaffold(tmp_path: Path, kind: str, name: str = "my-cross") -> Path:
    out = tmp_path / f"{name}-{kind}"
    result = CliRunner().invoke(cli, ["plugins", "new", name, "--kind", kind, "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def load_component(out: Path, source: str | None = None) -> type:
    """Import the scaffold's component module from its file (optionally with edited source)."""
    path = next(out.glob("*/component.py"))
    if source is not None:
        path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"scaffold_{uuid.uuid4().hex}", path)
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return next(v for v in vars(module).values() if isinstance(v, type) and getattr(v, "name", "") == "my-cross")


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_scaffolds_a_documented_package(tmp_path: Path, kind: str) -> None:
    out = scaffold(tmp_path, kind)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "README.md", "my_cross/__init__.py", "my_cross/component.py", "pyproject.toml",
        "tests/test_my_cross_conformance.py"]
    project = (out / "pyproject.toml").read_text()
    assert '[project.entry-points.recforge]\nmy_cross = "my_cross"' in project
    assert 'RECFORGE_API = ">=1.0,<2"' in (out / "my_cross/__init__.py").read_text()
    cls = load_component(out)
    assert cls.kind == kind
    CHECKS["documented"](Subject(cls))
    CHECKS["params_reject_bad_values"](Subject(cls))


def test_bad_names_and_existing_folders_are_one_line_errors(tmp_path: Path) -> None:
    bad = CliRunner().invoke(cli, ["plugins", "new", "My Cross", "--kind", "interaction", "-o", str(tmp_path / "a")])
    assert bad.exit_code == 1 and bad.stderr.strip().startswith("error: plugin name 'My Cross'")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep me")
    taken = CliRunner().invoke(cli, ["plugins", "new", "ok", "--kind", "encoder", "-o", str(tmp_path / "full")])
    assert taken.exit_code == 1 and "already exists and is not empty" in taken.stderr
    assert (tmp_path / "full" / "x").read_text() == "keep me"


BREAKS = {
    "declared output shape": ("self.output_dim = rows.numel() + num_fields * params.rank",
                              "self.output_dim = rows.numel() + num_fields * params.rank + 1"),
    "gradients reach every parameter": (
        "self.dropout = nn.Dropout(params.dropout)",
        "self.dropout = nn.Dropout(params.dropout)\n        self.scale = nn.Parameter(torch.ones(1))"),
    "finite on extreme inputs": ("pairs = (z[:, self.rows] * z[:, self.cols]).sum(-1)",
                                 "pairs = torch.exp(z[:, self.rows] * z[:, self.cols]).sum(-1)"),
}
# the detached parameter: used in forward, but detached, so no gradient reaches it
DETACH = ("return self.dropout(torch.cat([pairs, z.flatten(1)], dim=1))",
          "return self.dropout(torch.cat([pairs, z.flatten(1)], dim=1)) * self.scale.detach()")


@pytest.mark.parametrize("prop", list(BREAKS))
def test_a_broken_layer_fails_naming_the_property(tmp_path: Path, prop: str) -> None:
    out = scaffold(tmp_path, "interaction")
    source = next(out.glob("*/component.py")).read_text()
    old, new = BREAKS[prop]
    assert old in source
    source = source.replace(old, new)
    if prop == "gradients reach every parameter":
        source = source.replace(*DETACH)
    cls = load_component(out, source)
    with pytest.raises(ConformanceFailure, match=rf"^\[{prop}\]"):
        for check in ("output_shape", "gradients", "finite_on_extreme_inputs"):
            CHECKS[check](Subject(cls, {"rank": 4}))
    with pytest.raises(ConformanceFailure, match=rf"broke .*\[{prop}\]"):
        check_component(cls, {"rank": 4}, skip={"saved_model_round_trip": "", "trains_better_than_chance": ""})


def test_an_intact_scaffold_passes_the_unit_properties(tmp_path: Path) -> None:
    cls = load_component(scaffold(tmp_path, "interaction"))
    passed = check_component(cls, {"rank": 4}, skip={"saved_model_round_trip": "", "trains_better_than_chance": ""})
    assert len(passed) == len(CHECKS) - 2


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("RECFORGE_LOAD_PLUGINS", None)
    return env


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_every_scaffold_passes_the_whole_suite(tmp_path: Path, kind: str) -> None:
    """In-process: what the scaffold's own test file runs (its pytest run was checked by hand
    from a fresh venv: 11 passed)."""
    from recforge.cli.plugins_new import KINDS as TEMPLATES

    cls = load_component(scaffold(tmp_path, kind))
    passed = check_component(cls, json.loads(TEMPLATES[kind][1]))
    assert "trains_better_than_chance" in passed


@pytest.mark.slow
def test_installed_scaffold_shows_and_trains(tmp_path: Path) -> None:
    """The done-when path: scaffold, pip install -e, components show, train a config using it."""
    out = scaffold(tmp_path, "interaction")
    env = _env()
    pip = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "-e", str(out)]
    subprocess.run(pip, check=True, capture_output=True, timeout=600)
    try:
        shown = subprocess.run([sys.executable, "-m", "recforge", "components", "show", "my-cross", "--json"],
                               capture_output=True, text=True, env=env, timeout=300)
        assert shown.returncode == 0, shown.stderr
        info = json.loads(shown.stdout)
        assert info["kind"] == "interaction" and info["plugin"] == "my_cross"
        config = {"name": "my-cross", "data": tiny_data_config(),
                  "model": {"embedding_dim": 8, "interaction": {"stack": [{"name": "my-cross"}, "mlp"]}},
                  "train": {"epochs": 1, "batch_size": 64, "threads": 1}}
        path = tmp_path / "cfg.yaml"
        path.write_text(yaml.safe_dump(config))
        trained = subprocess.run([sys.executable, "-m", "recforge", "train", str(path), "--json"],
                                 capture_output=True, text=True, env=env, timeout=600)
        assert trained.returncode == 0, trained.stderr[-2000:]
        assert json.loads(trained.stdout)["valid"]["auc"] > 0.5
    finally:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "my-cross"], capture_output=True, timeout=300, check=True)
