"""Calibration (``train.calibrate``): scaling fits recover known temperatures, ECE by hand, the
log-loss drift warning, and a real DeepFM training on ml100k-ctr through the CLI whose saved
model applies the fitted scaling in ``recforge predict``."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from recforge.cli import cli
from recforge.core.calibration import (
    Calibration,
    LoglossDrift,
    expected_calibration_error,
    fit_calibrator,
    fit_scaling,
    interpolate,
)
from recforge.core.errors import ConfigError
from recforge.core.metrics import compute_metrics
from recforge.core.train import TrainSettings

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "cli"))
from test_cli_train import last_json


def synthetic(scale: float, bias: float, n: int = 20_000) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``z`` and labels drawn from ``sigmoid(scale * z + bias)``."""
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(n, generator=gen) * 3
    y = torch.bernoulli(torch.sigmoid(scale * z + bias), generator=gen)
    return z, y


def test_temperature_recovers_a_known_temperature() -> None:
    z, y = synthetic(0.5, 0.0)  # an over-confident model: true temperature 2
    scale, bias = fit_scaling(z, y, "temperature")
    assert scale == pytest.approx(0.5, abs=0.03) and bias == 0.0


def test_platt_recovers_scale_and_bias() -> None:
    z, y = synthetic(0.5, 1.0)
    scale, bias = fit_scaling(z, y, "platt")
    assert scale == pytest.approx(0.5, abs=0.03) and bias == pytest.approx(1.0, abs=0.06)


def test_ece_by_hand() -> None:
    # bins of width 1/15: rows 0.1, 0.1 (bin 1, labels 0, 1: gap |1 - 0.2| = 0.8) and 0.95 (bin 14, label 1: gap 0.05)
    ece = expected_calibration_error([0, 1, 1], [0.1, 0.1, 0.95])
    assert ece == pytest.approx((0.8 + 0.05) / 3)
    assert compute_metrics(["ece"], [0, 1, 1], [0.1, 0.1, 0.95])["ece"] == pytest.approx(ece)
    assert expected_calibration_error([1, 0], [1.0, 0.0]) == 0.0


def test_calibration_module_defaults_to_identity_and_loads_old_weights() -> None:
    cal = Calibration()
    x = torch.tensor([-2.0, 0.5])
    assert torch.equal(cal(x), x)
    cal.load_state_dict({}, strict=True)  # a model saved before calibration existed
    cal.set(0.5, 1.0)
    assert torch.allclose(cal(x), torch.tensor([0.0, 1.25]))


def test_logloss_drift_warns_only_when_the_monitor_improves_past_the_margin() -> None:
    drift = LoglossDrift(0.05, "valid.auc")
    assert drift.update(1, {"valid.logloss": 0.50, "valid.auc": 0.70}, True) is None
    assert drift.update(2, {"valid.logloss": 0.53, "valid.auc": 0.71}, True) is None  # within margin
    assert drift.update(3, {"valid.logloss": 0.60, "valid.auc": 0.70}, False) is None  # no improvement
    message = drift.update(4, {"valid.logloss": 0.62, "valid.auc": 0.72}, True)
    assert message is not None and "0.6200" in message and "epoch 1" in message and "train.calibrate" in message
    assert LoglossDrift(0.05, "valid.logloss").update(1, {"valid.logloss": 0.9}, True) is None


def test_unknown_method_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="calibrate 'beta'"):
        TrainSettings.from_config({"calibrate": "beta"})


def test_isotonic_follows_a_shape_that_scaling_cannot() -> None:
    """Labels from ``sigmoid(z**3 / 4 + 0.3 z)``: too flat near 0 and too steep in the tails for any
    ``a z + b``; the isotonic map fixes it and keeps the rows' order."""
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(10_000, generator=gen) * 2
    y = torch.bernoulli(torch.sigmoid(z**3 / 4 + 0.3 * z), generator=gen)
    ece = {m: expected_calibration_error(y.numpy(), fit_calibrator(z, y, m).probs(z.numpy()))
           for m in ("none", "platt", "isotonic")}
    assert ece["platt"] > 0.04 and ece["isotonic"] < 0.01
    fitted = fit_calibrator(z, y, "isotonic")
    assert len(fitted.knots_x) > 10 and np.all(np.diff(fitted.knots_x) > 0) and np.all(np.diff(fitted.knots_y) > 0)
    inside = (z > fitted.knots_x[0]) & (z < fitted.knots_x[-1])
    calibrated = fitted.logits(z.numpy())
    assert np.array_equal(np.argsort(calibrated[inside.numpy()]), np.argsort(z[inside].numpy()))  # strictly monotone


def test_interpolate_matches_numpy() -> None:
    xp, fp = torch.tensor([-1.0, 0.0, 2.0]), torch.tensor([-3.0, 0.5, 1.0])
    x = torch.tensor([-5.0, -1.0, -0.5, 0.0, 1.0, 2.0, 9.0])
    assert np.allclose(interpolate(x, xp, fp).numpy(), np.interp(x.numpy(), xp.numpy(), fp.numpy()))
    assert torch.equal(interpolate(x, xp[:1], fp[:1]), torch.full_like(x, -3.0))


