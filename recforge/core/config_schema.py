"""The typed experiment config: one pydantic model per section, built once at load.

``ExperimentConfig{name, experiment, description, data, model, train, eval}`` is what
:func:`recforge.core.config.load_config` returns and what :func:`run_experiment` and
:func:`build_model` take. Every key a user can write is declared here with its range, so a
bad value fails at load with one line naming the key and the fix, before any data is read;
the ``params`` of components are validated by the components' own ``Params`` through the same
machinery (:mod:`recforge.core.validation`) once the registry is known.
"""

from __future__ import annotations

import copy
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from recforge.core.errors import ConfigError
from recforge.core.metric_direction import LOWER_IS_BETTER  # noqa: F401 - re-exported
from recforge.core.metric_direction import higher_is_better as metric_higher_is_better
from recforge.core.validation import Float, Int, Settings, validate

#: valid log loss this far above its best epoch's, while the monitor still improves, is drift
LOGLOSS_WARN_MARGIN = 0.05

#: the one default embedding dimension of every model family (composed and whole models)
DEFAULT_EMBEDDING_DIM = 16
MAX_EMBEDDING_DIM = 16384
MAX_BATCH_SIZE = 1 << 24
MAX_SEED = 2**32 - 1

PositiveFloat = Annotated[Float, Field(gt=0, allow_inf_nan=False)]
NonNegFloat = Annotated[Float, Field(ge=0, allow_inf_nan=False)]
BatchSize = Annotated[Int, Field(ge=1, le=MAX_BATCH_SIZE)]
Seed = Annotated[Int, Field(ge=0, le=MAX_SEED)]


def _name_spec(value: Any) -> Any:
    """``"deepfm"`` is short for ``{name: deepfm}``."""
    return {"name": value} if isinstance(value, str) else value


