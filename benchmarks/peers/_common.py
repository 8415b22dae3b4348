"""Shared by the peer runners: the peers' settings, the loop clock and the result line.

The runners execute with the peers' Python (``.peers-venv``), which has no recforge, so this
module depends only on the standard library and torch. Each runner prints exactly one JSON
object as its last stdout line (see :func:`emit`).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

#: The peers' settings (issue 5); every runner uses these.
CATEGORICAL = ["user_id", "item_id", "gender", "age_bucket", "occupation", "zip1", "release_year"]
MULTI = "genres"
MULTI_SEP = "|"
LABEL = "label"
EMBEDDING_DIM = 16
LR = 1e-3
BATCH_SIZE = 4096
PATIENCE = 2
SEED = 2024
MAX_EPOCHS = 50
#: command-line model name -> display name (FuxiCTR's spelling)
MODELS = {"lr": "LR", "fm": "FM", "deepfm": "DeepFM", "dcnv2": "DCNv2", "autoint": "AutoInt+", "xdeepfm": "xDeepFM"}


@dataclass
class Args:
    model: str
    tasks_dir: str
    epochs: int | None
    threads: int
    seed: int = SEED
    #: ``--max-epochs N``: the epoch cap under early stopping (the suite passes every library the same)
    epoch_cap: int = MAX_EPOCHS

    @property
    def fixed_epochs(self) -> bool:
        """``--epochs N`` trains exactly N epochs (throughput checks), no early stopping."""
        return self.epochs is not None

    @property
    def max_epochs(self) -> int:
        return self.epochs if self.epochs is not None else self.epoch_cap

    def csv(self, split: str) -> str:
        return os.path.join(self.tasks_dir, "ml100k-ctr", f"{split}.csv")


def parse_args(library: str) -> Args:
    """``--model M [--tasks-dir D] [--epochs N | --max-epochs N] [--threads T] [--seed S]``.

    The seed and the thread count are applied before returning.
    """
    parser = argparse.ArgumentParser(description=f"train one model with {library} on ml100k-ctr")
    parser.add_argument("--model", required=True, choices=sorted(MODELS))
    parser.add_argument("--tasks-dir", default=os.environ.get("RECFORGE_TASKS_DIR", "../shared/tasks"))
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--max-epochs", type=int, default=MAX_EPOCHS, help="epoch cap under early stopping")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=SEED)
    ns = parser.parse_args()
    args = Args(ns.model, ns.tasks_dir, ns.epochs, ns.threads, ns.seed, ns.max_epochs)
    if not os.path.exists(args.csv("train")):
        sys.exit(f"error: {args.csv('train')} not found; pass --tasks-dir pointing at the tasks folder")
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    return args


def peak_rss_mb() -> float:
    """This process's peak resident set size in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class LoopClock:
    """Training-loop time: epoch wall time minus what was spent evaluating inside the epoch.

    Libraries interleave validation with training in one ``fit`` call; wrapping their epoch
    function in :meth:`epoch` and their evaluation in :meth:`excluded` isolates the training
    steps (batching, forward, backward, optimiser) without touching their code.
    """

    train_s: float = 0.0
    samples: int = 0
    epochs: int = 0
    excluded_s: float = 0.0
    _depth: int = field(default=0, repr=False)

    _epoch_start: float = field(default=0.0, repr=False)
    _excluded_at_start: float = field(default=0.0, repr=False)

    def begin_epoch(self) -> None:
        """Mark the start of an epoch (for libraries that expose epoch callbacks)."""
        self._epoch_start, self._excluded_at_start = time.perf_counter(), self.excluded_s

    def end_epoch(self, rows: int) -> None:
        """Close the epoch: its wall time minus what :meth:`excluded` spans took inside it."""
        spent = time.perf_counter() - self._epoch_start
        self.train_s += spent - (self.excluded_s - self._excluded_at_start)
        self.samples += rows
        self.epochs += 1

    @contextmanager
    def epoch(self, rows: int) -> Iterator[None]:
        """``with clock.epoch(rows): library.train_one_epoch()``."""
        self.begin_epoch()
        try:
            yield
        finally:
            self.end_epoch(rows)

    @contextmanager
    def excluded(self) -> Iterator[None]:
        self._depth += 1
        start = time.perf_counter()
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                self.excluded_s += time.perf_counter() - start

    def wrap_excluded(self, fn: Any) -> Any:
        """``fn`` whose calls are not counted as training time."""
        def wrapped(*a: Any, **k: Any) -> Any:
            with self.excluded():
                return fn(*a, **k)
        return wrapped

    @property
    def samples_per_s(self) -> float | None:
        return self.samples / self.train_s if self.train_s > 0 else None


def emit(library: str, args: Args, *, clock: LoopClock | None, auc: float | None, wall_s: float | None,
         version: str | None, valid_auc: float | None = None, error: str | None = None, **extra: Any) -> None:
    """Print the one JSON result line.

    ``valid_auc`` is the valid AUC of the model that was tested (the best epoch where the
    library restores it), so libraries can be compared on valid as well as on test. Peers
    train in float32 (``precision``): none of them autocasts on CPU.
    """
    out = {
        "library": library, "model": MODELS[args.model],
        "samples_per_s": None if clock is None or clock.samples_per_s is None else round(clock.samples_per_s, 1),
        "auc": None if auc is None else round(float(auc), 5),
        "wall_s": None if wall_s is None else round(wall_s, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1), "version": version,
        "valid_auc": None if valid_auc is None else round(float(valid_auc), 5),
        "epochs": clock.epochs if clock else None, "epoch_cap": args.max_epochs, "seed": args.seed,
        "precision": "fp32", "threads": args.threads, "error": error, **extra,
    }
    if error is not None:
        out["samples_per_s"] = out["auc"] = out["wall_s"] = None
    print(json.dumps(out), flush=True)


def roc_auc(labels: Any, scores: Any) -> float:
    """Test AUC through scikit-learn, the same function for every peer."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))
