"""A store filled by the real CLI, once per test session, for the console and CLI tests.

Every artifact kind the CLI writes is there, made the way a user makes it:

* run 1 ``finished``: ``recforge train`` (ml100k-ctr LR, 2 epochs), then ``recforge analyze``
  (``analysis.json`` plus its PNGs) and ``recforge models register 1 ctr-lr``;
* run 2 ``failed``: trained while the checkpoint folder of its second epoch is blocked by a
  file (a real write fault after epoch 1's checkpoint and metric rows, which the trainer writes
  in that order, so the failed run has metrics to chart); the store lives under a folder named
  ``store[/data/x]``, so the error and every artifact path contain ``[/data/x]``, which Rich
  would read as a closing markup tag;
* run 3 ``interrupted``: Ctrl-C (a real ``KeyboardInterrupt`` in the training loop) after
  its first epoch was logged;
* study ``lr[/data/x]`` (a name Rich would read as markup too): ``recforge tune`` over ``train.lr`` (2 trials of 1 epoch, random
  sampler, no pruner), whose trials are runs 4 and 5.
"""

from __future__ import annotations

import _thread
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

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


def _interrupt_after_first_epoch(db: Path, run_id: int) -> threading.Thread:
    """Send Ctrl-C to the main thread once ``run_id`` has logged an epoch."""

    def watch() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            time.sleep(0.2)
            try:
                with Store.open(f"sqlite:///{db}") as store:
                    if store.get_run(run_id).status == "running" and store.latest_metrics(run_id):
                        _thread.interrupt_main()
                        return
            except Exception:  # noqa: BLE001 - the run is not created yet
                continue

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


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
    watcher = _interrupt_after_first_epoch(home / "recforge.db", 3)
    try:
        _cli(env, "train", config, "--set", "train.epochs=500", "--set", "train.patience=500", "--name", "stopped",
             *FAST)
    except KeyboardInterrupt:  # landed outside the trainer's own handler: the run is still marked below
        pass
    watcher.join(timeout=10)
    space = root / "space.yaml"
    space.write_text(json.dumps({"train.lr": {"log_uniform": [1.0e-3, 1.0e-1]}}))  # JSON is YAML
    _cli(env, "tune", config, "--space", str(space), "--trials", "2", "--sampler", "random", "--pruner", "none",
         "--seed", "1", "--study", "lr[/data/x]", "--set", "train.epochs=1", *FAST)
    real = RealStore(home, env, finished=1, failed=2, interrupted=3, model="ctr-lr", study="lr[/data/x]", trials=(4, 5))
    with real.open() as store:
        statuses = [store.get_run(r).status for r in real.run_ids]
    assert statuses == ["finished", "failed", "interrupted", "finished", "finished"], statuses
    return real
