"""How the conformance suite builds, feeds and runs one component of each kind.

A :class:`Probe` hides what differs between kinds (an interaction takes ``[B, F, D]``, an
encoder takes a batch of indexed fields, a head ranker takes ``[B, H]``, a standalone model
takes a batch of ids) so that every property in :mod:`recforge.testing.checks` is written once.
Encoders and standalone models are built over the real fitted fields of the tiny MovieLens
experiment (:mod:`recforge.testing.tiny_data`), never over hand-made stand-ins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from recforge.core.components import (
    Component,
    DatasetRecipe,
    Encoder,
    Interaction,
    PrepareContext,
    Ranker,
    SharedTables,
    WholeModel,
    build_params,
)
from recforge.testing.failure import ConformanceFailure

#: the shapes every probe is checked over: several field counts, dims and batch sizes (1 too)
Size = dict[str, int]


@dataclass
class Subject:
    """The component under test and how to configure it.

    Args:
        cls: the component class (as registered).
        params: the params every check builds it with (a plain dict, as in a config).
        bad_params: param dicts the component must reject with a one-line error (beyond the
            wrongly typed values the suite tries on its own).
        experiment: overrides merged into the tiny experiment's config sections, e.g.
            ``{"train": {"lr": 3e-3}}`` or ``{"model": {"embedding_dim": 16}}``.
        min_auc: the valid AUC the tiny experiment must beat (chance is 0.5).
    """

    cls: type[Component]
    params: dict[str, Any] = field(default_factory=dict)
    bad_params: list[dict[str, Any]] = field(default_factory=list)
    experiment: dict[str, dict[str, Any]] = field(default_factory=dict)
    min_auc: float = 0.58

    @property
    def kind(self) -> str:
        if issubclass(self.cls, Ranker) and self.cls.standalone:  # an older plugin's whole model
            return "model"
        return self.cls.kind

    @property
    def label(self) -> str:
        return f"{self.kind} '{self.cls.name}'"

    def build_params(self, raw: dict[str, Any] | None = None) -> Any:
        return build_params(self.cls, self.params if raw is None else raw)


class Probe:
    """Builds the component at a size, makes inputs and runs it; one subclass per kind."""

    #: the sizes of the shape check
    sizes: tuple[Size, ...] = ()
    #: the size of the gradient, finiteness, determinism and dtype checks
    probe_size: Size = {}

    def __init__(self, subject: Subject) -> None:
        self.subject = subject

    def make(self, size: Size, params: Any = None) -> nn.Module:
        """The component at ``size``, built with ``params`` (default: the subject's)."""
        raise NotImplementedError

    def params(self, params: Any) -> Any:
        return self.subject.build_params() if params is None else params

    def inputs(self, module: nn.Module, size: Size, scale: float = 1.0) -> dict[str, Any]:
        """Keyword inputs of :meth:`run`; float tensors require grad (the gradient check)."""
        raise NotImplementedError

    def run(self, module: nn.Module, inputs: dict[str, Any]) -> Tensor:
        raise NotImplementedError

    def expected_shape(self, module: nn.Module, size: Size) -> tuple[int, ...]:
        raise NotImplementedError

    def objective(self, module: nn.Module, inputs: dict[str, Any], out: Tensor) -> Tensor:
        """A scalar whose gradient must reach every parameter and every float input."""
        weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(7)).to(out.dtype)
        return (out * weights).sum()

    def extreme_inputs(self, module: nn.Module, size: Size) -> list[tuple[str, dict[str, Any]]]:
        """Named inputs at the edges of the valid range (huge, tiny, zero)."""
        return [(f"values x{scale:g}", self.inputs(module, size, scale)) for scale in (1e3, 1e-6, 0.0)]

    def model_section(self) -> dict[str, Any]:
        """The ``model`` section of the tiny experiment with this component in it."""
        raise NotImplementedError


def _randn(*shape: int, scale: float) -> Tensor:
    return (torch.randn(*shape) * scale).requires_grad_(True)


