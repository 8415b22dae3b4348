"""Model assembly: encoders -> interaction -> head ranker, from the config's ``model`` section.

``build_model(config, prepared)`` is the one place a config turns into a
:class:`~recforge.core.model_api.RecommenderModel`:

* a **whole model** (a :class:`~recforge.core.components.WholeModel` registered with
  ``register_models``: bpr, two-tower, mf, ...; or a plugin's older ``standalone = True``
  ranker) builds itself through ``from_prepared(prepared, model_section, params)``;
* otherwise a :class:`RecModel` is composed: one encoder per field (default by field kind,
  overridden by ``model.encoders.<field>: {name, params}``), their outputs stacked into
  ``[B, F, D]`` (encoders with ``depends_on`` run after their dependencies), the interaction
  from :func:`recforge.core.composition.build_interaction`, and a head ranker (``ctr`` by
  default) mapping ``[B, H]`` to raw scores ``[B]``.

``RecModel`` keeps small per-user and per-item feature lookups (buffers saved with the
weights), so that a saved model can score any (user, item) pair for top-K without the
training data.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor, nn

from recforge.core import fused_lookup
from recforge.core.components import Encoder, Interaction, Ranker, SharedTables, WholeModel, build_params
from recforge.core.config_schema import DEFAULT_EMBEDDING_DIM, ExperimentConfig, ModelConfig
from recforge.core.errors import ConfigError
from recforge.core.validation import validate
from recforge.core.fused_lookup import slot_plan
from recforge.core.registry import Registry, get_registry

if TYPE_CHECKING:
    from recforge.core.data.prepare import PreparedData
    from recforge.core.saved_model import SavedData

#: default encoder per field kind (``model.encoders.<field>`` overrides)
DEFAULT_ENCODERS: dict[str, str] = {
    "categorical": "categorical",
    "numeric": "numeric",
    "multi_categorical": "multi_categorical",
    "sequence": "sequence",
    "text": "text-lm",
    "vector": "vector",
}
DEFAULT_DIM = DEFAULT_EMBEDDING_DIM
DEFAULT_RANKER = "ctr"
#: model keys every whole model honours (the rest must be declared in its ``model_keys``)
COMMON_MODEL_KEYS = frozenset({"ranker"})
#: (user, item) pairs scored per forward pass in :meth:`RecModel.score_items`
PAIR_CHUNK = 1 << 16


def component_spec(spec: Any, where: str) -> tuple[str, dict[str, Any]]:
    """Normalise ``name`` or ``{name, params}`` into ``(name, params)``."""
    if isinstance(spec, str):
        return spec, {}
    if isinstance(spec, dict) and isinstance(spec.get("name"), str):
        extra = set(spec) - {"name", "params"}
        if extra:
            raise ConfigError(
                f"{where}: unexpected keys {sorted(extra)}", fix="write {name: ..., params: {...}}"
            )
        return spec["name"], dict(spec.get("params") or {})
    raise ConfigError(f"{where}: {spec!r} is not a component name or {{name, params}}",
                      fix="write a name, or {name: ..., params: {...}}")


def fields_of(prepared: Any) -> dict[str, Any]:
    """``prepared.fields`` as a name -> FieldInfo mapping (lists are accepted too)."""
    fields = prepared.fields
    if isinstance(fields, dict):
        return dict(fields)
    return {f.name: f for f in fields}


def _topological(order: list[str], deps: dict[str, tuple[str, ...]]) -> list[str]:
    """Execution order honouring ``depends_on``; cycles and unknown fields fail clearly."""
    done: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            raise ConfigError(f"encoders depend on each other in a cycle: {' -> '.join(chain + (name,))}",
                              fix="remove one of the depends_on links")
        state[name] = 1
        for dep in deps.get(name, ()):
            if dep not in deps:
                raise ConfigError(f"encoder of field '{name}' depends on field '{dep}', which is not encoded",
                                  fix=f"add '{dep}' to the model's fields")
            visit(dep, chain + (name,))
        state[name] = 2
        done.append(name)

    for name in order:
        visit(name, ())
    return done


def execution_order(encoders: dict[str, Any]) -> list[str]:
    """The order in which ``encoders`` (field name -> encoder) must run so that every encoder
    with ``depends_on`` sees its dependencies' vectors already encoded."""
    return _topological(list(encoders), {name: tuple(enc.depends_on) for name, enc in encoders.items()})


