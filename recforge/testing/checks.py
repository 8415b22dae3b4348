"""The conformance properties, one function each; a failure names the broken property.

Every check takes a :class:`~recforge.testing.probes.Subject` and raises
:class:`ConformanceFailure` (an ``AssertionError``, so pytest shows it as a plain failure)
whose first words are the property, e.g. ``[gradients reach every parameter] no gradient
reaches 'proj.weight'``. The experiment-level checks (saved-model round trip, training in a
tiny experiment) live in :mod:`recforge.testing.experiment`.
"""

from __future__ import annotations

import dataclasses
import sys
import typing
from collections.abc import Callable
from typing import Any, Literal, get_args, get_origin

import torch
from torch import Tensor, nn

from recforge.core.components import param_specs
from recforge.core.errors import RecforgeError
from recforge.testing.failure import ConformanceFailure
from recforge.testing.probes import Probe, Subject, probe_for


def _probe(subject: Subject) -> Probe:
    probe = probe_for(subject)
    if probe is None:
        raise ConformanceFailure("applicable", f"{subject.label} has no tensors to probe")
    return probe


def _build(probe: Probe, size: dict[str, int], prop: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    try:
        return probe.make(size)
    except RecforgeError as err:
        raise ConformanceFailure(prop, f"{probe.subject.label} refused to build at {size}: {err}") from None


# --------------------------------------------------------------------------- documentation
def check_documented(subject: Subject) -> None:
    """A summary line, ``Args:`` and ``Example:`` sections, help text on every param."""
    prop = "documentation present"
    doc = (subject.cls.__doc__ or "").strip()
    if not doc:
        raise ConformanceFailure(prop, f"{subject.label} has no docstring")
    for section in ("Args:", "Example:"):
        if section not in doc:
            raise ConformanceFailure(prop, f"{subject.label}'s docstring has no '{section}' section")
    for spec in param_specs(subject.cls.Params):
        if not spec.help:
            raise ConformanceFailure(prop, f"param '{spec.name}' of {subject.label} has no help text; "
                                           "declare it with recforge.core.components.param(default, help)")
        if spec.name not in doc:
            raise ConformanceFailure(prop, f"param '{spec.name}' of {subject.label} is not described under Args:")


# --------------------------------------------------------------------------- params
def _wrong_value(tp: Any) -> Any:
    """A value no field of type ``tp`` may accept, or ``None`` when every value is valid."""
    origin = get_origin(tp)
    if origin is Literal:
        return "__not_a_choice__"
    if tp in (int, float) or origin in (list, tuple):
        return "__not_a_number__" if tp in (int, float) else {"not": "a list"}
    if tp is bool:
        return "__not_a_bool__"
    args = [a for a in get_args(tp) if a is not type(None)]
    if args and all(a in (int, float) for a in args):
        return "__not_a_number__"
    return None


def _expect_rejected(subject: Subject, raw: dict[str, Any], prop: str, use: bool) -> None:
    """``raw`` must fail as params, or when the component is built (or a recipe loads) with them."""
    try:
        params = subject.build_params(raw)
        probe = probe_for(subject) if use else None
        if probe is not None:
            torch.manual_seed(0)
            probe.make(probe.probe_size, params)
        elif use:  # a dataset recipe validates when it loads
            subject.cls().load(params)  # type: ignore[attr-defined]
    except RecforgeError as err:
        text = str(err)
        if "\n" in text or not text.strip():
            raise ConformanceFailure(prop, f"{raw} was rejected with a multi-line or empty message: {text!r}") from None
        return
    except Exception as err:  # noqa: BLE001 - anything but a RecforgeError is the failure
        raise ConformanceFailure(
            prop, f"{raw} raised {type(err).__name__}: {err}; raise a RecforgeError (e.g. ConfigError) "
                  "with a fix= instead") from None
    raise ConformanceFailure(prop, f"{subject.label} accepted the bad params {raw}")


def check_params_reject_bad_values(subject: Subject) -> None:
    """Unknown names, wrongly typed values and the author's bad examples fail in one line."""
    prop = "params reject bad values"
    _expect_rejected(subject, {**subject.params, "no_such_param__": 1}, prop, False)
    if dataclasses.is_dataclass(subject.cls.Params):
        module = sys.modules.get(subject.cls.Params.__module__)
        types = typing.get_type_hints(subject.cls.Params, vars(module) if module else None)
        for spec in param_specs(subject.cls.Params):
            wrong = _wrong_value(types.get(spec.name, Any))
            if wrong is not None:
                _expect_rejected(subject, {**subject.params, spec.name: wrong}, prop, False)
    for raw in subject.bad_params:
        _expect_rejected(subject, {**subject.params, **raw}, prop, True)


# --------------------------------------------------------------------------- tensors
def check_output_shape(subject: Subject) -> None:
    """The declared output shape over several field counts, dims and batch sizes (1 included)."""
    prop = "declared output shape"
    probe = _probe(subject)
    for size in probe.sizes:
        module = _build(probe, size, prop)
        for mode in ("train", "eval"):
            module.train(mode == "train")
            out = probe.run(module, probe.inputs(module, size))
            want = probe.expected_shape(module, size)
            if tuple(out.shape) != want:
                raise ConformanceFailure(prop, f"at {size} ({mode} mode) the output is {tuple(out.shape)}, "
                                               f"the declared shape is {want}")


def check_gradients(subject: Subject) -> None:
    """Gradients reach every trainable parameter and every float input."""
    probe = _probe(subject)
    size = probe.probe_size
    module = _build(probe, size, "gradients reach every parameter")
    module.train()
    inputs = probe.inputs(module, size)
    out = probe.run(module, inputs)
    probe.objective(module, inputs, out).backward()
    for name, p in module.named_parameters():
        if p.requires_grad and (p.grad is None or not bool(p.grad.abs().sum() > 0)):
            raise ConformanceFailure("gradients reach every parameter", f"no gradient reaches '{name}' "
                                     f"(is it used in forward, and not detached?)")
    for name, value in _float_leaves(inputs):
        if value.grad is None or not bool(value.grad.abs().sum() > 0):
            raise ConformanceFailure("gradients reach every input", f"no gradient reaches the input '{name}'")


def _float_leaves(inputs: dict[str, Any], prefix: str = "") -> list[tuple[str, Tensor]]:
    out = []
    for key, value in inputs.items():
        if isinstance(value, dict):
            out += _float_leaves(value, f"{prefix}{key}.")
        elif isinstance(value, Tensor) and value.requires_grad and value.is_leaf:
            out.append((f"{prefix}{key}", value))
    return out


def check_finite_on_extreme_inputs(subject: Subject) -> None:
    """No NaN or inf in the output or the gradients on huge, tiny and zero inputs."""
    prop = "finite on extreme inputs"
    probe = _probe(subject)
    size = probe.probe_size
    module = _build(probe, size, prop)
    for what, inputs in probe.extreme_inputs(module, size):
        for mode in ("train", "eval"):
            module.train(mode == "train")
            module.zero_grad()
            out = probe.run(module, inputs)
            if not bool(torch.isfinite(out).all()):
                raise ConformanceFailure(prop, f"the output holds NaN or inf on {what} ({mode} mode)")
            if mode == "train":
                probe.objective(module, inputs, out).backward()
                for name, p in module.named_parameters():
                    if p.grad is not None and not bool(torch.isfinite(p.grad).all()):
                        raise ConformanceFailure(prop, f"the gradient of '{name}' holds NaN or inf on {what}")


def check_deterministic(subject: Subject) -> None:
    """Same seed, same weights, same outputs (train mode, dropout included)."""
    prop = "deterministic under a seed"
    probe = _probe(subject)
    size = probe.probe_size
    outs = []
    for _ in range(2):
        module = _build(probe, size, prop, seed=123)
        torch.manual_seed(5)
        inputs = probe.inputs(module, size)
        module.train()
        torch.manual_seed(9)
        outs.append(probe.run(module, inputs).detach())
    if not torch.equal(outs[0], outs[1]):
        diff = (outs[0] - outs[1]).abs().max().item()
        raise ConformanceFailure(prop, f"two builds and runs under seed 123 differ (max |diff| {diff:.3g}); "
                                       "draw randomness from torch's global generator only")


def check_rows_independent(subject: Subject) -> None:
    """In eval mode row i of the output depends on row i of the input only."""
    prop = "rows independent in eval mode"
    probe = _probe(subject)
    size = dict(probe.probe_size, batch=5)
    module = _build(probe, size, prop).eval()
    torch.manual_seed(3)
    inputs = probe.inputs(module, size)
    with torch.no_grad():
        full = probe.run(module, inputs)
        alone = torch.cat([probe.run(module, _row(inputs, i)) for i in range(size["batch"])])
    if not torch.allclose(full, alone, rtol=1e-4, atol=1e-5):
        raise ConformanceFailure(prop, "scoring rows one at a time differs from scoring the batch "
                                       "(batch statistics or cross-row mixing in eval mode)")


def _row(inputs: dict[str, Any], i: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in inputs.items():
        if isinstance(value, dict):
            out[key] = _row(value, i)
        else:
            out[key] = value[i : i + 1]
    return out


def check_dtypes(subject: Subject) -> None:
    """float32 in, float32 out; under bf16 autocast: finite, close to float32, and trainable."""
    prop = "float32 and bf16 autocast"
    probe = _probe(subject)
    size = probe.probe_size
    module = _build(probe, size, prop).eval()
    inputs = probe.inputs(module, size)
    ref = probe.run(module, inputs)
    if ref.dtype != torch.float32:
        raise ConformanceFailure(prop, f"float32 inputs gave a {ref.dtype} output")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = probe.run(module, inputs)
    if tuple(low.shape) != tuple(ref.shape) or not bool(torch.isfinite(low).all()):
        raise ConformanceFailure(prop, "under bf16 autocast the output changes shape or holds NaN/inf")
    err = (low.float() - ref).norm() / (ref.norm() + 1e-6)
    if err > 0.1:
        raise ConformanceFailure(prop, f"under bf16 autocast the output is {float(err):.0%} away from float32")
    module.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = probe.run(module, inputs)
        loss = probe.objective(module, inputs, out)
    loss.float().backward()
    bad = [n for n, p in module.named_parameters() if p.grad is not None and not bool(torch.isfinite(p.grad).all())]
    if bad:
        raise ConformanceFailure(prop, f"under bf16 autocast the gradient of '{bad[0]}' holds NaN or inf")


#: property name -> check, in the order they run (cheap ones first)
UNIT_CHECKS: dict[str, Callable[[Subject], None]] = {
    "documented": check_documented,
    "params_reject_bad_values": check_params_reject_bad_values,
    "output_shape": check_output_shape,
    "gradients": check_gradients,
    "finite_on_extreme_inputs": check_finite_on_extreme_inputs,
    "deterministic": check_deterministic,
    "rows_independent": check_rows_independent,
    "dtypes": check_dtypes,
}
TENSOR_CHECKS = ("output_shape", "gradients", "finite_on_extreme_inputs", "deterministic",
                 "rows_independent", "dtypes")
