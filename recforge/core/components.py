"""Base classes and the parameter schema shared by every component kind.

A component is a class with a unique ``name``, a ``kind`` (encoder, interaction, ranker,
dataset) and a nested dataclass ``Params`` whose fields are its typed, documented parameters::

    class FM(Interaction):
        '''Factorization machine second-order term.

        Args:
            reduce_sum: sum over the embedding dimension (H = 1) instead of keeping it (H = D).

        Example:
            interaction: {name: fm}
        '''
        name = "fm"

        @dataclass
        class Params:
            reduce_sum: bool = param(True, "sum over the embedding dimension")

        def __init__(self, num_fields: int, dim: int, params: "FM.Params") -> None: ...

Params are validated from plain dicts (YAML or ``--set``) by :func:`build_params`, which
rejects unknown names with a did-you-mean suggestion and coerces types.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args, get_origin

import torch
from torch import Tensor, nn

from recforge.core.catalogue import KINDS, ParamSpec  # noqa: F401 - torch-free; re-exported here
from recforge.core.errors import ConfigError


def param(default: Any, help: str, **extra: Any) -> Any:
    """Declare a component parameter: a dataclass field carrying its help text.

    Mutable defaults (lists, dicts) are copied per instance.
    """
    metadata = {"help": help, **extra}
    if isinstance(default, (list, dict, set)):
        value = default
        return dataclasses.field(default_factory=lambda: type(value)(value), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclass
class NoParams:
    """Params of a component that takes none."""


class Component:
    """Mixin carried by every component class: its catalogue identity."""

    name: ClassVar[str] = ""
    kind: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    Params: ClassVar[type] = NoParams

    def prepare(self, context: Any) -> None:  # noqa: B027 - optional hook with a default
        """Precompute state before training or inference (e.g. cache text vectors). Default: none."""

    def param_groups(self) -> list[dict[str, Any]]:
        """Optimiser groups this component wants for some of its parameters, e.g.
        ``[{"params": [...], "lr": 3e-5}]`` (keys absent take the trainer's values).

        The optimiser (:func:`recforge.core.optim.param_groups`) asks every component of a
        model; ``train.lr_groups`` prefixes in the config still win. Default: none.
        """
        return []


@dataclass
class PrepareContext:
    """What :meth:`Encoder.prepare` gets: run before training and after loading a saved model.

    Args:
        store: the run store (``recforge.core.store.Store``) or None; text encoders record
            their cached vector shards in it.
        device: where the model runs (``"cpu"``, ``"cuda"``, ...); precomputation runs there.
        show_progress: show a progress bar for long precomputation (text encoding).
    """

    store: Any = None
    device: Any = "cpu"
    show_progress: bool = False


class Encoder(nn.Module, Component):
    """Maps raw (already indexed) fields of a batch to field vectors ``[B, slots, D]``.

    Built as ``EncoderCls(fields, dim, params, tables)``:
      * ``fields``: the fitted :class:`recforge.core.data.schema.FieldInfo` of each field it
        encodes (usually one; text templates or shared tables may take several),
      * ``dim``: the embedding dimension ``D``,
      * ``params``: an instance of ``Params``,
      * ``tables``: a :class:`SharedTables` to get embedding tables shared between fields.

    ``forward(batch, encoded)`` gets the batch (a dict of tensors keyed by field name) and the
    field vectors already computed by other encoders (keyed by field name, each ``[B, s, D]``;
    used e.g. by target attention over a history), and returns ``[B, n_slots, D]``.
    """

    kind = "encoder"
    #: field kinds this encoder accepts (see ``recforge.core.data.schema.FIELD_KINDS``)
    field_kinds: ClassVar[tuple[str, ...]] = ()
    #: names of other fields whose vectors must be encoded before this one (e.g. target item)
    depends_on: tuple[str, ...] = ()
    n_slots: int = 1
    #: True when all the encoder does is look its field up in ``self.table`` (an nn.Embedding):
    #: model assembly may then fuse it with other such fields into one lookup per step
    fusable: bool = False



class Explainable:
    """Mixin of layers that offer analysis views (:mod:`recforge.core.analysis.model_views`).

    ``explains`` declares which ones the layer offers, so analysis asks only those layers:

    * ``pair_weights``: a method, ``() -> [F, F]`` (or its upper triangle) of learned pair
      weights, or ``(x [B, F, D]) -> ...`` when they depend on the field vectors;
    * ``last_attention``: an attribute set on each forward, ``[B, heads, F, F]`` or ``[B, F, F]``;
    * ``last_weights``: an attribute set on each forward, ``[B, F]`` (field gates).
    """

    #: every analysis view a layer can declare
    VIEWS: ClassVar[tuple[str, ...]] = ("pair_weights", "last_attention", "last_weights")
    explains: ClassVar[tuple[str, ...]] = ()


class Interaction(nn.Module, Component, Explainable):
    """Maps field vectors ``[B, F, D]`` to a representation ``[B, H]``; declares ``output_dim``.

    Built as ``InteractionCls(num_fields, dim, params)``. ``output_dim`` is ``H``.
    Interactions that produce a logit-like scalar have ``output_dim == 1``.
    """

    kind = "interaction"
    output_dim: int = 0
    #: True when the layer is meaningful on one flat field ``[B, 1, H]``, so composition may put
    #: it after another layer in a ``stack`` (mlp, lr, crossnet, ...); field-pair layers are not
    accepts_flat: bool = False


class Ranker(nn.Module, Component):
    """Owns the head, the loss and the scoring semantics.

    Built as ``RankerCls(input_dim, params)``. ``task`` is one of ``pointwise``, ``rating``,
    ``pairwise``, ``listwise``, ``retrieval``.
    """

    kind = "ranker"
    task: ClassVar[str] = "pointwise"
    #: only read on standalone rankers (whole models): False for fit-only ones (``fit(prepared)``)
    trainable: ClassVar[bool] = True
    #: a ranker that is a whole model building itself with ``from_prepared`` (the older form
    #: of :class:`WholeModel`, still accepted from plugins) rather than a head
    standalone: ClassVar[bool] = False
    #: whole models (``standalone = True``) build themselves and read only these ``model``
    #: keys besides ``ranker``; setting any other model key is an error, not a silent no-op.
    #: None (undeclared, e.g. an older plugin): every key is passed on unchecked
    model_keys: ClassVar[frozenset[str] | None] = None

    #: the batch key of the target; model assembly sets it to the data's label field
    label_field: str = "label"

    def loss(self, scores: Tensor, batch: dict[str, Tensor]) -> Tensor:
        """Training loss for the head's scores on a batch."""
        raise NotImplementedError

    def output(self, raw: Tensor) -> Tensor:
        """Predictions from raw scores (e.g. a sigmoid for click probabilities). Default: as is."""
        return raw

    def check_labels(self, labels: Tensor, where: str) -> None:  # noqa: B027 - optional hook
        """Reject labels this head cannot learn from, before any run is recorded. Default: any."""


class WholeModel(nn.Module, Component):
    """A whole model (BPR, LightGCN, two-tower, ...): built from prepared data by itself
    instead of being a head over encoders and an interaction, registered with
    ``register_models`` and named in a config like a ranker (``model.ranker: bpr``).

    Implements :class:`recforge.core.model_api.RecommenderModel` directly. Built as
    ``ModelCls.from_prepared(prepared, model_section, params)`` where ``model_section`` is the
    validated ``model`` section as a mapping (every key, defaults filled in).
    """

    kind = "model"
    task: ClassVar[str] = "pairwise"
    trainable: ClassVar[bool] = True
    #: always True: the model assembly builds it with ``from_prepared``
    standalone: ClassVar[bool] = True
    #: the ``model`` keys besides ``ranker`` this model reads; any other set key is an error
    #: (None: undeclared, every key passed on unchecked)
    model_keys: ClassVar[frozenset[str] | None] = None

    @classmethod
    def from_prepared(cls, prepared: Any, model_cfg: dict[str, Any], params: Any) -> WholeModel:
        """Build the model over prepared (or a saved model's restored) data."""
        raise NotImplementedError


class DatasetRecipe(Component):
    """Knows where a dataset's raw files are and how to read them into frames plus a schema."""

    kind = "dataset"

    def raw_files(self, params: Any) -> list[Path] | None:
        """The raw files ``load`` will read, hashed into the prepared-data cache key.

        ``None`` (the default) means the recipe cannot name them cheaply: its prepared data
        gets no fingerprint and is never cached. Override to make preparation cacheable.
        """
        return None


class SharedTables:
    """Embedding tables keyed by vocabulary, so fields that share a vocabulary share weights.

    Args:
        init_std: standard deviation of the tables' normal initialisation. The default 1e-4
            (FuxiCTR's) starts every pairwise product near zero, which is stable but makes
            factorisation models spend dozens of epochs growing their vectors at a small
            learning rate; ~1e-2 (close to RecBole's Xavier init) converges in a few.
    """

    #: FuxiCTR's embedding initialisation (normal, std 1e-4)
    DEFAULT_INIT_STD = 1e-4

    def __init__(self, init_std: float = DEFAULT_INIT_STD) -> None:
        self.tables = nn.ModuleDict()
        self.init_std = init_std

    def get(self, key: str, num_embeddings: int, dim: int, padding_idx: int | None = 0) -> nn.Embedding:
        """Return the table for ``key``, creating it on first use."""
        safe = key.replace(".", "_")
        if safe not in self.tables:
            table = nn.Embedding(num_embeddings, dim, padding_idx=padding_idx)
            nn.init.normal_(table.weight, std=self.init_std)
            if padding_idx is not None:
                with torch.no_grad():
                    table.weight[padding_idx].zero_()
            self.tables[safe] = table
        table = self.tables[safe]
        if table.num_embeddings != num_embeddings or table.embedding_dim != dim:
            raise ConfigError(
                f"fields sharing the table '{key}' disagree on its size "
                f"({table.num_embeddings}x{table.embedding_dim} vs {num_embeddings}x{dim})",
                fix="give the sharing fields the same vocabulary and embedding dim",
            )
        return table


# --------------------------------------------------------------------------- param schema


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "choice"
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        inner = " | ".join(_type_name(a) for a in args)
        return f"{inner} | None" if len(args) < len(get_args(tp)) else inner
    if origin in (list, tuple):
        args = get_args(tp)
        return f"list[{_type_name(args[0])}]" if args else "list"
    if origin is dict:
        return "dict"
    return getattr(tp, "__name__", str(tp))


def _resolved_hints(params_cls: type) -> dict[str, Any]:
    module = inspect.getmodule(params_cls)
    try:
        return typing.get_type_hints(params_cls, vars(module) if module else None)
    except Exception:  # noqa: BLE001 - fall back to raw annotations
        return {f.name: f.type for f in dataclasses.fields(params_cls)}


def param_specs(params_cls: type) -> list[ParamSpec]:
    """The catalogue view of a ``Params`` dataclass."""
    hints = _resolved_hints(params_cls)
    specs = []
    for f in dataclasses.fields(params_cls):
        tp = hints.get(f.name, f.type)
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        choices = get_args(tp) if get_origin(tp) is Literal else None
        specs.append(ParamSpec(f.name, _type_name(tp), default, f.metadata.get("help", ""), choices))
    return specs


def build_params(component: type[Component], raw: dict[str, Any] | None) -> Any:
    """Validate ``raw`` against ``component.Params`` and return an instance.

    The same pydantic machinery as the experiment config (:mod:`recforge.core.validation`):
    unknown names fail with a did-you-mean suggestion, values are coerced to the declared type
    and a bad value is a one-line :class:`ConfigError` naming the parameter.
    """
    from recforge.core.validation import validate_params

    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"params of {component.kind} '{component.name}' must be a mapping, got {raw!r}",
                          fix="write params as {key: value, ...}")
    return validate_params(component.Params, dict(raw or {}), f"{component.kind} '{component.name}'",
                           fix=f"see `recforge components show {component.name}`")


def params_to_dict(params: Any) -> dict[str, Any]:
    """Plain-dict view of a Params instance (for configs and the store)."""
    return dataclasses.asdict(params) if dataclasses.is_dataclass(params) else {}
