"""The experiment-level conformance properties: a saved model round trip, and training.

Both run the component inside a real recforge model over the tiny MovieLens data
(:mod:`recforge.testing.tiny_data`): the round trip saves it with ``save_model`` (config +
FeatureMap + safetensors) and loads it with ``load_model``; training goes through
``run_experiment`` with a real SQLite store, as ``recforge train`` does. Everything is
written under a scratch ``RECFORGE_HOME``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

from recforge.core.components import PrepareContext
from recforge.core.errors import RecforgeError
from recforge.testing.failure import ConformanceFailure
from recforge.testing.probes import ModelProbe, Subject, probe_for
from recforge.testing.tiny_data import MODEL_FIELDS, scratch_home, tiny_data_config, tiny_prepared

#: the tiny experiment's settings: small, fast, and enough to learn from a few hundred rows
TRAIN: dict[str, Any] = {
    "optimizer": "adam", "lr": 1e-2, "batch_size": 32, "epochs": 2, "seed": 0,
    "amp": False, "threads": 1, "monitor": "valid.auc",
}


@contextmanager
def registered(subject: Subject) -> Iterator[None]:
    """Make sure the registry resolves the subject's name to the subject's class.

    An installed plugin already is registered; a component tested before installing (or in
    its own repository's tests) is registered for the duration as the plugin ``conformance``.
    """
    from recforge.core.hookspecs import hookimpl
    from recforge.core.registry import HOOK_FOR_KIND, get_registry

    registry = get_registry()
    cls = subject.cls
    if registry.has(cls.name):
        if registry.get(cls.name).cls is not cls:
            other = registry.get(cls.name)
            raise ConformanceFailure("registered under its name", f"'{cls.name}' resolves to {other.cls.__module__}."
                                     f"{other.cls.__qualname__} from plugin '{other.plugin}', not the class under test; "
                                     "uninstall the stale copy or rename one of them")
        yield
        return
    hook_name = HOOK_FOR_KIND[cls.kind]

    def register_hook(register: Any) -> None:
        register(cls)

    register_hook.__name__ = hook_name
    plugin = SimpleNamespace(**{hook_name: hookimpl(register_hook)})
    record = registry.register_module(plugin, name="conformance")  # type: ignore[arg-type]
    try:
        if record.error:
            raise ConformanceFailure("registered under its name", f"registering {subject.label} failed: {record.error}")
        yield
    finally:
        registry.unregister("conformance")


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def tiny_config(subject: Subject) -> dict[str, Any]:
    """The experiment config that puts the subject in a model over the tiny data."""
    probe = probe_for(subject)
    model: dict[str, Any] = {"embedding_dim": 8, "embedding_init_std": 0.05, "fields": list(MODEL_FIELDS),
                             "interaction": {"parallel": ["lr", "fm"], "combine": "sum"}, "ranker": "ctr"}
    data = tiny_data_config()
    if isinstance(probe, ModelProbe):  # a whole model: only the keys it reads (others are errors)
        model = probe.model_section()
    elif probe is not None:
        model.update(probe.model_section())
    else:  # a dataset recipe: its own data, a plain model
        data = {"recipe": subject.cls.name, "params": dict(subject.params)}
        model.pop("fields")
    config = {"name": f"conformance-{subject.cls.name}", "experiment": "conformance", "data": data,
              "model": model, "train": dict(TRAIN), "eval": {"metrics": ["auc"]}}
    return _merge(config, subject.experiment)


def check_saved_model_round_trip(subject: Subject) -> None:
    """A saved model holding the component loads and scores exactly as before saving."""
    prop = "saved model round trip"
    from recforge.core.experiment import predict_table
    from recforge.core.model import build_model
    from recforge.core.saved_model import load_model, save_model

    config = tiny_config(subject)
    with scratch_home() as home, registered(subject):
        prepared = tiny_prepared() if probe_for(subject) is not None else _prepare(config)
        torch.manual_seed(0)
        try:
            model = build_model(config, prepared)
        except RecforgeError as err:
            raise ConformanceFailure(prop, f"a model with {subject.label} does not build: {err}") from None
        model.prepare(PrepareContext())
        with torch.no_grad():  # move every weight off its initial value
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.01)
        before = predict_table(model.eval(), prepared.splits["valid"])
        folder = Path(home) / "saved" / subject.cls.name
        try:
            save_model(model, prepared, config, folder)
            loaded = load_model(folder).model
        except RecforgeError as err:
            raise ConformanceFailure(prop, f"the saved model does not load: {err}") from None
        after = predict_table(loaded, prepared.splits["valid"])
    if not torch.equal(before, after):
        diff = (before - after).abs().max().item()
        raise ConformanceFailure(prop, f"the loaded model scores differently (max |diff| {diff:.3g}); keep every "
                                       "weight in a parameter or persistent buffer and rebuild it from the config")


def _prepare(config: dict[str, Any]) -> Any:
    from recforge.core.data import prepare_data

    return prepare_data(config["data"], use_cache=False)


def _task(subject: Subject) -> str:
    return str(getattr(subject.cls, "task", "pointwise")) if subject.kind in ("ranker", "model") else "pointwise"


def _bar(task: str, subject: Subject) -> tuple[str, float, str]:
    """The metric judged on valid, the value chance gets, and how it compares."""
    prepared = tiny_prepared()
    if task == "rating":  # predicting the training mean
        train = prepared.splits["train"].dense[prepared.label].float()
        valid = prepared.splits["valid"].dense[prepared.label].float()
        return "rmse", float((valid - train.mean()).pow(2).mean().sqrt()), "below"
    if task != "pointwise":  # random top-10 out of the catalogue, with a 20% margin
        items = int(prepared.fields[prepared.item_field].vocab_size) - 2
        return "recall@10", 1.2 * 10 / max(1, items), "above"
    return "auc", subject.min_auc, "above"


def check_trains_better_than_chance(subject: Subject) -> None:
    """Trained in a tiny real experiment, the model beats chance on the valid split."""
    prop = "trains better than chance"
    from recforge.core.experiment import run_experiment
    from recforge.core.store import Store

    config = tiny_config(subject)
    task = _task(subject)
    metric, bar, direction = _bar(task, subject)
    config["eval"] = {"metrics": [metric]}
    config["train"]["monitor"] = f"valid.{metric}"
    if task not in ("pointwise", "rating"):  # ranking models see each user's few rows once per epoch
        config["train"]["epochs"] = max(int(config["train"]["epochs"]), 10)
        config["train"]["patience"] = config["train"]["epochs"]
    with scratch_home() as home, registered(subject):
        try:
            with Store.open(f"sqlite:///{home}/conformance.db") as store:
                result = run_experiment(config, store, progress=False)
        except RecforgeError as err:
            raise ConformanceFailure(prop, f"the tiny experiment with {subject.label} failed: {err}") from None
    got = result.valid.get(metric, float("nan"))
    if not (got > bar if direction == "above" else got < bar):
        raise ConformanceFailure(prop, f"valid {metric} {got:.3f} after {result.epochs_run} epochs of the tiny "
                                       f"experiment; it must be {direction} {bar:.3f} (chance)")


EXPERIMENT_CHECKS = {
    "saved_model_round_trip": check_saved_model_round_trip,
    "trains_better_than_chance": check_trains_better_than_chance,
}