class RecModel(nn.Module):
    """A composed model: per-field encoders -> one interaction -> a head ranker.

    Args:
        encoders: field name -> built encoder, in slot order.
        tables: the shared embedding tables the encoders draw from.
        interaction: maps ``[B, F, D]`` to ``[B, H]``.
        head: a head :class:`Ranker` mapping ``[B, H]`` to raw scores ``[B]``.
        fields: field name -> FieldInfo of every data field (label included).
        user_field / item_field: names of the user-id and item-id fields, or None.
        fused: one lookup for several plain categorical fields (see :func:`fuse_lookups`);
            its fields are not in ``encoders``.
        order: every encoded field in slot order (default: the order of ``encoders``).

    Example:
        model = build_model(config, prepared)
        probs = model.predict(prepared.splits["test"].batch(torch.arange(8)))
    """

    #: composed models always train by gradient descent (see ``model_api.is_trainable``)
    trainable: ClassVar[bool] = True

    def __init__(self, encoders: dict[str, Encoder], tables: SharedTables, interaction: nn.Module,
                 head: Ranker, fields: dict[str, Any], user_field: str | None,
                 item_field: str | None, fused: nn.Module | None = None,
                 order: list[str] | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        #: ``model.dropout``: dropout of the field vectors ``[B, F, D]`` while training
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.encoders = nn.ModuleDict(encoders)
        self.fused = fused
        self.shared_tables = tables.tables
        self.interaction = interaction
        self.head = head
        self.task: str = head.task
        self.fields = fields
        self.user_field = user_field
        self.item_field = item_field
        deps = {name: tuple(enc.depends_on) for name, enc in encoders.items()}
        self.slot_order = list(order or encoders)
        self.exec_order = _topological(list(encoders), deps)
        self.field_names: list[str] = []
        for name in self.slot_order:
            n = encoders[name].n_slots if name in encoders else 1
            self.field_names += [name] if n == 1 else [f"{name}[{i}]" for i in range(n)]
        self._plan = slot_plan(self.slot_order, fused.names if fused is not None else [])
        self._lookup_keys: dict[str, list[str]] = {"user": [], "item": [], "ctx": []}

    def input_fields(self) -> set[str]:
        """Every encoded field (:class:`recforge.core.model_api.FieldReader`)."""
        return set(self.slot_order)

    # ----------------------------------------------------------------- forward paths
    def _run(self, batch: dict[str, Tensor], wanted: set[str] | None) -> tuple[Tensor | None, dict[str, Tensor]]:
        """The fused lookup's ``[B, G, D]`` (if needed) and every wanted field's vectors."""
        fused_out, encoded = None, {}
        if self.fused is not None and (wanted is None or wanted.intersection(self.fused.names)):
            names = [n for n in self.fused.names if wanted is None or n in wanted]
            fused_out = self.fused(batch, names)
            encoded = {name: fused_out[:, j:j + 1] for j, name in enumerate(names)}
        for name in self.exec_order:
            if wanted is None or name in wanted:
                encoded[name] = self.encoders[name](batch, encoded)
        return fused_out, encoded

    def _encode(self, batch: dict[str, Tensor], names: Iterable[str] | None = None) -> dict[str, Tensor]:
        return self._run(batch, None if names is None else set(names))[1]

    def field_vectors(self, batch: dict[str, Tensor]) -> Tensor:
        """``[B, F, D]`` stacked field vectors, one slot per entry of :attr:`field_names`.

        Runs of fused fields are slices of the one fused lookup; with every field fused the
        lookup's output is returned as is, without any concatenation.
        """
        fused_out, encoded = self._run(batch, None)
        parts = [encoded[name] if name is not None else fused_out[:, a:b]  # type: ignore[index]
                 for name, a, b in self._plan]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        """Raw head scores ``[B]`` (logits for CTR)."""
        return self.head(self.interaction(self.dropout(self.field_vectors(batch))))

    def training_loss(self, batch: dict[str, Tensor]) -> Tensor:
        """The head's loss on one batch, plus the auxiliary losses of its parts (e.g. alignment)."""
        from recforge.core.aux_loss import auxiliary_losses

        return self.head.loss(self(batch), batch) + auxiliary_losses(self)

    def predict(self, batch: dict[str, Tensor]) -> Tensor:
        """``[B]`` predictions: probabilities for CTR, ratings for rating heads."""
        return self.head.output(self(batch))

    def prepare(self, context: Any) -> None:
        """Let every encoder (and the interaction/head when they care) precompute state."""
        for module in [*self.encoders.values(), self.interaction, self.head]:
            module.prepare(context)

    # ----------------------------------------------------------------- per-entity lookups
    def attach_lookups(self, tensors: dict[str, Tensor]) -> None:
        """Install feature lookups (``lookup_<role>__<field>`` buffers) for scoring pairs."""
        for key, value in tensors.items():
            role, _, name = key[len("lookup_"):].partition("__")
            if key in self._buffers:
                self._buffers[key] = value
            else:
                self.register_buffer(key, value)
            if name not in self._lookup_keys[role]:
                self._lookup_keys[role].append(name)

    def build_lookups(self, prepared: PreparedData | SavedData) -> None:
        """Derive the user, item and context lookups from the prepared data."""
        self.attach_lookups(feature_lookups(prepared, self.slot_order, self.user_field, self.item_field))

    def has_pair_scoring(self) -> bool:
        return bool(self.user_field and self.item_field and self._lookup_keys["item"])

    def num_items(self) -> int:
        return int(getattr(self, f"lookup_item__{self.item_field}").shape[0])

    def pair_batch(self, users: Tensor, items: Tensor) -> dict[str, Tensor]:
        """A batch of ``(users[j], items[j])`` rows assembled from the lookups."""
        batch: dict[str, Tensor] = {}
        for name in self._lookup_keys["ctx"]:
            row = getattr(self, f"lookup_ctx__{name}")
            batch[name] = row.expand(users.shape[0], *row.shape[1:])
        for name in self._lookup_keys["user"]:
            batch[name] = getattr(self, f"lookup_user__{name}")[users]
        for name in self._lookup_keys["item"]:
            batch[name] = getattr(self, f"lookup_item__{name}")[items]
        return batch

    @torch.no_grad()
    def score_items(self, users: Tensor, items: Tensor | None = None) -> Tensor:
        """``[U, I]`` predictions for every (user, item) pair, in chunks of whole users."""
        if not self.has_pair_scoring():
            raise NotImplementedError("this model has no user and item fields to pair up")
        device = next(self.buffers()).device  # the lookups' (of a submodule, in an ensemble)
        users = users.to(device)
        items = torch.arange(self.num_items(), device=device) if items is None else items.to(device)
        n_items = items.shape[0]
        out = torch.empty(users.shape[0], n_items, device=device)
        per_chunk = max(1, PAIR_CHUNK // max(n_items, 1))
        for start in range(0, users.shape[0], per_chunk):
            chunk = users[start:start + per_chunk]
            u = chunk.repeat_interleave(n_items)
            it = items.repeat(chunk.shape[0])
            out[start:start + chunk.shape[0]] = self.predict(self.pair_batch(u, it)).view(chunk.shape[0], n_items)
        return out

    @torch.no_grad()
    def item_vectors(self, kinds: tuple[str, ...] | None = None) -> Tensor:
        """``[I, d]``: the item-role field vectors of every item index, flattened.

        Args:
            kinds: only fields of these kinds (e.g. ``("text",)`` for text vectors).
        """
        names = [n for n in self._lookup_keys["item"] if n in self.slot_order
                 and (kinds is None or self.fields[n].kind in kinds)]
        if not names or not self.item_field:
            raise NotImplementedError("this model has no item fields" + (f" of kind {kinds}" if kinds else ""))
        idx = torch.arange(self.num_items(), device=getattr(self, f"lookup_item__{self.item_field}").device)
        batch = {n: getattr(self, f"lookup_item__{n}")[idx] for n in self._lookup_keys["item"]}
        encoded = self._encode(batch, names)
        return torch.cat([encoded[n].flatten(1) for n in names], dim=1)


def feature_lookups(prepared: PreparedData | SavedData, encoded: list[str], user_field: str | None,
                    item_field: str | None) -> dict[str, Tensor]:
    """Per-user / per-item rows of each encoded field, scattered by id index.

    Items come from ``prepared.items`` when the data layer provides it (cold items included),
    otherwise from the training split; users always from the training split (their features
    are constant per user). Context fields get one all-padding row.
    """
    if not user_field or not item_field:
        return {}
    fields = fields_of(prepared)
    train = prepared.splits["train"]
    rows = train.batch(torch.arange(train.num_rows))
    out: dict[str, Tensor] = {}
    item_rows = rows
    items_table = prepared.items
    if items_table is not None:
        item_rows = items_table.batch(torch.arange(items_table.num_rows))
    sources = {"user": (rows, user_field), "item": (item_rows, item_field)}
    for name in encoded:
        role = fields[name].role if fields[name].role in ("user", "item") else "ctx"
        if role == "ctx":
            out[f"lookup_ctx__{name}"] = torch.zeros_like(rows[name][:1])
            continue
        src, id_field = sources[role]
        if name not in src:
            src, id_field = rows, sources[role][1]
        size = int(fields[id_field].vocab_size)
        ids = src[id_field]
        table = torch.zeros((size, *src[name].shape[1:]), dtype=src[name].dtype)
        table[ids] = src[name]
        out[f"lookup_{role}__{name}"] = table
    return out


def model_section(config: Any) -> ModelConfig:
    """The typed ``model`` section of a config, a section, or a plain mapping of either."""
    if isinstance(config, ExperimentConfig):
        return config.model
    if isinstance(config, ModelConfig):
        return config
    raw = dict(config or {})
    section = raw.get("model") if "model" in raw or "data" in raw else raw
    return validate(ModelConfig, dict(section or {}), "model")


def encoded_fields(model_cfg: ModelConfig, fields: dict[str, Any]) -> list[str]:
    """Fields the model encodes: ``model.fields`` when given, else every non-label field."""
    chosen = model_cfg.fields
    if chosen is None:
        return [n for n, f in fields.items() if f.kind != "label" and f.role != "label"]
    for name in chosen:
        if name not in fields:
            from recforge.core.errors import unknown_name

            raise unknown_name("field in model.fields", name, fields, fix="use a field declared in data.fields")
    return list(chosen)


def build_encoders(model_cfg: ModelConfig | dict[str, Any], fields: dict[str, Any], dim: int,
                   registry: Registry) -> tuple[dict[str, Encoder], SharedTables]:
    """One encoder per encoded field, by field kind unless ``model.encoders`` overrides it."""
    model_cfg = model_section(model_cfg)
    overrides = model_cfg.encoders
    names = encoded_fields(model_cfg, fields)
    for key in overrides:
        if key not in names:
            from recforge.core.errors import unknown_name

            raise unknown_name("field in model.encoders", key, names, fix="name an encoded field")
    tables = SharedTables(model_cfg.embedding_init_std)
    encoders: dict[str, Encoder] = {}
    for name in names:
        info = fields[name]
        if name in overrides:
            enc_name, raw = overrides[name].name, overrides[name].params
        elif info.kind in DEFAULT_ENCODERS:
            enc_name, raw = DEFAULT_ENCODERS[info.kind], {}
        else:
            raise ConfigError(f"field '{name}' has kind '{info.kind}', which has no default encoder",
                              fix=f"set model.encoders.{name}: {{name: ...}}")
        cls = registry.get(enc_name, "encoder").cls
        accepted = cls.field_kinds
        if accepted and info.kind not in accepted:
            raise ConfigError(f"encoder '{enc_name}' cannot encode field '{name}' of kind '{info.kind}'",
                              fix=f"use an encoder for {info.kind} fields (it takes {', '.join(accepted)})")
        encoders[name] = cls([info], dim, build_params(cls, raw), tables)
    return encoders, tables


def build_model(config: Any, prepared: PreparedData | SavedData, registry: Registry | None = None) -> Any:
    """Build the model a config describes over prepared (or saved) data.

    Args:
        config: the typed :class:`ExperimentConfig` (its ``model`` and ``train.lr_groups`` are
            used); a mapping is validated first.
        prepared: :class:`~recforge.core.data.PreparedData` or the saved-model equivalent.
        registry: component registry (the process-wide one by default).

    Example:
        model = build_model(load_config("examples/configs/ml100k-ctr-deepfm.yaml"), prepared)
    """
    registry = registry or get_registry()
    model_cfg = model_section(config)
    lr_groups = config.train.lr_groups if isinstance(config, ExperimentConfig) else \
        dict((dict(config or {}).get("train") or {}).get("lr_groups") or {})
    ranker_cls = ranker_or_model(registry, model_cfg.ranker.name)
    params = build_params(ranker_cls, model_cfg.ranker.params)
    if ranker_cls.standalone:  # a WholeModel (or an older plugin's standalone ranker)
        _check_whole_model_keys(ranker_cls, model_cfg)
        return ranker_cls.from_prepared(prepared, model_cfg.model_dump(), params)
    spec = model_cfg.interaction_spec()
    if spec is None:
        raise ConfigError("config model section has no 'interaction'",
                          fix="add model.interaction, e.g. `interaction: deepfm`")
    if model_cfg.towers is not None:
        raise ConfigError(f"model.towers does nothing for the composed '{ranker_cls.name}' model",
                          fix="drop model.towers, or use ranker: two-tower")
    dim = model_cfg.embedding_dim
    fields = fields_of(prepared)
    encoders, tables = build_encoders(model_cfg, fields, dim, registry)
    if not encoders:
        raise ConfigError("the model encodes no fields", fix="declare feature fields in data.fields")
    num_slots = sum(e.n_slots for e in encoders.values())
    from recforge.core.composition import build_interaction

    interaction = build_interaction(spec, num_slots, dim)
    head = ranker_cls(int(interaction.output_dim), params)
    label = prepared.label
    if label:
        head.label_field = label  # head rankers read the target under the data's label name
        for split, table in prepared.splits.items():
            if label in getattr(table, "dense", {}):
                head.check_labels(table.dense[label], split)
    order = list(encoders)
    encoders, fused = fused_lookup.fuse_lookups(encoders, tables, list(lr_groups))
    model = RecModel(encoders, tables, interaction, head, fields,
                     prepared.user_field, prepared.item_field,
                     fused=fused, order=order, dropout=model_cfg.dropout)
    if "train" in prepared.splits and not prepared.restored:
        model.build_lookups(prepared)  # a saved model loads its lookups from its weights file
    return model


def ranker_or_model(registry: Registry, name: str) -> Any:
    """The class ``model.ranker`` names: a head ranker or a whole model (``register_models``)."""
    info = registry.get(name)
    if info.kind not in ("ranker", "model"):
        raise ConfigError(f"model.ranker '{name}' is a registered {info.kind}, not a ranker or a model",
                          fix="name a ranker (`recforge components list --kind ranker`) or a model (--kind model)")
    return info.cls


def _check_whole_model_keys(ranker_cls: type, model_cfg: ModelConfig) -> None:
    """A whole model (standalone ranker) reads only some model keys; any other set key is an
    error rather than a silent no-op. Rankers list what they read in ``model_keys``."""
    if ranker_cls.model_keys is None:
        return
    honoured = COMMON_MODEL_KEYS | frozenset(ranker_cls.model_keys)
    defaults = ModelConfig()
    changed = {k for k in model_cfg.model_fields_set if getattr(model_cfg, k) != getattr(defaults, k)}
    for key in sorted(changed - honoured):
        raise ConfigError(f"model.{key} does nothing for the '{ranker_cls.name}' model",
                          fix=f"drop model.{key} (the '{ranker_cls.name}' ranker reads "
                              f"{', '.join(sorted(honoured - {'ranker'})) or 'no other model key'})")


def component_names(config: dict[str, Any], model: Any) -> list[str]:
    """Names of the registered components a model uses (for versions in the store)."""
    names: set[str] = set()
    if isinstance(model, RecModel):
        names.update(type(e).name for e in model.encoders.values())
        if model.fused is not None:
            names.update(model.fused.components)
        names.add(type(model.head).name)
        names.update(m.name for m in model.interaction.modules() if isinstance(m, Interaction) and m.name)
    else:
        names.add(model_section(config).ranker.name)
        names.update(m.name for m in model.modules()
                     if isinstance(m, (Encoder, Interaction, Ranker, WholeModel)) and m.name)
    return sorted(names)
