"""The news case study's variants are YAML files `recforge train` takes (examples/news/configs),
its recipes come from the news-titles example plugin, and the harness reads those files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from examples.news.recipes import ensure_registered
from examples.news.run import CONFIGS, DATASETS, VARIANTS, variant
from recforge.cli import main as cli
from recforge.core.config import load_config

FILES = sorted(CONFIGS.glob("*.yaml"))


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        returned = cli(list(args))
        code = returned if isinstance(returned, int) else 0
    except SystemExit as stop:
        code = int(stop.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_one_yaml_per_dataset_and_variant_none_capping_epochs() -> None:
    assert {f.stem for f in FILES} == {f"{d}-{v}" for d in DATASETS for v in VARIANTS}
    for path in FILES:
        config = load_config(path, [])
        assert config.train.epochs >= 1000 and config.train.patience >= 2, path.name  # early stopping decides
        assert config.data.recipe in ("bing-news-titles", "mind-titles")


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_each_yaml_passes_config_check(capsys, path: Path) -> None:
    ensure_registered()  # what `recforge plugins install -e examples/plugins/recforge-news-titles` provides
    code, out, err = run_cli(capsys, "config", "check", str(path))
    assert code == 0 and out.startswith("ok:") and "ctr ranker" in out, err


def test_without_the_recipes_plugin_check_names_the_recipe(capsys, monkeypatch) -> None:
    from recforge.core import registry

    fresh = registry.Registry()
    fresh.load_builtins()
    monkeypatch.setattr(registry, "_REGISTRY", fresh)
    code, _, err = run_cli(capsys, "config", "check", str(CONFIGS / "bing-news-text-lm.yaml"))
    assert code == 1 and "unknown dataset 'bing-news-titles'" in err and len(err.strip().splitlines()) == 1


def test_harness_variants_are_the_yaml_files() -> None:
    mind = variant("mind", "text-lm", ["data.params.folder=mind-format-sample"]).config
    assert mind.data.params["folder"] == "mind-format-sample"
    assert mind.model.encoders["title"].name == "text-lm"


@pytest.mark.slow
def test_recforge_train_takes_a_news_yaml(capsys) -> None:
    ensure_registered()
    code, out, err = run_cli(capsys, "train", str(CONFIGS / "bing-news-text-hash.yaml"), "--set", "train.epochs=1",
                             "--set", "train.max_steps=2", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["status"] == "finished" and 0.0 <= result["test"]["auc"] <= 1.0
