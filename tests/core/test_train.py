"""Trainer: learning, early stopping + best restore, checkpoints/resume, cancellation, groups."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from trainer_fixtures import ensure_components, make_prepared, model_config  # noqa: E402

from recforge.core.errors import ConfigError, UnknownNameError  # noqa: E402
from recforge.core.experiment import evaluate  # noqa: E402
from recforge.core.model import build_model  # noqa: E402
from recforge.core.train import (  # noqa: E402
    EpochScheduler,
    Trainer,
    TrainingInterrupted,
    TrainSettings,
    param_groups,
)


@pytest.fixture(scope="module")
def prepared():
    ensure_components()
    return make_prepared()


def _trainer(prepared, cfg, **kw):
    torch.manual_seed(0)
    model = build_model(cfg, prepared)
    settings = TrainSettings.from_config(cfg["train"])
    evaluate_fn = kw.pop("evaluate", lambda m: evaluate(m, prepared, "valid", cfg))
    return model, Trainer(model, prepared.splits["train"], settings, evaluate=evaluate_fn, progress=False, **kw)


def test_training_learns_the_synthetic_signal(prepared):
    cfg = model_config("fm", epochs=6, patience=0, lr=0.05)
    model, trainer = _trainer(prepared, cfg)
    before = evaluate(model, prepared, "test", cfg)["auc"]
    result = trainer.fit()
    after = evaluate(model, prepared, "test", cfg)["auc"]
    losses = [h["train.loss"] for h in result.history]
    assert losses[-1] < losses[0]
    assert after > 0.85 and after > before + 0.2
    assert result.monitor == "valid.auc" and result.epochs_run == 6


def test_early_stopping_restores_best_weights(prepared):
    """A scripted validation metric peaks at epoch 2; patience 2 stops after epoch 4."""
    values = iter([0.5, 0.9, 0.8, 0.7, 0.6, 0.95])
    snapshots = {}

    def fake_eval(model):
        snapshots[len(snapshots) + 1] = {k: v.clone() for k, v in model.state_dict().items()}
        return {"auc": next(values)}

    cfg = model_config("fm", epochs=6, patience=2)
    model, trainer = _trainer(prepared, cfg, evaluate=fake_eval)
    result = trainer.fit()
    assert result.best_epoch == 2 and result.stopped_early and result.epochs_run == 4
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4]
    for key, value in model.state_dict().items():
        assert torch.equal(value, snapshots[2][key]), key


def test_monitor_min_mode_for_losses():
    s = TrainSettings.from_config({"monitor": "logloss"})
    assert s.monitor_key(True) == "valid.logloss" and not s.higher_is_better("valid.logloss")
    assert TrainSettings.from_config({}).monitor_key(False) == "train.loss"
    assert TrainSettings.from_config({"monitor_mode": "max"}).higher_is_better("valid.rmse")


def test_resume_after_interrupt_reproduces_uninterrupted_run(prepared, tmp_path):
    cfg = model_config("deepfm", epochs=4, patience=0)
    model_a, trainer_a = _trainer(prepared, cfg, checkpoint_dir=tmp_path / "a")
    full = trainer_a.fit()

    def stop_after_epoch_2(event):
        if event.kind == "epoch" and event.epoch == 2:
            raise KeyboardInterrupt

    model_b, trainer_b = _trainer(prepared, cfg, checkpoint_dir=tmp_path / "b", on_event=stop_after_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        trainer_b.fit()
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["epoch-0001", "epoch-0002"]
    model_c, trainer_c = _trainer(prepared, cfg, checkpoint_dir=tmp_path / "b")
    resumed = trainer_c.fit(resume=True)
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3, 4]
    for h_full, h_res in zip(full.history, resumed.history):
        assert h_full == pytest.approx(h_res, rel=1e-6, abs=1e-7)
    for key, value in model_a.state_dict().items():
        assert torch.allclose(value, model_c.state_dict()[key], atol=1e-6), key
    # only the last two checkpoints are kept
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["epoch-0003", "epoch-0004"]


def test_on_event_returning_true_cancels_mid_epoch(prepared, tmp_path):
    events = []

    def cancel_at_first_step(event):
        events.append(event.kind)
        return event.kind == "step"

    cfg = model_config("fm", epochs=2)
    _, trainer = _trainer(prepared, cfg, checkpoint_dir=tmp_path, on_event=cancel_at_first_step)
    trainer.event_every_s = 0.0
    with pytest.raises(TrainingInterrupted):
        trainer.fit()
    assert events == ["start", "step"]
    assert not list(tmp_path.glob("epoch-*"))


def test_step_events_carry_progress(prepared):
    events = []
    cfg = model_config("fm", epochs=1)
    _, trainer = _trainer(prepared, cfg, on_event=events.append)
    trainer.event_every_s = 0.0
    trainer.fit()
    steps = [e for e in events if e.kind == "step"]
    n = prepared.splits["train"].num_rows
    assert steps[-1].samples == n and steps[-1].step == steps[-1].steps == -(-n // 128)
    assert all(e.loss is not None and e.samples_per_s > 0 for e in steps)
    epoch = [e for e in events if e.kind == "epoch"][0]
    assert set(epoch.metrics) == {"train.loss", "valid.auc", "valid.gauc", "valid.logloss"}


def test_param_groups_embedding_decay_and_prefix_lr(prepared):
    cfg = model_config("deepfm", weight_decay=0.01, embedding_weight_decay=0.5,
                       lr_groups={"encoders.genres": {"lr": 0.1}, "interaction": 0.002})
    model = build_model(cfg, prepared)
    groups = param_groups(model, TrainSettings.from_config(cfg["train"]))
    by_param = {id(p): (g["lr"], g["weight_decay"]) for g in groups for p in g["params"]}
    for name, p in model.named_parameters():
        lr, wd = by_param[id(p)]
        is_emb = name.endswith("weight") and p.dim() == 2 and ("table" in name or "shared_tables" in name) \
            and "interaction" not in name
        if name.startswith("encoders.genres."):
            assert lr == 0.1
        elif name.startswith("interaction."):
            assert lr == 0.002 and wd == 0.01
        else:
            assert lr == 0.01
        if is_emb and not name.startswith("interaction."):
            assert wd == 0.5, name
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


def test_embedding_lr_applies_to_tables_and_prefix_groups_still_win(prepared):
    cfg = model_config("deepfm", lr=0.001, embedding_lr=0.01, lr_groups={"encoders.genres": 0.5})
    model = build_model(cfg, prepared)
    groups = param_groups(model, TrainSettings.from_config(cfg["train"]))
    by_param = {id(p): g["lr"] for g in groups for p in g["params"]}
    tables = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding)}
    assert tables, "the deepfm model has embedding tables"
    for name, p in model.named_parameters():
        if name.startswith("encoders.genres."):
            assert by_param[id(p)] == 0.5, name
        elif id(p) in tables:
            assert by_param[id(p)] == 0.01, name
        else:
            assert by_param[id(p)] == 0.001, name


def test_embedding_lr_must_be_positive():
    with pytest.raises(ConfigError, match="embedding_lr"):
        TrainSettings.from_config({"embedding_lr": 0})


def test_schedulers_follow_their_formulas():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = EpochScheduler(opt, {"name": "step", "step_size": 2, "gamma": 0.5}, epochs=6)
    lrs = [opt.param_groups[0]["lr"]]
    for e in range(1, 5):
        sched.end_epoch(e, None, True)
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25]
    opt = torch.optim.SGD([p], lr=1.0)
    sched = EpochScheduler(opt, {"name": "cosine", "warmup_epochs": 1}, epochs=4)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5)  # warm-up epoch 1 of 2
    sched.end_epoch(1, None, True)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5 * (1 + torch.cos(torch.tensor(torch.pi / 4)).item()))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = EpochScheduler(opt, {"name": "plateau", "patience": 1, "factor": 0.1}, epochs=9)
    for e, v in enumerate([0.5, 0.4, 0.4], 1):
        sched.end_epoch(e, v, True)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)
    with pytest.raises(UnknownNameError, match="cosin"):
        EpochScheduler(opt, "cosin", 3)


def test_settings_validation():
    with pytest.raises(UnknownNameError, match="epochz"):
        TrainSettings.from_config({"epochz": 3})
    with pytest.raises(ConfigError, match="train.lr"):
        TrainSettings.from_config({"lr": "fast"})
    with pytest.raises(UnknownNameError, match="adamx"):
        TrainSettings.from_config({"optimizer": "adamx"})
    s = TrainSettings.from_config({"epochs": "3", "deterministic": "true", "grad_clip": 1})
    assert s.epochs == 3 and s.deterministic is True and s.grad_clip == 1.0


def test_grad_clip_and_adamw_train(prepared):
    cfg = model_config("fm", epochs=1, optimizer="adamw", grad_clip=0.01, weight_decay=0.1)
    model, trainer = _trainer(prepared, cfg)
    assert isinstance(trainer.optimizer, torch.optim.AdamW)
    result = trainer.fit()
    assert result.epochs_run == 1 and torch.isfinite(torch.tensor(result.history[0]["train.loss"]))


def test_amp_runs_the_forward_in_bfloat16_and_keeps_float32_weights(prepared):
    """train.amp: matrix multiplies of the training forward run in bf16 (seen by a hook on
    the MLP's first Linear); parameters, their gradients and the loss stay float32; the
    model learns the synthetic signal as well as in float32; validation runs in float32."""
    reference_cfg = model_config({"name": "mlp", "params": {"hidden_units": [16]}}, epochs=6, patience=0, lr=0.05)
    reference, reference_trainer = _trainer(prepared, reference_cfg)
    reference_trainer.fit()
    reference_auc = evaluate(reference, prepared, "test", reference_cfg)["auc"]
    cfg = {**reference_cfg, "train": {**reference_cfg["train"], "amp": True}}
    model, trainer = _trainer(prepared, cfg)
    linear = next(m for m in model.modules() if isinstance(m, torch.nn.Linear))
    seen: dict[bool, set[torch.dtype]] = {True: set(), False: set()}
    linear.register_forward_hook(lambda mod, inp, out: seen[mod.training].add(out.dtype))
    result = trainer.fit()
    assert seen[True] == {torch.bfloat16} and seen[False] == {torch.float32}
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(torch.isfinite(torch.tensor(h["train.loss"])) for h in result.history)
    auc = evaluate(model, prepared, "test", cfg)["auc"]
    assert auc > 0.75 and abs(auc - reference_auc) < 0.03, (auc, reference_auc)


def test_without_amp_the_forward_stays_float32(prepared):
    cfg = model_config({"name": "mlp", "params": {"hidden_units": [16]}}, epochs=1, patience=0)
    model, trainer = _trainer(prepared, cfg)
    linear = next(m for m in model.modules() if isinstance(m, torch.nn.Linear))
    seen: set[torch.dtype] = set()
    linear.register_forward_hook(lambda mod, inp, out: seen.add(out.dtype))
    trainer.fit()
    assert seen == {torch.float32}


@pytest.mark.slow
def test_compile_trains_the_same_losses_through_a_compiled_graph(prepared):
    """train.compile: the loss is captured by torch.compile (dynamo records graphs) and the
    per-epoch training losses equal the eager run's (same seed, same batches)."""
    import torch._dynamo

    cfg = model_config({"name": "mlp", "params": {"hidden_units": [16]}}, epochs=2, patience=0)
    _, eager = _trainer(prepared, cfg)
    eager_losses = [h["train.loss"] for h in eager.fit().history]
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    _, compiled = _trainer(prepared, {**cfg, "train": {**cfg["train"], "compile": True}})
    compiled_losses = [h["train.loss"] for h in compiled.fit().history]
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 1
    assert compiled_losses == pytest.approx(eager_losses, rel=1e-4)


def test_block_batches_are_the_per_batch_gathers_in_order(prepared, monkeypatch):
    """Gathering a block of batches at once and slicing it hands out exactly the rows (and
    the order) of one gather per batch, including a short last batch and block edges."""
    import recforge.core.train as train_module

    monkeypatch.setattr(train_module, "GATHER_ROWS", 300)  # blocks of 2 batches of 128
    cfg = model_config("fm", batch_size=128)
    _, trainer = _trainer(prepared, cfg)
    table = prepared.splits["train"]
    gen = torch.Generator().manual_seed(5)
    got = list(trainer._batches(gen))
    order = torch.randperm(table.num_rows, generator=torch.Generator().manual_seed(5))
    expected = [table.batch(order[s:s + 128]) for s in range(0, table.num_rows, 128)]
    assert len(got) == len(expected) and table.num_rows % 128 != 0
    for (batch, n_local, n_global), want in zip(got, expected):
        assert n_local == n_global == want["label"].shape[0]
        assert batch.keys() == want.keys()
        assert all(torch.equal(batch[k], want[k]) for k in want)


def test_amp_auto_follows_native_bf16_support(prepared, monkeypatch):
    """train.amp: auto turns autocast on exactly where the device has native bf16; values
    other than true/false/auto are a one-line config error."""
    import recforge.core.train as train_module

    cfg = model_config({"name": "mlp", "params": {"hidden_units": [16]}}, epochs=1, patience=0, amp="auto")
    for native in (True, False):
        monkeypatch.setattr(train_module, "native_bf16", lambda device, native=native: native)
        model, trainer = _trainer(prepared, cfg)
        linear = next(m for m in model.modules() if isinstance(m, torch.nn.Linear))
        seen: set[torch.dtype] = set()
        linear.register_forward_hook(lambda mod, inp, out: seen.add(out.dtype) if mod.training else None)
        trainer.fit()
        assert seen == {torch.bfloat16 if native else torch.float32}
    assert TrainSettings.from_config({"amp": "AUTO"}).amp == "auto"
    assert TrainSettings.from_config({"amp": "true"}).amp is True
    with pytest.raises(ConfigError, match="train.amp"):
        TrainSettings.from_config({"amp": "sometimes"})
