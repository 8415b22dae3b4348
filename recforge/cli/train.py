"""``recforge train|resume|eval|quickstart`` and ``recforge runs rerun``: the main job.

Every command calls the services of :mod:`recforge.core.experiment` and only renders: a table
of metrics (or one JSON document with ``--json``). An interrupted run (Ctrl-C) prints how to
resume it and exits with 130.

Scale-out: ``--nproc N`` re-launches the same command under ``torch.distributed.run``
(torchrun) with N processes on this machine; ``--nnodes N --node-rank R --rdzv-endpoint
HOST:PORT`` makes it one node of a multi-node job (c10d rendezvous); a command started by
torchrun itself (``torchrun --nproc_per_node=N -m recforge train CONFIG``) opens the store and
prints only on rank 0. ``train --ray-address ADDR --workers N`` runs the same trainer under Ray
Train instead (:mod:`recforge.ray_support`).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from recforge.cli._output import emit_json, emit_table
from recforge.core import distributed, paths
from recforge.core.config import apply_overrides, load_config, validate_config
from recforge.core.config_schema import ExperimentConfig
from recforge.core.errors import ConfigError
from recforge.core.experiment import (
    RunInterrupted,
    RunResult,
    evaluate_run,
    resume_experiment,
    run_experiment,
)
from recforge.core.launch import DEFAULT_RDZV_ID, TorchrunLaunch
from recforge.core.store import Store

T = TypeVar("T")

set_option = click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                          help="Override a config value by dotted key, e.g. train.epochs=3 (repeatable).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document last.")
device_option = click.option("--device", default="cpu", show_default=True, help="Torch device.")
nproc_option = click.option("--nproc", type=click.IntRange(min=1), default=1, show_default=True,
                            help="Processes on this machine (torchrun; gloo on CPU, nccl on CUDA).")


def nodes_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--nnodes/--node-rank/--rdzv-endpoint/--rdzv-id``: this command as one node of a
    multi-node torchrun job (c10d rendezvous; see :mod:`recforge.core.launch`)."""
    options = [
        click.option("--nnodes", type=int, default=1, show_default=True,
                     help="Machines in the job; every node runs this command (torchrun, c10d rendezvous)."),
        click.option("--node-rank", type=int, default=0, show_default=True, help="This machine's index, 0..nnodes-1."),
        click.option("--rdzv-endpoint", metavar="HOST:PORT", default=None,
                     help="Rendezvous address every node passes: the first node's host and a free port."),
        click.option("--rdzv-id", default=DEFAULT_RDZV_ID, show_default=True,
                     help="Job id every node passes (jobs with different ids never meet)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _launch(ctx: click.Context, launch: TorchrunLaunch, args: list[str]) -> bool:
    """Re-run this command under torchrun as ``launch`` describes; False when not needed.

    Exits with torchrun's status: 0 when every rank succeeded.
    """
    if not launch.needed or distributed.env_world_size() > 1:
        return False
    debug = ["--debug"] if (ctx.find_root().obj or {}).get("debug") else []
    code = subprocess.call(distributed.torchrun_command(launch.nproc, [*debug, *args], launch))
    raise click.exceptions.Exit(code)


def _render(result: RunResult, as_json: bool, title: str) -> None:
    if distributed.env_rank() != 0:  # torchrun: rank 0 speaks for the run
        return
    if as_json:
        emit_json(result.to_dict())
        return
    rows = [(split, name, f"{value:.4f}") for split, metrics in (("valid", result.valid), ("test", result.test))
            for name, value in metrics.items()]
    emit_table(f"{title}: run {result.run_id} (best epoch {result.best_epoch}, {result.seconds:.1f}s)",
               ["split", "metric", "value"], rows)
    click.echo(f"model saved to {result.model_dir}")


def _guarded(action: Callable[[Store], T]) -> T:
    """Run a training service; Ctrl-C ends the command with the resume hint and status 130.

    Under torchrun only rank 0 opens the store (the services give the others none). The
    training commands own their process, so they (not the library) opt in to the allocator
    tuning of :mod:`recforge.core.allocator` (``RECFORGE_KEEP_FREED_MEMORY=0`` opts out).
    """
    from recforge.core.allocator import keep_freed_memory

    keep_freed_memory()
    main = distributed.env_rank() == 0
    try:
        if not main:
            return action(None)  # type: ignore[arg-type]
        with Store.open() as store:
            return action(store)
    except RunInterrupted as stop:
        if main:
            click.echo(f"run {stop.run_id} interrupted; continue it with `recforge resume {stop.run_id}`", err=True)
        raise click.exceptions.Exit(130) from None


@click.command("train")
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False, path_type=Path))
@set_option
@click.option("--name", help="Run name (default: the config's name).")
@click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True,
              help="Train on this many seeds (the config's seed, +1, ...) and report mean +- std.")
@json_option
@device_option
@nproc_option
@nodes_options
@click.option("--ray-address", default=None, metavar="ADDR",
              help="Train under Ray Train on this cluster ('auto', 'ray://host:10001', or 'local' to start one).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Ray Train workers (processes; with --ray-address, default 1).")
