"""Probability calibration of click models: temperature or Platt scaling fitted on valid.

Early stopping on a ranking metric (AUC) keeps the epoch that orders clicks best, not the one
whose probabilities are right: a model can keep improving AUC while its logits grow ever more
confident and its log loss rises. ``train.calibrate`` fixes the probabilities after training
without touching the order (both maps are monotone, so AUC is unchanged):

* ``temperature``: ``p = sigmoid(logit / T)``, one parameter (Guo et al., ICML 2017);
* ``platt``: ``p = sigmoid(a * logit + b)``, two parameters (Platt 1999), also fixing a base-rate
  shift between the training and the valid clicks;
* ``isotonic``: a monotone, piecewise-linear map of the logit through the pool-adjacent-violators
  fit of the valid labels (Zadrozny & Elkan 2002), for miscalibration whose shape one or two
  parameters cannot follow. Linear between the fitted blocks, so rows stay strictly ordered
  except beyond the outermost blocks (flat there): AUC moves only through those few ties.

The map is fitted on the validation split (scaling by minimising log loss), stored in the model's
:class:`Calibration` module (so it is saved with the weights and applied by every ``predict``),
and the expected calibration error and log loss on valid (and test, for reporting) are
logged before and after. :class:`LoglossDrift` is the trainer's warning for the failure mode
above.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recforge.core.config_schema import LOGLOSS_WARN_MARGIN
from recforge.core.errors import ConfigError

log = logging.getLogger(__name__)

METHODS: tuple[str, ...] = ("none", "temperature", "platt", "isotonic")
ECE_BINS = 15


class Calibration(nn.Module):
    """``logit -> scale * logit + bias`` in front of a click head's sigmoid (identity until fitted),
    then, for ``isotonic``, the piecewise-linear map through ``(knots_x, knots_y)`` (logit to logit).

    Saved with the weights; a model saved before calibration (or before the knots) existed
    loads with the identity.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("scale", torch.ones(()))
        self.register_buffer("bias", torch.zeros(()))
        self.register_buffer("knots_x", torch.zeros(0))
        self.register_buffer("knots_y", torch.zeros(0))

    def forward(self, raw: Tensor) -> Tensor:
        scaled = raw * self.scale + self.bias
        if self.knots_x.numel() == 0:
            return scaled
        return interpolate(scaled.float(), self.knots_x, self.knots_y).to(scaled.dtype)

    def set(self, scale: float, bias: float) -> None:
        """Install a scaling (and drop any knots)."""
        self.install(FittedCalibration("platt", scale, bias))

    def install(self, fitted: FittedCalibration) -> None:
        """Install a fitted map; the model's ``predict`` applies it from now on (and once saved)."""
        self.scale.fill_(fitted.scale)
        self.bias.fill_(fitted.bias)
        device = self.scale.device
        self.knots_x = torch.tensor(fitted.knots_x, dtype=torch.float32, device=device)
        self.knots_y = torch.tensor(fitted.knots_y, dtype=torch.float32, device=device)

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        for name, default in (("scale", torch.tensor(1.0)), ("bias", torch.tensor(0.0)),
                              ("knots_x", torch.zeros(0)), ("knots_y", torch.zeros(0))):
            state_dict.setdefault(prefix + name, default)
        for name in ("knots_x", "knots_y"):  # the knot count is the fit's: take the saved shape
            setattr(self, name, torch.empty_like(state_dict[prefix + name], device=self.scale.device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def interpolate(x: Tensor, xp: Tensor, fp: Tensor) -> Tensor:
    """``numpy.interp`` in torch: linear between the increasing knots ``xp``, constant beyond them."""
    if xp.numel() == 1:
        return fp.expand_as(x).clone()
    clamped = x.clamp(float(xp[0]), float(xp[-1]))
    right = torch.searchsorted(xp, clamped.contiguous()).clamp(1, xp.numel() - 1)
    x0, x1, f0, f1 = xp[right - 1], xp[right], fp[right - 1], fp[right]
    return f0 + (clamped - x0) / (x1 - x0).clamp_min(1e-12) * (f1 - f0)


def check_method(method: str) -> str:
    """Validate ``train.calibrate``."""
    if method not in METHODS:
        raise ConfigError(f"train.calibrate '{method}' is unknown", fix="use none, temperature, platt or isotonic")
    return method


def fit_scaling(logits: Tensor, labels: Tensor, method: str) -> tuple[float, float]:
    """``(scale, bias)`` minimising the log loss of ``sigmoid(scale * logit + bias)``.

    Temperature keeps ``bias = 0`` and fits ``scale = 1 / T`` (parameterised as ``exp(w)`` so
    it stays positive); Platt fits both. L-BFGS on the full valid set (a convex problem in
    ``(scale, bias)``; a few dozen iterations).
    """
    x, y = logits.double().reshape(-1), labels.double().reshape(-1)
    log_scale = torch.zeros((), dtype=torch.float64, requires_grad=True)
    bias = torch.zeros((), dtype=torch.float64, requires_grad=method == "platt")
    params = [log_scale, bias] if method == "platt" else [log_scale]
    opt = torch.optim.LBFGS(params, lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(x * log_scale.exp() + bias, y)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_scale.detach().exp()), float(bias.detach())


@dataclass(frozen=True)
class FittedCalibration:
    """A calibration map fitted on valid: ``logit -> scale * logit + bias`` (temperature, platt),
    then the piecewise-linear map through the knots (isotonic; logit to logit).

    The same map the model's :class:`Calibration` applies, as plain numbers, so the case-study
    harness can score calibrators on logits without a model.
    """

    method: str
    scale: float = 1.0
    bias: float = 0.0
    knots_x: tuple[float, ...] = ()
    knots_y: tuple[float, ...] = ()

    def logits(self, raw: Any) -> np.ndarray:
        """Calibrated logits of raw logits."""
        scaled = np.asarray(raw, dtype=np.float64) * self.scale + self.bias
        return np.interp(scaled, self.knots_x, self.knots_y) if self.knots_x else scaled

    def probs(self, raw: Any) -> np.ndarray:
        """Calibrated probabilities of raw logits."""
        return 1.0 / (1.0 + np.exp(-self.logits(raw)))

    def describe(self) -> dict[str, float]:
        """The fitted parameters, for logs and reports."""
        return {"scale": self.scale, "bias": self.bias, "knots": float(len(self.knots_x))}


def fit_calibrator(logits: Tensor, labels: Tensor, method: str) -> FittedCalibration:
    """Fit ``method`` (one of :data:`METHODS`; ``none`` is the identity) on ``(logits, labels)``."""
    check_method(method)
    if method == "none":
        return FittedCalibration("none")
    if method == "isotonic":
        return fit_isotonic(logits, labels)
    scale, bias = fit_scaling(logits, labels, method)
    return FittedCalibration(method, scale, bias)


def fit_isotonic(logits: Tensor, labels: Tensor) -> FittedCalibration:
    """Pool-adjacent-violators on the rows sorted by logit; one knot per block.

    A knot sits at its block's mean logit with the logit of the block's click rate (kept
    within ``[1 / (2n), 1 - 1 / (2n)]`` of ``n`` rows, so an all-0 or all-1 block stays finite).
    Block rates strictly increase, so the interpolated map is strictly increasing between the
    outermost knots.
    """
    x = logits.double().reshape(-1).numpy()
    y = labels.double().reshape(-1).numpy()
    order = np.argsort(x, kind="stable")
    sums: list[list[float]] = []  # per block: [label sum, logit sum, rows]
    for xi, yi in zip(x[order], y[order], strict=True):
        sums.append([yi, xi, 1.0])
        while len(sums) > 1 and sums[-2][0] * sums[-1][2] >= sums[-1][0] * sums[-2][2]:
            last = sums.pop()
            sums[-1] = [a + b for a, b in zip(sums[-1], last, strict=True)]
    blocks = np.asarray(sums)
    eps = 1.0 / (2 * max(len(x), 1))
    rate = np.clip(blocks[:, 0] / blocks[:, 2], eps, 1 - eps)
    return FittedCalibration("isotonic", knots_x=tuple(blocks[:, 1] / blocks[:, 2]),
                             knots_y=tuple(np.log(rate / (1 - rate))))


def expected_calibration_error(labels: Any, probs: Any, bins: int = ECE_BINS) -> float:
    """ECE: the row-weighted mean of ``|mean label - mean probability|`` over equal-width bins."""
    y = np.asarray(labels, dtype=np.float64).reshape(-1)
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    count = np.bincount(which, minlength=bins)
    gap = np.abs(np.bincount(which, y, bins) - np.bincount(which, p, bins))
    return float(gap.sum() / max(len(p), 1)) if count.any() else 0.0


def calibration_of(model: nn.Module) -> Calibration:
    """The :class:`Calibration` the model's ``predict`` applies (the first one in the model)."""
    for module in model.modules():
        if isinstance(module, Calibration):
            return module
    raise ConfigError(f"train.calibrate needs a click-probability model; '{type(model).__name__}' has no calibration",
                      fix="use a ctr head (ranker: ctr), or remove train.calibrate")


def raw_logits(model: nn.Module, predict: Callable[[], Tensor]) -> Tensor:
    """The logits entering the model's calibration while ``predict()`` runs (exact, not sigmoid-inverted)."""
    calibration = calibration_of(model)
    seen: list[Tensor] = []
    handle = calibration.register_forward_hook(lambda _m, args, _out: seen.append(args[0].detach().float().cpu()))
    try:
        predict()
    finally:
        handle.remove()
    return torch.cat([s.reshape(-1) for s in seen]) if seen else torch.zeros(0)


def scores(labels: Tensor, logits: Tensor, fitted: FittedCalibration) -> dict[str, float]:
    """ECE and log loss of the calibrated probabilities of ``logits``."""
    from recforge.core.metrics import logloss_score

    probs = fitted.probs(logits.double().numpy())
    y = labels.double().numpy()
    return {"ece": expected_calibration_error(y, probs), "logloss": logloss_score(y, probs)}


def calibrate(model: nn.Module, method: str, splits: dict[str, tuple[Callable[[], Tensor], Tensor]]) -> dict[str, float]:
    """Fit ``method`` on ``splits["valid"]``, install it in the model, report before / after.

    Args:
        model: a trained model with a :class:`Calibration`.
        method: ``temperature``, ``platt`` or ``isotonic``.
        splits: split name -> ``(predict over the split, its labels)``; ``valid`` is required
            (the fit), others (``test``) are only measured.

    Returns:
        ``<split>.ece_before``, ``<split>.logloss_before``, ``<split>.ece_after``,
        ``<split>.logloss_after`` per split, plus ``calibration.scale`` / ``calibration.bias`` /
        ``calibration.knots`` (the isotonic knot count; 0 for scaling).
    """
    calibration = calibration_of(model)
    calibration.set(1.0, 0.0)
    with torch.no_grad():
        logits = {name: raw_logits(model, predict) for name, (predict, _) in splits.items()}
    fitted = fit_calibrator(logits["valid"], splits["valid"][1], method)
    calibration.install(fitted)
    out = {f"calibration.{k}": v for k, v in fitted.describe().items()}
    for name, (_, labels) in splits.items():
        before, after = scores(labels, logits[name], FittedCalibration("none")), scores(labels, logits[name], fitted)
        out.update({f"{name}.{k}_before": v for k, v in before.items()})
        out.update({f"{name}.{k}_after": v for k, v in after.items()})
    log.info("calibration (%s): scale %.4f bias %.4f knots %d; valid ECE %.4f -> %.4f, logloss %.4f -> %.4f", method,
             fitted.scale, fitted.bias, len(fitted.knots_x), out["valid.ece_before"], out["valid.ece_after"], out["valid.logloss_before"],
             out["valid.logloss_after"])
    return out


class LoglossDrift:
    """Warns when the monitored metric improves while valid log loss has drifted up.

    Each epoch with a new best monitored value is compared with the lowest valid log loss
    seen so far; a rise above ``margin`` means the kept epoch's probabilities are worse than an
    earlier epoch's (over-confident logits), which ``train.calibrate`` repairs.
    """

    def __init__(self, margin: float = LOGLOSS_WARN_MARGIN, monitor: str = "") -> None:
        self.margin, self.monitor = margin, monitor
        self.best_logloss: float | None = None
        self.best_epoch = 0

    def update(self, epoch: int, metrics: dict[str, float], improved: bool) -> str | None:
        """The warning text for this epoch, or None."""
        value = metrics.get("valid.logloss")
        if value is None or self.monitor == "valid.logloss":
            return None
        message = None
        if improved and self.best_logloss is not None and value > self.best_logloss + self.margin:
            message = (f"epoch {epoch}: {self.monitor} improved but valid logloss rose to {value:.4f} "
                       f"(best {self.best_logloss:.4f} at epoch {self.best_epoch}); the kept model's "
                       "probabilities are over-confident: set train.calibrate: temperature")
        if self.best_logloss is None or value < self.best_logloss:
            self.best_logloss, self.best_epoch = value, epoch
        return message
