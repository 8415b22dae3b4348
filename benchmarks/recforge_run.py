"""recforge's side of the ``train`` suite: one experiment through the real service, one JSON line.

    python benchmarks/recforge_run.py --model deepfm [--epochs N | --max-epochs N] [--seed S]
        [--precision config|fp32|bf16] [--threads 2] [--set train.amp=true]

Runs ``recforge.core.experiment.run_experiment`` on ``examples/configs/ml100k-ctr-MODEL.yaml``
exactly as ``recforge train`` does (fresh ``RECFORGE_HOME`` store, model saved), in its own
process so peak RSS is this run's. samples/s is the trainer's own measurement: the
``samples_per_s`` of each epoch's last ``step`` event covers that epoch's training steps only
(validation runs after it), so the total is samples / sum of those epoch times.

``--precision fp32`` trains the config with ``train.amp=false``, ``bf16`` with ``train.amp=true``
(bf16 autocast of the matrix products; weights, optimiser and validation stay float32);
``config`` keeps the config's own ``train.amp``. The result line says which one ran.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MODELS = {"lr": "LR", "fm": "FM", "deepfm": "DeepFM", "dcnv2": "DCNv2", "autoint": "AutoInt+", "xdeepfm": "xDeepFM"}
#: --precision -> the train.amp override it sets (None: the config's own)
PRECISIONS: dict[str, str | None] = {"config": None, "fp32": "false", "bf16": "true"}


class EpochRates:
    """Collects the trainer's per-epoch training-loop rate from its ``step`` events."""

    def __init__(self) -> None:
        self.last: dict[int, tuple[int, float]] = {}

    def __call__(self, event: Any) -> None:
        if event.kind == "step" and event.samples_per_s:
            self.last[event.epoch] = (int(event.samples), float(event.samples_per_s))

    @property
    def samples(self) -> int:
        return sum(n for n, _ in self.last.values())

    @property
    def seconds(self) -> float:
        return sum(n / rate for n, rate in self.last.values())

    @property
    def samples_per_s(self) -> float | None:
        return self.samples / self.seconds if self.seconds > 0 else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="one recforge experiment on ml100k-ctr, one JSON line")
    parser.add_argument("--model", required=True, choices=sorted(MODELS))
    parser.add_argument("--config", default=None, help="default: examples/configs/ml100k-ctr-MODEL.yaml")
    parser.add_argument("--epochs", type=int, default=None, help="exactly N epochs, no early stopping")
    parser.add_argument("--max-epochs", type=int, default=None,
                        help="epoch cap under the config's early stopping (default: the config's train.epochs)")
    parser.add_argument("--seed", type=int, default=None, help="train.seed (default: the config's)")
    parser.add_argument("--precision", choices=sorted(PRECISIONS), default="config",
                        help="fp32 (train.amp=false), bf16 (train.amp=true) or the config's train.amp")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tasks-dir", default=None, help="RECFORGE_TASKS_DIR for the config (default: ../shared/tasks)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config override key=value")
    args = parser.parse_args(argv)

    home = tempfile.mkdtemp(prefix="recforge-bench-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ["RECFORGE_HOME"] = home
    if args.tasks_dir:
        os.environ["RECFORGE_TASKS_DIR"] = args.tasks_dir
    os.environ.setdefault("RECFORGE_TASKS_DIR", str(ROOT.parent / "shared" / "tasks"))
    import torch

    torch.set_num_threads(args.threads)
    from recforge.core.allocator import keep_freed_memory

    keep_freed_memory()  # as `recforge train` does: the library no longer tunes malloc by itself
    from recforge.core.config import load_config
    from recforge.core.experiment import run_experiment
    from recforge.core.store import Store

    _preload()

    config_path = Path(args.config) if args.config else ROOT / "examples" / "configs" / f"ml100k-ctr-{args.model}.yaml"
    overrides = [f"train.threads={args.threads}", *args.overrides]
    if args.epochs is not None:
        overrides += [f"train.epochs={args.epochs}", "train.patience=0"]
    elif args.max_epochs is not None:
        overrides.append(f"train.epochs={args.max_epochs}")
    if args.seed is not None:
        overrides.append(f"train.seed={args.seed}")
    if PRECISIONS[args.precision] is not None:
        overrides.append(f"train.amp={PRECISIONS[args.precision]}")

    start = time.perf_counter()
    config = load_config(config_path, overrides)
    rates = EpochRates()
    result = run_experiment(config, Store.open(), on_event=rates, progress=False)
    wall = time.perf_counter() - start
    out = {
        "library": "recforge", "model": MODELS[args.model],
        "samples_per_s": None if rates.samples_per_s is None else round(rates.samples_per_s, 1),
        "auc": result.test.get("auc"), "wall_s": round(wall, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "valid_auc": result.valid.get("auc"), "epochs": result.epochs_run, "best_epoch": result.best_epoch,
        "epoch_cap": config.train.epochs, "seed": config.train.seed, "precision": precision_of(config.train.amp),
        "threads": torch.get_num_threads(), "version": _version(),
    }
    print(json.dumps(out), flush=True)


def precision_of(amp: bool | str) -> str:
    """What the trainer ran in: ``train.amp`` resolved as the trainer resolves it on CPU."""
    import torch

    from recforge.core.train import native_bf16

    on = native_bf16(torch.device("cpu")) if amp == "auto" else bool(amp)
    return "bf16 autocast" if on else "fp32"


def _preload() -> None:
    """Import the modules the experiment imports lazily, before the clock starts.

    The peers' runners import their library before timing (``imports excluded`` in
    docs/benchmarks.md); recforge defers some imports to first use (metrics pulls in scipy,
    the model and data layers their plugins), so without this its wall time alone would
    include ~1 s of imports.
    """
    import recforge.core.data.prepare
    import recforge.core.metrics
    import recforge.core.model
    import recforge.core.saved_model
    import recforge.core.train  # noqa: F401
    from recforge.core.registry import get_registry

    get_registry()


def _version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("recforge")
    except metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main())