@click.pass_context
def train(ctx: click.Context, config_path: Path, overrides: tuple[str, ...], name: str | None, seeds: int,
          as_json: bool, device: str, nproc: int, nnodes: int, node_rank: int, rdzv_endpoint: str | None,
          rdzv_id: str, ray_address: str | None, workers: int | None) -> None:
    """Train the model a CONFIG.yaml describes, evaluate it and store the run."""
    config = load_config(config_path, list(overrides))  # a bad config fails before any launch
    launch = TorchrunLaunch(nproc, nnodes, node_rank, rdzv_endpoint, rdzv_id)
    if ray_address is not None or workers is not None:
        _train_on_ray(config, ray_address, workers, launch, seeds, name, as_json, device)
        return
    if seeds > 1:
        _train_seeds(config_path, list(overrides), config, name, seeds, as_json, device, launch)
        return
    _launch(ctx, launch, ["train", str(config_path), *[a for o in overrides for a in ("--set", o)],
                          *(["--name", name] if name else []), *(["--json"] if as_json else []), "--device", device])
    result = _guarded(lambda store: run_experiment(config, store, name=name, progress=not as_json, device=device))
    _render(result, as_json, "trained")


def _train_on_ray(config: ExperimentConfig, ray_address: str | None, workers: int | None, launch: TorchrunLaunch,
                  seeds: int, name: str | None, as_json: bool, device: str) -> None:
    """``train --ray-address ADDR --workers N``: the same trainer as N Ray Train workers."""
    if ray_address is None:
        raise ConfigError("--workers needs --ray-address", fix="pass --ray-address local (or auto, or ray://HOST:10001)")
    if launch.needed:
        raise ConfigError("--ray-address cannot be combined with --nproc/--nnodes",
                          fix="let Ray place the processes with --workers N, or drop --ray-address for torchrun")
    if seeds > 1:
        raise ConfigError("--seeds cannot be combined with --ray-address", fix="run the seeds one after another")
    from recforge.ray_support.train import train_with_ray

    result = train_with_ray(config, ray_address, workers or 1, name=name, device=device)
    _render(result, as_json, "trained")


def _train_seeds(config_path: Path, overrides: list[str], config: ExperimentConfig, name: str | None, seeds: int,
                 as_json: bool, device: str, launch: TorchrunLaunch) -> None:
    """``train --seeds N``: one run per seed through ``load_config(path, overrides + seed)``."""
    from recforge.cli._seeds import render_seeds
    from recforge.tune.seeds import run_seeds, seed_list

    if launch.needed:
        raise ConfigError("--seeds cannot be combined with --nproc/--nnodes",
                          fix="run the seeds one after another, or drop --nproc/--nnodes")
    first = config.train.seed
    label = name or str(config.name or config_path.stem)

    def train_one(seed: int, run_name: str, store: Store) -> RunResult:
        seeded = load_config(config_path, [*overrides, f"train.seed={seed}"])
        return run_experiment(seeded, store, name=run_name, progress=not as_json, device=device)

    report = _guarded(lambda store: run_seeds(seed_list(first, seeds), lambda s, n: train_one(s, n, store), store, label))
    render_seeds(report, as_json)


@click.command("resume")
@click.argument("run_id", metavar="RUN", type=int)
@json_option
@device_option
@nproc_option
@nodes_options
@click.option("--force", is_flag=True,
              help="Take over a run still marked running whose process you know is gone (another host).")
@click.pass_context
def resume(ctx: click.Context, run_id: int, as_json: bool, device: str, nproc: int, nnodes: int, node_rank: int,
           rdzv_endpoint: str | None, rdzv_id: str, force: bool) -> None:
    """Continue an interrupted or failed RUN from its last checkpoint (any --nproc).

    A run still marked ``running`` is taken over at once when its process is known dead on
    this host (``kill -9``, out of memory); otherwise the error says when it becomes
    resumable, or pass ``--force``.
    """
    launch = TorchrunLaunch(nproc, nnodes, node_rank, rdzv_endpoint, rdzv_id)
    if distributed.env_rank() == 0 and launch.node_rank == 0:
        with Store.open() as store:
            store.release_dead_run(run_id, force=force)
    _launch(ctx, launch, ["resume", str(run_id), *(["--json"] if as_json else []), "--device", device])
    result = _guarded(lambda store: resume_experiment(run_id, store, progress=not as_json, device=device))
    _render(result, as_json, "resumed")


