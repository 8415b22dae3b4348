"""Every key of the experiment-config schema either changes the trained model / evaluation or
is rejected: the schema is enumerated, so a new key without a proof here fails the suite.

Each proof trains the same small FM on the synthetic data twice through
:func:`recforge.core.experiment.train_on` (the service ``run_experiment`` uses, minus the
store), once with a reference config and once with the key changed, and compares a
fingerprint of the outcome: the predictions on the test rows, the reported metrics per split,
the epochs run and the process settings the key governs.
"""

from __future__ import annotations

import logging
import sys
import typing
from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).parent))
from trainer_fixtures import ensure_components, make_prepared  # noqa: E402

from recforge.core import evaluation  # noqa: E402
from recforge.core.config import apply_overrides  # noqa: E402
from recforge.core.config_schema import ExperimentConfig  # noqa: E402
from recforge.core.errors import ConfigError  # noqa: E402
from recforge.core.experiment import train_on  # noqa: E402
from recforge.core.train import TrainingDiverged  # noqa: E402
from recforge.core.validation import Settings  # noqa: E402

BASE = {"name": "keys", "experiment": "keys", "data": {"recipe": "synthetic"},
        "model": {"embedding_dim": 8, "interaction": "fm", "ranker": "ctr"},
        "train": {"epochs": 3, "batch_size": 128, "lr": 0.01, "patience": 5, "seed": 7, "checkpoint": False},
        "eval": {"metrics": ["auc", "logloss"]}}

#: key -> (reference overrides, changed overrides): the outcomes must differ
CHANGES: dict[str, tuple[list[str], list[str]]] = {
    "model.embedding_dim": ([], ["model.embedding_dim=4"]),
    "model.encoders": ([], ["model.encoders={item_id: {name: categorical, params: {hash_buckets: 5}}}"]),
    "model.interaction": ([], ["model.interaction=lr"]),
    "model.interactions": ([], ["model.interaction=null", "model.interactions=[lr, fm]"]),
    "model.ranker.name": (["eval.metrics=[auc]"], ["eval.metrics=[auc]", "model.ranker=rating"]),
    "model.ranker.params": (["model.ranker={name: ctr}"], ["model.ranker={name: ctr, params: {pos_weight: 4}}"]),
    "model.fields": ([], ["model.fields=[user_id, item_id]"]),
    "model.dropout": ([], ["model.dropout=0.5"]),
    "model.embedding_regularizer": ([], ["model.embedding_regularizer=0.5"]),
    "model.net_regularizer": ([], ["model.net_regularizer=0.5"]),
    "model.embedding_init_std": ([], ["model.embedding_init_std=0.1"]),
    "train.optimizer": ([], ["train.optimizer=sgd"]),
    "train.lr": ([], ["train.lr=0.05"]),
    "train.batch_size": ([], ["train.batch_size=64"]),
    "train.epochs": ([], ["train.epochs=1"]),
    "train.max_steps": ([], ["train.max_steps=3"]),
    "train.patience": (["train.monitor=train.loss", "train.monitor_mode=max"],
                       ["train.monitor=train.loss", "train.monitor_mode=max", "train.patience=1"]),
    "train.monitor": ([], ["train.monitor=train.loss", "train.monitor_mode=max"]),
    "train.monitor_mode": ([], ["train.monitor_mode=min"]),
    "train.seed": ([], ["train.seed=8"]),
    "train.deterministic": ([], ["train.deterministic=true"]),
    "train.threads": ([], ["train.threads=2"]),
    "train.weight_decay": ([], ["train.weight_decay=0.1"]),
    "train.embedding_weight_decay": ([], ["train.embedding_weight_decay=0.1"]),
    "train.embedding_lr": ([], ["train.embedding_lr=0.1"]),
    "train.lr_groups": ([], ["train.lr_groups={head: 0.2}"]),
    "train.scheduler.name": ([], ["train.scheduler=cosine"]),
    "train.scheduler.warmup_epochs": ([], ["train.scheduler.warmup_epochs=2"]),
    "train.scheduler.gamma": (["train.scheduler=exponential"], ["train.scheduler={name: exponential, gamma: 0.3}"]),
    "train.scheduler.step_size": (["train.scheduler={name: step, gamma: 0.5}"],
                                  ["train.scheduler={name: step, gamma: 0.5, step_size: 2}"]),
    "train.scheduler.eta_min_factor": (["train.scheduler=cosine"], ["train.scheduler={name: cosine, eta_min_factor: 0.9}"]),
    "train.scheduler.patience": (["train.epochs=4", "train.monitor_mode=min", "train.scheduler=plateau"],
                                 ["train.epochs=4", "train.monitor_mode=min", "train.scheduler={name: plateau, patience: 0}"]),
    "train.scheduler.factor": (["train.epochs=4", "train.monitor_mode=min", "train.scheduler={name: plateau, patience: 0}"],
                               ["train.epochs=4", "train.monitor_mode=min",
                                "train.scheduler={name: plateau, patience: 0, factor: 0.01}"]),
    "train.grad_clip": ([], ["train.grad_clip=0.001"]),
    "train.checkpoint": ([], ["train.checkpoint=true"]),
    "train.amp": ([], ["train.amp=true"]),
    "train.compile": ([], ["train.compile=true"]),
    "train.eval_batch_size": ([], ["train.eval_batch_size=7"]),
    "train.calibrate": ([], ["train.calibrate=temperature"]),
    "train.logloss_warn_margin": (["train.epochs=8", "train.lr=0.05"], ["train.epochs=8", "train.lr=0.05", "train.logloss_warn_margin=0"]),
    "train.stop_on_nonfinite": (["train.lr=1e30"], ["train.lr=1e30", "train.stop_on_nonfinite=true"]),
    "eval.metrics": ([], ["eval.metrics=[auc]"]),
    "eval.k": (["eval.metrics=[auc, ndcg@10]"], ["eval.metrics=[auc, ndcg]", "eval.k=[5]"]),
    "eval.protocol": (["eval.metrics=[auc, ndcg@10]"], ["eval.metrics=[auc, ndcg@10]", "eval.protocol=sampled"]),
    "eval.num_negatives": (["eval.metrics=[auc, ndcg@10]", "eval.protocol=sampled"],
                           ["eval.metrics=[auc, ndcg@10]", "eval.protocol=sampled", "eval.num_negatives=3"]),
    "eval.splits": ([], ["eval.splits=[valid]"]),
    "eval.group_by": (["eval.metrics=[gauc, mrr@3]"], ["eval.metrics=[gauc, mrr@3]", "eval.group_by=gender"]),
}