def test_isotonic_knots_survive_a_state_dict_round_trip() -> None:
    z, y = synthetic(0.5, 0.0, n=2_000)
    fitted = fit_calibrator(z, y, "isotonic")
    cal = Calibration()
    cal.install(fitted)
    assert np.allclose(torch.sigmoid(cal(z)).numpy(), fitted.probs(z.numpy()), atol=1e-5)
    fresh = Calibration()  # what a saved model is rebuilt with before its weights load
    fresh.load_state_dict(cal.state_dict(), strict=True)
    assert fresh.knots_x.shape == (len(fitted.knots_x),) and torch.equal(fresh(z), cal(z))
    fresh.set(2.0, 0.0)  # a scaling drops the knots
    assert fresh.knots_x.numel() == 0 and torch.equal(fresh(z), 2 * z)


def invoke(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_calibrate_on_a_model_without_probabilities_fails_before_training(tmp_path) -> None:
    code, out = invoke("train", str(REPO / "examples/configs/ml100k-bpr.yaml"), "--set", "train.calibrate=temperature")
    assert code != 0 and "error: train.calibrate needs a click-probability model" in out


@pytest.mark.slow
def test_deepfm_temperature_scaling_end_to_end(tmp_path, tasks_dir) -> None:
    """Real DeepFM on ml100k-ctr: valid log loss falls, the order is unchanged, the saved model predicts
    the calibrated probabilities."""
    from recforge.core.saved_model import load_model
    from recforge.core.store import Store

    code, out = invoke("train", str(REPO / "examples/configs/ml100k-ctr-deepfm.yaml"), "--set", "train.epochs=4",
                       "--set", "train.threads=1", "--set", "train.calibrate=temperature",
                       "--set", "eval.metrics=[auc, logloss, ece]", "--json")
    assert code == 0, out
    run_id = last_json(out)["run_id"]
    with Store.open() as store:
        metrics = store.latest_metrics(run_id)
        model_dir = Path(store.run_dir(run_id)) / "model"
    assert metrics["valid.logloss_after"] < metrics["valid.logloss_before"]  # what the scaling minimises
    assert {"valid.ece_before", "valid.ece_after", "test.ece_before", "test.logloss_after"} <= set(metrics)
    assert metrics["test.ece"] == pytest.approx(metrics["test.ece_after"], abs=1e-9)
    loaded = load_model(model_dir)
    cal = loaded.model.head.calibration
    assert float(cal.scale) == pytest.approx(metrics["calibration.scale"], rel=1e-5) and float(cal.scale) != 1.0
    rows = tmp_path / "rows.csv"
    rows.write_text("\n".join((tasks_dir / "ml100k-ctr" / "test.csv").read_text().splitlines()[:201]) + "\n")
    code, out = invoke("predict", str(run_id), str(rows), "--json")
    assert code == 0, out
    calibrated = np.array(last_json(out)["predictions"])
    cal.set(1.0, 0.0)
    from recforge.core.experiment import predict_table

    raw = predict_table(loaded.model, loaded.data.featuremap.transform(__import__("pandas").read_csv(rows))).numpy()
    assert not np.allclose(raw, calibrated, atol=1e-4)  # predict applies the scaling ...
    assert (np.argsort(raw, kind="stable") == np.argsort(calibrated, kind="stable")).mean() > 0.99  # ... monotone


@pytest.mark.slow
def test_deepfm_isotonic_end_to_end(tmp_path, tasks_dir) -> None:
    """``train.calibrate: isotonic`` on a real DeepFM: the knots are saved with the model and
    ``recforge predict`` applies them."""
    from recforge.core.calibration import FittedCalibration
    from recforge.core.experiment import predict_table
    from recforge.core.saved_model import load_model
    from recforge.core.store import Store

    code, out = invoke("train", str(REPO / "examples/configs/ml100k-ctr-deepfm.yaml"), "--set", "train.epochs=2",
                       "--set", "train.threads=1", "--set", "train.calibrate=isotonic", "--json")
    assert code == 0, out
    run_id = last_json(out)["run_id"]
    with Store.open() as store:
        metrics = store.latest_metrics(run_id)
        model_dir = Path(store.run_dir(run_id)) / "model"
    assert metrics["valid.ece_after"] < metrics["valid.ece_before"] and metrics["calibration.knots"] > 2
    cal = load_model(model_dir).model.head.calibration
    assert cal.knots_x.numel() == metrics["calibration.knots"]
    rows = tmp_path / "rows.csv"
    rows.write_text("\n".join((tasks_dir / "ml100k-ctr" / "test.csv").read_text().splitlines()[:201]) + "\n")
    code, out = invoke("predict", str(run_id), str(rows), "--json")
    assert code == 0, out
    loaded = load_model(model_dir)
    fitted = FittedCalibration("isotonic", knots_x=tuple(loaded.model.head.calibration.knots_x.tolist()),
                               knots_y=tuple(loaded.model.head.calibration.knots_y.tolist()))
    loaded.model.head.calibration.set(1.0, 0.0)
    raw = predict_table(loaded.model, loaded.data.featuremap.transform(__import__("pandas").read_csv(rows))).numpy()
    raw_logits = np.log(raw / (1 - raw))
    assert np.allclose(np.array(last_json(out)["predictions"]), fitted.probs(raw_logits), atol=1e-4)