class ComponentSpec(Settings):
    """A registered component by name, with its params (validated by the component)."""

    name: str = Field(description="a registered component name (`recforge components list`)")
    params: dict[str, Any] = Field(default_factory=dict, description="the component's params")

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        return _name_spec(value)

    @field_validator("params", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value


class NegativesConfig(Settings):
    """``data.negatives``: negatives drawn once at preparation (see ``core/data/sampling``)."""

    num: Int = Field(4, ge=1, le=10_000, description="a whole number of negatives per positive, e.g. 4")
    mode: Literal["pointwise", "pairwise"] = Field("pointwise", description="pointwise or pairwise")
    method: Literal["uniform", "popularity"] = Field("uniform", description="uniform or popularity")
    seed: Seed = Field(2024, description="a seed in 0..2**32-1")
    exclude_positives: bool = Field(True, description="true or false")


class StreamingConfig(Settings):
    """``data.streaming``: the out-of-core data path (``docs/out-of-core.md``).

    Prepared splits are written as Parquet shards and training streams them through a
    bounded shuffle buffer, split across DDP ranks and loader workers; the in-memory path
    stays the default.
    """

    enabled: bool | Literal["auto"] = Field(
        False, description="true, false or auto (stream when the training split has more than `threshold` rows)")
    shard_rows: Int = Field(1_000_000, ge=1_000, le=1 << 31, description="rows per Parquet shard file, e.g. 1000000")
    shuffle_buffer: Int = Field(1 << 18, ge=0, le=1 << 31,
                                description="rows each rank holds for shuffling (0 = shuffle row groups only)")
    threshold: Int = Field(20_000_000, ge=0, description="with enabled: auto, stream above this many training rows")
    workers: Int = Field(0, ge=0, le=64, description="DataLoader worker processes per rank reading shards")

    @field_validator("enabled", mode="before")
    @classmethod
    def _auto(cls, value: Any) -> Any:
        return "auto" if isinstance(value, str) and value.strip().lower() == "auto" else value

    @model_validator(mode="after")
    def _threshold_needs_auto(self) -> StreamingConfig:
        if "threshold" in self.model_fields_set and self.enabled != "auto":
            raise ValueError("'threshold' only applies to enabled: auto")
        return self

    def applies(self, train_rows: int) -> bool:
        """Whether a training split of ``train_rows`` rows takes the streaming path."""
        return train_rows > self.threshold if self.enabled == "auto" else bool(self.enabled)


class DataConfig(Settings):
    """``data``: where rows come from and how they are split (the data layer checks the inside)."""

    recipe: str | None = Field(None, description="a dataset recipe (`recforge components list --kind dataset`)")
    params: dict[str, Any] | None = Field(None, description="the recipe's params")
    fields: list[dict[str, Any]] | None = Field(None, description="a list of field declarations {name, kind, ...}")
    split: Any = Field(None, description="a split spec, e.g. {method: random, ratios: [0.8, 0.1, 0.1]}")
    negatives: NegativesConfig | None = Field(None, description="{num, mode, method, seed, exclude_positives}")
    label: Any = Field(None, description="a label spec, e.g. {threshold: 4}")
    features: Any = Field(None, description="extra feature declarations")
    drop: Any = Field(None, description="columns to drop")
    streaming: StreamingConfig | None = Field(
        None, description="{enabled, shard_rows, shuffle_buffer, threshold, workers}: the out-of-core path")


class TowerConfig(Settings):
    """``model.towers.<role>`` of two-tower models."""

    fields: list[str] | None = Field(None, description="the fields of this tower")
    interaction: Any = Field(None, description="an interaction spec for this tower")


class ModelConfig(Settings):
    """``model``: encoders per field, the interaction, the ranker and model-wide regularisation."""

    embedding_dim: Int = Field(DEFAULT_EMBEDDING_DIM, ge=1, le=MAX_EMBEDDING_DIM,
                               description=f"a whole number in 1..{MAX_EMBEDDING_DIM}, e.g. 16")
    encoders: dict[str, ComponentSpec] = Field(default_factory=dict,
                                               description="{field: encoder name or {name, params}}")
    interaction: Any = Field(None, description="an interaction name or spec (see core/composition)")
    interactions: list[Any] | None = Field(
        None, description="a list of interaction specs whose logits are summed (short for "
        "interaction: {parallel: [...], combine: sum})")
    ranker: ComponentSpec = Field(default_factory=lambda: ComponentSpec(name="ctr"),
                                  description="a ranker name or {name, params}")
    towers: dict[Literal["user", "item"], TowerConfig] | None = Field(None, description="{user: {...}, item: {...}}")
    fields: list[str] | None = Field(None, description="the fields the model encodes (default: all)")
    dropout: Float = Field(0.0, ge=0.0, lt=1.0, description="a rate in [0, 1), e.g. 0.1")
    embedding_regularizer: NonNegFloat = Field(0.0, description="an L2 weight >= 0, e.g. 1e-5")
    net_regularizer: NonNegFloat = Field(0.0, description="an L2 weight >= 0, e.g. 1e-5")
    embedding_init_std: PositiveFloat = Field(1e-4, description="a positive std, e.g. 1e-4 or 0.01")

    @model_validator(mode="after")
    def _one_interaction_key(self) -> ModelConfig:
        if self.interactions is not None:
            if self.interaction is not None:
                raise ValueError("set model.interaction or model.interactions, not both")
            if not self.interactions:
                raise ValueError("model.interactions must list at least one interaction")
        return self

    def interaction_spec(self) -> Any:
        """The interaction spec: ``interaction``, or ``interactions`` as a summed parallel."""
        if self.interactions is not None:
            return {"parallel": list(self.interactions), "combine": "sum"}
        return self.interaction


class LrGroup(Settings):
    """One entry of ``train.lr_groups``: a learning rate and/or weight decay for a prefix."""

    lr: PositiveFloat | None = Field(None, description="a positive learning rate")
    weight_decay: NonNegFloat | None = Field(None, description="a weight decay >= 0")

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        return value if isinstance(value, dict) else {"lr": value}


class SchedulerConfig(Settings):
    """``train.scheduler``: per-epoch learning-rate schedule."""

    name: Literal["none", "step", "exponential", "cosine", "plateau"] = Field(
        "none", description="none, step, exponential, cosine or plateau")
    warmup_epochs: Int = Field(0, ge=0, description="a whole number of warm-up epochs >= 0")
    gamma: PositiveFloat | None = Field(None, description="a decay factor, e.g. 0.9 (step, exponential)")
    step_size: Int | None = Field(None, ge=1, description="epochs per step >= 1 (step)")
    eta_min_factor: Float | None = Field(None, ge=0, le=1, description="a floor in [0, 1] (cosine)")
    patience: Int | None = Field(None, ge=0, description="flat epochs before a reduction (plateau)")
    factor: Float | None = Field(None, gt=0, lt=1, description="a reduction in (0, 1) (plateau)")

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        value = _name_spec(value)
        if isinstance(value, dict) and isinstance(value.get("name"), str):
            value = {**value, "name": value["name"].lower()}
        return value

    @model_validator(mode="after")
    def _arguments_of_this_schedule(self) -> SchedulerConfig:
        own = {"step": {"gamma", "step_size"}, "exponential": {"gamma"}, "cosine": {"eta_min_factor"},
               "plateau": {"patience", "factor"}}.get(self.name, set())
        stray = sorted(k for k in self.model_fields_set - {"name", "warmup_epochs"} if k not in own)
        if stray:
            raise ValueError(f"'{stray[0]}' does nothing for the {self.name} schedule")
        return self

    def arg(self, key: str, default: Any) -> Any:
        value = getattr(self, key)
        return default if value is None else value


class TrainConfig(Settings):
    """``train``: the optimiser, schedule, early stopping and reproducibility settings.

    ``monitor`` defaults to the ranker's task (``valid.auc`` for CTR, ``valid.rmse`` for
    rating, ``valid.ndcg@10`` for ranking; see :func:`recforge.core.experiment.default_monitor`);
    an explicit one that the model never reports is an error at start.
    """

    optimizer: Literal["adam", "adamw", "sgd"] = Field("adam", description="adam, adamw or sgd")
    lr: PositiveFloat = Field(1e-3, description="a finite learning rate > 0, e.g. 1e-3")
    batch_size: BatchSize = Field(4096, description=f"a whole number in 1..{MAX_BATCH_SIZE}, e.g. 4096")
    eval_batch_size: BatchSize = Field(16384, description=f"a whole number in 1..{MAX_BATCH_SIZE}")
    epochs: Int = Field(10, ge=1, le=1_000_000, description="a whole number of epochs >= 1")
    max_steps: Int = Field(0, ge=0, description="a whole number >= 0 (0 = no cap)")
    patience: Int = Field(2, ge=0, description="a whole number >= 0 (0 = no early stopping)")
    monitor: str | None = Field(None, description="a metric the model reports, e.g. valid.auc")
    monitor_mode: Literal["auto", "max", "min"] = Field("auto", description="auto, max or min")
    seed: Seed = Field(2024, description=f"a whole number in 0..{MAX_SEED}")
    deterministic: bool = Field(False, description="true or false")
    threads: Int | None = Field(None, ge=1, le=4096, description="a whole number of threads >= 1")
    weight_decay: NonNegFloat = Field(0.0, description="a weight decay >= 0")
    embedding_weight_decay: NonNegFloat | None = Field(None, description="a weight decay >= 0")
    embedding_lr: PositiveFloat | None = Field(None, description="a finite learning rate > 0")
    lr_groups: dict[str, LrGroup] = Field(default_factory=dict, description="{parameter prefix: lr or {lr, weight_decay}}")
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig, description="none or {name, ...}")
    grad_clip: NonNegFloat = Field(0.0, description="a gradient-norm bound >= 0 (0 = off)")
    checkpoint: bool = Field(True, description="true or false")
    amp: bool | Literal["auto"] = Field(False, description="true, false or auto")
    compile: bool = Field(False, description="true or false")
    stop_on_nonfinite: bool = Field(
        False, description="true: fail at the first NaN/inf training loss (one host sync per step)")
    calibrate: Literal["none", "temperature", "platt", "isotonic"] = Field(
        "none", description="after training, fit temperature, platt or isotonic calibration of click probabilities on valid")
    logloss_warn_margin: NonNegFloat = Field(
        LOGLOSS_WARN_MARGIN, description="warn when the monitor improves while valid logloss is this much above its best")

    @field_validator("optimizer", "monitor_mode", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("scheduler", mode="before")
    @classmethod
    def _none_scheduler(cls, value: Any) -> Any:
        return {"name": "none"} if value is None else value

    @field_validator("amp", mode="before")
    @classmethod
    def _amp(cls, value: Any) -> Any:
        return "auto" if isinstance(value, str) and value.strip().lower() == "auto" else value

    @field_validator("monitor")
    @classmethod
    def _monitor_form(cls, value: str | None) -> str | None:
        if value is None:
            return None
        name = value if "." in value else f"valid.{value}"
        if not name.startswith(("valid.", "train.")):
            raise ValueError("a monitor is valid.<metric> or train.loss")
        return name.lower()

    # --- the trainer's view ------------------------------------------------------------
    @classmethod
    def from_config(cls, section: Any) -> TrainConfig:
        """Validate ``config["train"]`` (a mapping or an already typed section)."""
        if isinstance(section, TrainConfig):
            return section
        return validate(cls, dict(section or {}), "train")

    def monitor_key(self, has_valid: bool) -> str:
        """The monitored metric (a caller fills ``monitor`` from the task when unset)."""
        return self.monitor or ("valid.auc" if has_valid else "train.loss")

    def higher_is_better(self, key: str) -> bool:
        if self.monitor_mode != "auto":
            return self.monitor_mode == "max"
        return metric_higher_is_better(key)


class EvalConfig(Settings):
    """``eval``: which metrics on which splits under which protocol."""

    metrics: list[str] | None = Field(None, description="metric names, e.g. [auc, logloss] or [ndcg@10]")
    k: list[Annotated[Int, Field(ge=1, le=100_000)]] | None = Field(
        None, description="cut-offs > 0 for ranking metrics written without @K, e.g. [10, 20]")
    protocol: Literal["full", "sampled", "rows"] = Field("full", description="full, sampled or rows")
    splits: list[str] = Field(default_factory=lambda: ["valid", "test"],
                              description="the splits reported after training, e.g. [valid, test]")
    num_negatives: Int | None = Field(None, ge=1, le=1_000_000,
                                      description="sampled negatives per user >= 1 (protocol: sampled)")
    group_by: str | None = Field(None, description="a column grouping rows (gAUC, ranking metrics of rows), "
                                 "e.g. impression_id")

    @field_validator("metrics", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        return [n.strip() for n in value.split(",") if n.strip()] if isinstance(value, str) else value

    @field_validator("k", mode="before")
    @classmethod
    def _one_k(cls, value: Any) -> Any:
        return [value] if isinstance(value, (int, float, str)) and not isinstance(value, bool) else value

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, names: list[str] | None) -> list[str] | None:
        if names is None:
            return None
        from recforge.core.metrics import POINTWISE_METRICS, RANKING_METRICS, parse_metric

        out = []
        for name in names:
            base = name.strip().lower()
            if base not in RANKING_METRICS and base not in POINTWISE_METRICS:
                parse_metric(base)  # raises the did-you-mean error
            out.append(base)
        return out

    @model_validator(mode="after")
    def _settings_that_apply(self) -> EvalConfig:
        if self.num_negatives is not None and self.protocol != "sampled":
            raise ValueError("eval.num_negatives only applies to protocol: sampled")
        if not self.splits:
            raise ValueError("eval.splits must name at least one split")
        return self

    def metric_names(self, task: str) -> list[str]:
        """``metrics`` (or the task's defaults) with bare ranking names expanded by ``k``."""
        from recforge.core.metrics import RANKING_METRICS, parse_metric

        names = self.metrics or list(default_metrics(task))
        ks = self.k
        out: list[str] = []
        used_k = False
        for name in names:
            base = name.split("@")[0]
            if base in RANKING_METRICS and "@" not in name:
                if not ks:
                    parse_metric(name)  # "needs a cut-off" error
                out += [f"{base}@{k}" for k in ks or ()]
                used_k = True
            elif base in RANKING_METRICS and ks and self.metrics is None:
                out += [f"{base}@{k}" for k in ks]
                used_k = True
            else:
                parse_metric(name)
                out.append(name)
        if ks and not used_k:
            raise ConfigError("eval.k is set but every metric names its own cut-off",
                              fix="write ranking metrics without @K (e.g. ndcg) or drop eval.k")
        return list(dict.fromkeys(out))


POINTWISE_DEFAULT = ("auc", "gauc", "logloss")
RATING_DEFAULT = ("rmse", "mae")
RANKING_DEFAULT = ("ndcg@10", "recall@10", "mrr@10", "hit@10")


def default_metrics(task: str) -> tuple[str, ...]:
    """The metrics a task reports when ``eval.metrics`` is not set."""
    return RATING_DEFAULT if task == "rating" else POINTWISE_DEFAULT if task == "pointwise" else RANKING_DEFAULT


class ExperimentConfig(Settings):
    """A whole experiment config (see ``examples/configs``)."""

    name: str | None = Field(None, description="the run name")
    experiment: str | None = Field(None, description="the experiment the run belongs to")
    description: str | None = Field(None, description="free text")
    data: DataConfig = Field(description="{recipe, params, fields, split, ...}")
    model: ModelConfig = Field(default_factory=ModelConfig, description="{embedding_dim, encoders, interaction, ranker, ...}")
    train: TrainConfig = Field(default_factory=TrainConfig, description="{optimizer, lr, batch_size, epochs, ...}")
    eval: EvalConfig = Field(default_factory=EvalConfig, description="{metrics, k, protocol, splits, group_by}")
    #: the mapping this config was validated from, kept so runs store the config as written
    _raw: dict[str, Any] | None = PrivateAttr(default=None)

    def to_dict(self) -> dict[str, Any]:
        """The config as the user wrote it (after overrides), for the store and saved models."""
        return copy.deepcopy(self._raw) if self._raw is not None else super().to_dict()

    def data_section(self) -> dict[str, Any]:
        """The ``data`` section as written: what the data layer reads and fingerprints."""
        return dict(self.to_dict().get("data") or {})

    @classmethod
    def parse(cls, raw: Any) -> ExperimentConfig:
        """An ExperimentConfig from a mapping (or itself); one-line ConfigError when invalid."""
        if isinstance(raw, ExperimentConfig):
            return raw
        if not isinstance(raw, dict):
            raise ConfigError(f"an experiment config must be a mapping, not {type(raw).__name__}",
                              fix="write the config as `key: value` lines")
        for section in ("data", "model", "train", "eval"):
            if section in raw and raw[section] is None:
                raw = {**raw, section: {}}
        if "data" not in raw:
            raise ConfigError("config has no 'data' section", fix="add data: {recipe: ..., ...}")
        config = validate(cls, raw, "", fix=None)
        config._raw = copy.deepcopy(raw)
        return config
