"""Known-answer tests of the console's pure drawing and parsing functions."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from recforge.console import formatting as fmt
from recforge.console.launcher import progress_fraction, progress_line
from recforge.console.widgets.curve_plot import curve_keys
from recforge.console.widgets.heatmap import cell_shade
from recforge.console.widgets.importance_bars import Importance, bar
from recforge.console.widgets.metric_chart import sparkline
from recforge.core.errors import ConfigError, PluginError
from recforge.services.analysis import field_importance, load_analysis, pair_matrix
from recforge.services.models import parse_tag
from recforge.services.plugins import pip_command
from recforge.services.runs import metric_series


def test_sparkline_maps_min_to_lowest_and_max_to_full_block() -> None:
    assert sparkline([0.0, 0.5, 1.0]) == "▁▅█"  # 1 + round(0.5 * 7) = 5 -> ▅ (index 5)
    assert sparkline([3.0, 3.0]) == "██"  # constant series: all full
    assert sparkline([1.0, math.nan, 2.0]) == "▁ █"


def test_curve_keys_draw_every_split_of_the_chosen_metric() -> None:
    series = {"train.loss": [(1, 0.5)], "valid.auc": [(1, 0.7)], "test.auc": [(2, 0.71)], "valid.logloss": [(1, 0.6)]}
    assert curve_keys(series, "valid.auc") == ["valid.auc", "test.auc"]
    assert curve_keys(series, "train.loss") == ["train.loss"] and curve_keys(series, None) == []


def test_bar_and_shade_scale_to_the_maximum() -> None:
    assert bar(1.0, 1.0, 4) == "████"
    assert bar(0.5, 1.0, 4) == "██"
    assert bar(1 / 16, 1.0, 4) == "▎"  # 1/16 of 32 eighths = 2 eighths: a quarter cell
    assert bar(0.75, 1.0, 2) == "█▌"  # 12 eighths: one full cell and a half
    assert bar(-0.1, 1.0, 4) == ""
    assert cell_shade(0.5, 2.0) == 0.25 and cell_shade(-1, 2.0) == 0.0 and cell_shade(3, 2.0) == 1.0


def test_formatting() -> None:
    assert fmt.duration(42) == "42s" and fmt.duration(185) == "3m05s" and fmt.duration(3720) == "1h02m"
    assert fmt.duration(None) == "" and fmt.metric(0.123456) == "0.1235" and fmt.metric(math.nan) == "nan"


def test_analysis_document_is_read_in_the_shape_analyze_writes() -> None:
    doc = {
        "fields": ["a", "b", "c"],
        "importance": {"a": {"mean": 0.2, "low": 0.1, "high": 0.3}, "b": {"mean": 0.1}, "c": {"mean": None}},
        "pairs": {"strength_matrix": [[None, 0.5, None], [0.5, None, 0.25], [None, 0.25, None]]},
    }
    assert field_importance(doc) == [Importance("a", 0.2, 0.1, 0.3), Importance("b", 0.1)]
    pm = pair_matrix(doc)
    assert pm is not None and pm.labels == ["a", "b", "c"]
    assert pm.matrix[0][1] == pm.matrix[1][0] == 0.5 and pm.matrix[2][1] == 0.25 and pm.matrix[0][2] is None
    # a matrix whose size disagrees with the fields is not drawn
    assert pair_matrix({**doc, "fields": ["a", "b"]}) is None
    assert field_importance({}) == [] and pair_matrix({}) is None


def test_metric_series_keeps_last_value_per_step() -> None:
    class M:
        def __init__(self, key: str, step: int, value: float | None) -> None:
            self.key, self.step, self.value = key, step, value

    series = metric_series([M("a", 2, 0.2), M("a", 1, 0.1), M("a", 2, 0.3), M("b", 0, None)])
    assert series["a"] == [(1, 0.1), (2, 0.3)]
    assert math.isnan(series["b"][0][1])


def test_tags_and_pip_commands_are_validated() -> None:
    assert parse_tag("owner = ops") == ("owner", "ops") and parse_tag("-owner") == ("owner", None)
    with pytest.raises(ConfigError, match="key=value"):
        parse_tag("nonsense")
    argv = pip_command("uninstall", "recforge-demo")
    assert argv[1:] == ["-m", "pip", "uninstall", "-y", "recforge-demo"]
    with pytest.raises(PluginError, match="options are not allowed"):
        pip_command("install", "--index-url=http://evil x")
    with pytest.raises(PluginError, match="install or uninstall"):
        pip_command("download", "x")


def test_progress_line() -> None:
    event = {"kind": "epoch", "epoch": 2, "epochs": 5, "loss": 0.4312, "samples_per_s": 1234.4,
             "metrics": {"valid.auc": 0.78125, "train.loss": 0.4}}
    assert progress_line(event) == "epoch 2/5 · loss 0.4312 · 1,234 samples/s · valid.auc 0.7812"
    # an epoch event carries step == steps but no "step N/M" (that is for step events)
    assert "step" not in progress_line({**event, "step": 20, "steps": 20})
    assert progress_line({"kind": "step", "epoch": 1, "epochs": 2, "step": 3, "steps": 20}) == "epoch 1/2 · step 3/20"


def test_progress_fraction_is_never_an_epoch_behind() -> None:
    assert progress_fraction({"kind": "step", "epoch": 1, "epochs": 2, "step": 1, "steps": 20}) == 1 / 40
    assert progress_fraction({"kind": "epoch", "epoch": 1, "epochs": 2, "step": 20, "steps": 20}) == 0.5
    assert progress_fraction({"kind": "epoch", "epoch": 2, "epochs": 2, "steps": 20}) == 1.0
    assert progress_fraction({"kind": "end", "epoch": 1, "epochs": 9}) == 1.0  # early stop: done
    assert progress_fraction({"kind": "start", "epoch": 1, "epochs": 2}) is None


def test_load_analysis_skips_other_folders_and_pngs(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    report = tmp_path / "analysis-valid" / "analysis.json"
    report.parent.mkdir()
    report.write_text('{"fields": ["a"], "importance": {"a": {"mean": 0.1}}}')
    png = report.parent / "pair_strength.png"
    png.write_bytes(b"\x89PNG")
    # what `recforge analyze` logs: the report, then its PNGs; the model folder came first
    view = load_analysis([("model", str(model)), ("analysis", str(report)), ("analysis", str(png))], run_id=7)
    assert view.problem is None and view.importance == [Importance("a", 0.1)] and view.plots == [str(png)]
    assert load_analysis([("model", str(model))]).available is False
    assert load_analysis([("model", str(model))]).problem is None