#: key -> overrides the composed FM refuses (one-line ConfigError naming the key)
REJECTED: dict[str, list[str]] = {
    "model.towers": ["model.towers={user: {fields: [user_id]}}"],
}

#: keys that only label the run in the store (checked in tests/cli/test_cli_train.py)
METADATA = {"name", "experiment", "description"}
#: the data section is read by the data layer before any model exists (tests/core/data)
DATA_SECTION = "data."


def schema_keys(model: type[BaseModel] = ExperimentConfig, prefix: str = "") -> list[str]:
    """Every dotted key a user can write (nested sections expanded, mappings are leaves)."""
    keys = []
    for name, field in model.model_fields.items():
        args = () if typing.get_origin(field.annotation) is dict else typing.get_args(field.annotation)
        sub = [a for a in (field.annotation, *args) if isinstance(a, type) and issubclass(a, Settings)]
        if sub:
            keys += schema_keys(sub[0], f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return keys


@pytest.fixture(scope="module")
def prepared():
    ensure_components()
    return make_prepared()


def outcome(prepared: Any, overrides: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple:
    """What a training run with ``overrides`` produced, as a comparable tuple."""
    seen: dict[str, Any] = {}
    real_predict = evaluation.predict_table

    def spy_predict(model, table, batch_size=16384, device="cpu"):
        seen["eval_batch_size"] = batch_size
        return real_predict(model, table, batch_size, device)

    monkeypatch.setattr(evaluation, "predict_table", spy_predict)
    monkeypatch.setattr(torch, "compile", lambda fn, **_: seen.setdefault("compiled", fn))
    threads = torch.get_num_threads()
    config = ExperimentConfig.parse(apply_overrides(BASE, overrides))
    run_dir = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
    warnings = WarningsSeen()
    logging.getLogger("recforge").addHandler(warnings)
    try:
        result = train_on(config, prepared, run_dir)
        state = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())
    except TrainingDiverged as err:  # how a run fails is its outcome too
        return ("diverged", str(err), tuple(warnings.messages))
    finally:
        logging.getLogger("recforge").removeHandler(warnings)
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(False)
    test = prepared.splits["test"]
    with torch.no_grad():
        result.model.eval()
        preds = result.model.predict(test.batch(torch.arange(test.num_rows)))
    checkpoints = sorted(p.name for p in (run_dir / "checkpoints").glob("*")) if run_dir.exists() else []
    metrics = {s: {k: round(v, 6) for k, v in m.items()} for s, m in result.splits.items()}
    losses = tuple(round(h["train.loss"], 6) for h in result.history)
    return (tuple(round(float(x), 6) for x in preds), repr(metrics), losses, result.epochs_run, state,
            tuple(checkpoints), seen.get("eval_batch_size"), "compiled" in seen, tuple(warnings.messages))


class WarningsSeen(logging.Handler):
    """The warnings recforge logged during a run (part of its outcome)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_every_schema_key_is_proven() -> None:
    """A key added to the schema must get a proof below (or be metadata / data layer)."""
    keys = schema_keys()
    unproven = [k for k in keys if k not in CHANGES and k not in REJECTED and k not in METADATA
                and not k.startswith(DATA_SECTION)]
    assert unproven == []
    assert set(CHANGES) | set(REJECTED) <= set(keys)


@pytest.mark.slow
@pytest.mark.parametrize("key", sorted(CHANGES))
def test_key_changes_the_outcome(key: str, prepared, tmp_path, monkeypatch) -> None:
    reference, changed = CHANGES[key]
    before = outcome(prepared, reference, tmp_path, monkeypatch)
    after = outcome(prepared, changed, tmp_path, monkeypatch)
    assert before != after, f"{key} did not change the outcome"


@pytest.mark.parametrize("key", sorted(REJECTED))
def test_key_is_rejected(key: str, prepared, tmp_path, monkeypatch) -> None:
    with pytest.raises(ConfigError) as err:
        outcome(prepared, REJECTED[key], tmp_path, monkeypatch)
    assert key in str(err.value) and "\n" not in str(err.value)


def test_reference_run_is_reproducible(prepared, tmp_path, monkeypatch) -> None:
    """The proofs compare outcomes, so the same config must give the same outcome."""
    assert outcome(prepared, [], tmp_path, monkeypatch) == outcome(prepared, [], tmp_path, monkeypatch)


@pytest.mark.slow
def test_ranking_model_without_monitor_follows_ndcg_past_patience(prepared, tmp_path) -> None:
    """A ranking config with no monitor selects on valid.ndcg@10 (max) and keeps training
    while it improves, instead of stopping after `patience` epochs on a metric it never reports."""
    config = {"data": {"recipe": "synthetic"}, "model": {"ranker": "bpr", "embedding_dim": 16},
              "train": {"epochs": 6, "batch_size": 64, "lr": 0.05, "patience": 1, "seed": 3, "checkpoint": False}}
    result = train_on(config, prepared, tmp_path / "run")
    ndcg = [h["valid.ndcg@10"] for h in result.history]
    assert result.epochs_run > 1 + 1  # more than patience + 1 epochs
    assert result.best_epoch == max(range(len(ndcg)), key=ndcg.__getitem__) + 1
    assert ndcg[result.best_epoch - 1] > ndcg[0]


def test_a_monitor_the_model_never_reports_fails_before_training(prepared, tmp_path) -> None:
    config = {**BASE, "train": {**BASE["train"], "monitor": "valid.nope"}}
    with pytest.raises(ConfigError, match="valid.nope"):
        train_on(config, prepared, tmp_path / "run")
