"""A store filled by the real CLI, once per test session, for the console and CLI tests.

Every artifact kind the CLI writes is there, made the way a user makes it:

* run 1 ``finished``: ``recforge train`` (ml100k-ctr LR, 2 epochs), then ``recforge analyze``
  (``analysis.json`` plus its PNGs) and ``recforge models register 1 ctr-lr``;
* run 2 ``failed``: trained while the checkpoint folder of its second epoch is blocked by a
  file (a real write fault after epoch 1's checkpoint and metric rows, which the trainer writes
  in that order, so the failed run has metrics to chart); the store lives under a folder named
  ``store[/data/x]``, so the error and every artifact path contain ``[/data/x]``, which Rich
  would read as a closing markup tag;
* run 3 ``interrupted``: Ctrl-C (a real SIGINT, raised in the training loop right after its
  first epoch's metric rows are stored, so the run looks the same on every machine);
* study ``lr[/data/x]`` (a name Rich would read as markup too): ``recforge tune`` over ``train.lr`` (2 trials of 1 epoch, random
  sampler, no pruner), whose trials are runs 4 and 5.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest.mock import patch

from click.testing import CliRunner

from recforge.cli import cli
from recforge.core.store import Store

CONFIG = Path(__file__).resolve().parents[2] / "examples" / "configs" / "ml100k-ctr-lr.yaml"
FAST = ["--set", "train.threads=1", "--set", "train.batch_size=4096"]


@dataclass(frozen=True)
class RealStore:
    """Where the store is and which run is which."""

    home: Path
    env: dict[str, str]
    finished: int
    failed: int
    interrupted: int
    model: str
    study: str
    trials: tuple[int, ...]  # run ids of the study's trials

    @property
    def run_ids(self) -> list[int]:
        return [self.finished, self.failed, self.interrupted, *self.trials]

    def open(self) -> Store:
        return Store.open(f"sqlite:///{self.home / 'recforge.db'}")


def _cli(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code in (0, 1, 130), result.output
    return result.output


@contextmanager
def _ctrl_c_after_first_epoch(run_id: int) -> Iterator[None]:
    """A real SIGINT to this process right after ``run_id`` stored its epoch-1 metric rows.

    Sent from the main thread inside the trainer's own call, so Python raises the
    ``KeyboardInterrupt`` at that exact point on every machine (a watcher thread polling the
    store raced the training loop and, on a loaded machine, missed it altogether).
    """
    log_metrics = Store.log_metrics

    def log_then_interrupt(self: Store, run: int, metrics: Mapping[str, float], step: int = 0) -> None:
        log_metrics(self, run, metrics, step)
        if run == run_id and step == 1:
            signal.raise_signal(signal.SIGINT)

    # Python's own Ctrl-C handler, as in a terminal (a shell starts background jobs with SIGINT ignored)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with patch.object(Store, "log_metrics", log_then_interrupt):
            yield
    finally:
        signal.signal(signal.SIGINT, previous)


def build_real_store(root: Path, tasks_dir: Path, datasets_dir: Path) -> RealStore:
    """Fill a fresh store under ``root/store[/data/x]`` with the real CLI (about 20 s)."""
    home = root / "store[" / "data" / "x]"
    home.mkdir(parents=True)
    env = {"RECFORGE_HOME": str(home), "RECFORGE_TASKS_DIR": str(tasks_dir),
           "RECFORGE_DATA_DIR": str(datasets_dir)}
    config = str(CONFIG)
    _cli(env, "train", config, "--set", "train.epochs=2", *FAST)
    _cli(env, "analyze", "1", "--repeats", "1", "--max-rows", "2000", "--sample", "12")
    _cli(env, "models", "register", "1", "ctr-lr")
    blocked = home / "artifacts" / "runs" / "2" / "checkpoints" / "epoch-0002"
    blocked.parent.mkdir(parents=True)
    blocked.write_text("a file where the checkpoint folder of epoch 2 goes\n")
    _cli(env, "train", config, "--set", "train.epochs=2", "--name", "blocked", *FAST)
    with _ctrl_c_after_first_epoch(3):
        _cli(env, "train", config, "--set", "train.epochs=3", "--name", "stopped", *FAST)
    space = root / "space.yaml"
    space.write_text(json.dumps({"train.lr": {"log_uniform": [1.0e-3, 1.0e-1]}}))  # JSON is YAML
    _cli(env, "tune", config, "--space", str(space), "--trials", "2", "--sampler", "random", "--pruner", "none",
         "--seed", "1", "--study", "lr[/data/x]", "--set", "train.epochs=1", *FAST)
    real = RealStore(home, env, finished=1, failed=2, interrupted=3, model="ctr-lr", study="lr[/data/x]", trials=(4, 5))
    with real.open() as store:
        statuses = [store.get_run(r).status for r in real.run_ids]
    assert statuses == ["finished", "failed", "interrupted", "finished", "finished"], statuses
    return real