class InteractionProbe(Probe):
    """``Interaction(num_fields, dim, params)``: ``[B, F, D] -> [B, output_dim]``."""

    sizes = tuple(
        {"num_fields": f, "dim": d, "batch": b} for f in (2, 5, 9) for d in (4, 8) for b in (1, 7)
    )
    probe_size = {"num_fields": 4, "dim": 6, "batch": 16}

    def make(self, size: Size, params: Any = None) -> nn.Module:
        cls = self.subject.cls
        return cls(size["num_fields"], size["dim"], self.params(params))  # type: ignore[call-arg]

    def inputs(self, module: nn.Module, size: Size, scale: float = 1.0) -> dict[str, Any]:
        return {"x": _randn(size["batch"], size["num_fields"], size["dim"], scale=scale)}

    def run(self, module: nn.Module, inputs: dict[str, Any]) -> Tensor:
        return module(inputs["x"])

    def expected_shape(self, module: nn.Module, size: Size) -> tuple[int, ...]:
        return (size["batch"], int(module.output_dim))  # type: ignore[arg-type]

    def model_section(self) -> dict[str, Any]:
        return {"interaction": {"name": self.subject.cls.name, "params": dict(self.subject.params)}}


class HeadRankerProbe(Probe):
    """``Ranker(input_dim, params)``: ``[B, H] -> [B]`` raw scores, with a loss."""

    sizes = tuple({"input_dim": h, "batch": b} for h in (1, 8, 33) for b in (1, 7))
    probe_size = {"input_dim": 12, "batch": 16}

    def make(self, size: Size, params: Any = None) -> nn.Module:
        return self.subject.cls(size["input_dim"], self.params(params))  # type: ignore[call-arg]

    def inputs(self, module: nn.Module, size: Size, scale: float = 1.0) -> dict[str, Any]:
        labels = (torch.arange(size["batch"]) % 2).float()
        return {"rep": _randn(size["batch"], size["input_dim"], scale=scale), "batch": {"label": labels}}

    def run(self, module: nn.Module, inputs: dict[str, Any]) -> Tensor:
        return module(inputs["rep"])

    def expected_shape(self, module: nn.Module, size: Size) -> tuple[int, ...]:
        return (size["batch"],)

    def objective(self, module: nn.Module, inputs: dict[str, Any], out: Tensor) -> Tensor:
        return module.loss(out, inputs["batch"])  # type: ignore[operator]

    def model_section(self) -> dict[str, Any]:
        return {
            "interaction": {"name": "mlp", "params": {"hidden_units": [16]}},
            "ranker": {"name": self.subject.cls.name, "params": dict(self.subject.params)},
        }


def _rows(table: Any, batch: int) -> dict[str, Tensor]:
    return table.batch(torch.arange(batch) % table.num_rows)


def _extreme_batch(batch: dict[str, Tensor], fields: dict[str, Any], mode: str) -> dict[str, Tensor]:
    """Indices at the vocabulary's edges (padding, unknown, last) or float columns x1e3."""
    out = {}
    for name, value in batch.items():
        info = fields.get(name)
        if info is not None and info.kind == "label":
            out[name] = value
        elif value.is_floating_point():
            out[name] = value.detach() * (1e3 if mode == "last" else 0.0)
        elif info is not None and info.vocab_size > 0:
            edge = {"padding": 0, "unknown": 1, "last": info.vocab_size - 1}[mode]
            out[name] = torch.where(value > 0, torch.full_like(value, edge), value) if mode != "padding" \
                else torch.zeros_like(value)
        else:
            out[name] = value
    return out