@click.command("eval")
@click.argument("model", metavar="MODEL")
@click.option("--split", default="test", show_default=True, help="Split to evaluate on.")
@json_option
@device_option
@nproc_option
@nodes_options
@click.pass_context
def eval_cmd(ctx: click.Context, model: str, split: str, as_json: bool, device: str, nproc: int, nnodes: int,
             node_rank: int, rdzv_endpoint: str | None, rdzv_id: str) -> None:
    """Evaluate MODEL (run id, name@stage, name/version or its run's folder) on a split of its data."""
    from recforge.services.model_refs import resolve_run_id

    launch = TorchrunLaunch(nproc, nnodes, node_rank, rdzv_endpoint, rdzv_id)
    run_id = resolve_run_id(model)
    _launch(ctx, launch, ["eval", str(run_id), "--split", split, *(["--json"] if as_json else []), "--device", device])
    if distributed.env_rank() != 0:
        evaluate_run(run_id, None, split=split, device=device)
        return
    with Store.open() as store:
        metrics = evaluate_run(run_id, store, split=split, device=device)
    if as_json:
        emit_json({"run_id": run_id, "split": split, split: metrics, "metrics": metrics})
        return
    emit_table(f"run {run_id} on {split}", ["metric", "value"], [(k, f"{v:.4f}") for k, v in metrics.items()])


@click.command("rerun")
@click.argument("run_id", metavar="RUN", type=int)
@set_option
@json_option
@device_option
def rerun(run_id: int, overrides: tuple[str, ...], as_json: bool, device: str) -> None:
    """Train a new run with RUN's config (optionally changed with --set)."""
    def action(store: Store) -> RunResult:
        old = store.get_run(run_id)
        config = apply_overrides(dict(old.config), list(overrides))
        validate_config(config)
        return run_experiment(config, store, name=f"{old.name} (rerun of {run_id})", progress=not as_json,
                              device=device)

    _render(_guarded(action), as_json, "rerun")


def quickstart_config(epochs: int = 3) -> dict[str, Any]:
    """Text-aware DeepFM on MovieLens-100k: the ml100k-ctr task files when present, else the
    ``movielens-100k`` recipe with a random 8:1:1 split."""
    task = paths.tasks_dir() / "ml100k-ctr"
    fields = [
        {"name": "label", "kind": "label"},
        {"name": "user_id", "kind": "categorical", "role": "user"},
        {"name": "item_id", "kind": "categorical", "role": "item"},
        {"name": "gender", "kind": "categorical", "role": "user"},
        {"name": "occupation", "kind": "categorical", "role": "user"},
        {"name": "genres", "kind": "multi_categorical", "role": "item", "sep": "|"},
        {"name": "item_text", "kind": "text", "role": "item", "template": "{title}. Genres: {genres}"},
    ]
    if (task / "train.csv").is_file():
        data: dict[str, Any] = {"recipe": "files", "params": {s: str(task / f"{s}.csv") for s in ("train", "valid", "test")},
                                "fields": fields}
    else:
        data = {"recipe": "movielens-100k", "split": {"method": "random", "ratios": [0.8, 0.1, 0.1], "seed": 2024}}
    return {
        "name": "quickstart-deepfm-text", "experiment": "quickstart", "data": data,
        "model": {"embedding_dim": 16, "interaction": "deepfm", "ranker": "ctr",
                  "fields": ["user_id", "item_id", "gender", "occupation", "genres", "item_text"],
                  "encoders": {"item_text": {"name": "text-lm"}}},
        "train": {"lr": 2e-3, "batch_size": 1024, "epochs": epochs, "patience": 1, "seed": 2024},
        "eval": {"metrics": ["auc", "gauc", "logloss"]},
    }


@click.command("quickstart")
@click.option("--epochs", default=3, show_default=True, help="Training epochs.")
@click.option("--user", default=None, help="User to recommend for (default: the first user).")
@json_option
def quickstart(epochs: int, user: str | None, as_json: bool) -> None:
    """Train a text-aware DeepFM (MiniLM over titles and genres) on MovieLens-100k,
    store the run, print test metrics and one user's top-10 with titles."""
    from recforge.core.recommend import Recommender
    from recforge.core.saved_model import load_model

    config = quickstart_config(epochs)
    result = _guarded(lambda store: run_experiment(config, store, progress=not as_json))
    rec = Recommender(load_model(result.model_dir))
    raw_user = user if user is not None else rec.data.featuremap.raw_of(rec.data.user_field, [2])[0]
    top = rec.recommend(raw_user, k=10, exclude_seen=True)
    if as_json:
        emit_json({**result.to_dict(), "user": raw_user, "recommendations": top})
        return
    _render(result, False, "quickstart")
    emit_table(f"top-10 for user {raw_user} (unseen items)", ["rank", "item", "title", "score"],
               [(r["rank"], r["item"], r.get("title", ""), f"{r['score']:.3f}") for r in top])
    click.echo(
        "\nnext:\n"
        f"  recforge recommend {result.run_id} --user {raw_user} -k 10 --exclude-seen\n"
        f"  recforge similar {result.run_id} --item {top[0]['item'] if top else 1} -k 10\n"
        "  recforge train examples/configs/ml100k-ctr-deepfm.yaml --set train.epochs=5\n"
        "  recforge runs list        recforge components list --kind interaction"
    )


COMMANDS = [train, resume, eval_cmd, quickstart]