class EncoderProbe(Probe):
    """``Encoder([field], dim, params, tables)``: a batch of the tiny data -> ``[B, slots, D]``."""

    sizes = tuple({"dim": d, "batch": b} for d in (4, 8, 16) for b in (1, 7))
    probe_size = {"dim": 6, "batch": 16}

    def field(self) -> Any:
        from recforge.testing.tiny_data import tiny_prepared

        prepared = tiny_prepared()
        accepted = tuple(getattr(self.subject.cls, "field_kinds", ()) or ())
        for info in prepared.fields.values():
            if info.kind in accepted:
                return info
        raise ConformanceFailure(
            "applicable", f"the tiny experiment has no field of kind {', '.join(accepted) or '?'} for "
            f"{self.subject.label} (it has {sorted({f.kind for f in prepared.fields.values()})}); "
            "skip the tensor and experiment properties with a reason")

    def make(self, size: Size, params: Any = None) -> nn.Module:
        cls = self.subject.cls
        return cls([self.field()], size["dim"], self.params(params), SharedTables(0.05))  # type: ignore[call-arg]

    def inputs(self, module: nn.Module, size: Size, scale: float = 1.0) -> dict[str, Any]:
        from recforge.testing.tiny_data import tiny_prepared

        batch = _rows(tiny_prepared().splits["train"], size["batch"])
        mine = self.field().name  # only the encoded field's floats are inputs of the encoder
        batch = {k: (v.float() * scale).requires_grad_(True) if k == mine and v.is_floating_point() else v
                 for k, v in batch.items()}
        return {"batch": batch}

    def extreme_inputs(self, module: nn.Module, size: Size) -> list[tuple[str, dict[str, Any]]]:
        from recforge.testing.tiny_data import tiny_prepared

        fields = tiny_prepared().fields
        base = self.inputs(module, size)["batch"]
        return [(f"{mode} indices", {"batch": _extreme_batch(base, fields, mode)})
                for mode in ("padding", "unknown", "last")]

    def run(self, module: nn.Module, inputs: dict[str, Any]) -> Tensor:
        return module(inputs["batch"], {})

    def expected_shape(self, module: nn.Module, size: Size) -> tuple[int, ...]:
        return (size["batch"], int(getattr(module, "n_slots", 1)), size["dim"])

    def model_section(self) -> dict[str, Any]:
        from recforge.testing.tiny_data import MODEL_FIELDS

        name = self.field().name
        fields = list(MODEL_FIELDS) if name in MODEL_FIELDS else [*MODEL_FIELDS, name]
        return {
            "fields": fields,
            "interaction": {"parallel": ["lr", "fm"], "combine": "sum"},
            "encoders": {name: {"name": self.subject.cls.name, "params": dict(self.subject.params)}},
        }


class ModelProbe(Probe):
    """A standalone ranker (a whole model, ``from_prepared``): a batch of ids -> ``[B]`` scores."""

    sizes = tuple({"dim": d, "batch": b} for d in (4, 16) for b in (1, 7))
    probe_size = {"dim": 8, "batch": 16}

    def make(self, size: Size, params: Any = None) -> nn.Module:
        from recforge.testing.tiny_data import tiny_prepared

        from recforge.testing.tiny_data import MODEL_FIELDS

        model = self.subject.cls.from_prepared(  # type: ignore[attr-defined]
            tiny_prepared(), {"embedding_dim": size["dim"], "fields": list(MODEL_FIELDS)}, self.params(params)
        )
        model.prepare(PrepareContext())
        return model

    def inputs(self, module: nn.Module, size: Size, scale: float = 1.0) -> dict[str, Any]:
        from recforge.testing.tiny_data import tiny_prepared

        return {"batch": _rows(tiny_prepared().splits["train"], size["batch"])}

    def extreme_inputs(self, module: nn.Module, size: Size) -> list[tuple[str, dict[str, Any]]]:
        from recforge.testing.tiny_data import tiny_prepared

        fields = tiny_prepared().fields
        base = self.inputs(module, size)["batch"]
        return [(f"{mode} ids", {"batch": _extreme_batch(base, fields, mode)}) for mode in ("unknown", "last")]

    def run(self, module: nn.Module, inputs: dict[str, Any]) -> Tensor:
        return module.predict(inputs["batch"])  # type: ignore[operator]

    def expected_shape(self, module: nn.Module, size: Size) -> tuple[int, ...]:
        return (size["batch"],)

    def objective(self, module: nn.Module, inputs: dict[str, Any], out: Tensor) -> Tensor:
        return module.training_loss(inputs["batch"])  # type: ignore[operator]

    def model_section(self) -> dict[str, Any]:
        return {"embedding_dim": 16, "ranker": {"name": self.subject.cls.name, "params": dict(self.subject.params)}}


def probe_for(subject: Subject) -> Probe | None:
    """The probe of the subject's kind; ``None`` for dataset recipes (nothing to run)."""
    cls = subject.cls
    if issubclass(cls, DatasetRecipe):
        return None
    if issubclass(cls, Interaction):
        return InteractionProbe(subject)
    if issubclass(cls, Encoder):
        return EncoderProbe(subject)
    if issubclass(cls, WholeModel):
        return ModelProbe(subject)
    if issubclass(cls, Ranker):  # an older plugin's standalone ranker is a whole model too
        return ModelProbe(subject) if cls.standalone else HeadRankerProbe(subject)
    raise TypeError(f"{cls!r} is not a recforge component "
                    "(subclass Interaction, Encoder, Ranker, WholeModel or DatasetRecipe)")

