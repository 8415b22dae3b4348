"""Run ``recforge ARGS`` in this process, freezing it at one named stage (not a test file).

``python pause_at.py STAGE READY_FILE ARGS...``: when the process reaches STAGE it creates
READY_FILE and sleeps, so a test can kill it with a real SIGKILL exactly there. The stages
wrap the real functions (nothing is faked: everything before the freeze really happened):

* ``data-prep``: while the data is read (the first ``read_table``);
* ``mid-epoch``: before the second batch of epoch 2;
* ``checkpoint-write``: the epoch-2 checkpoint half written (weights in ``epoch-0002.tmp``,
  no ``state.json``);
* ``metrics-write``: inside the open transaction that inserts epoch 2's metric rows;
* ``final-save``: the saved model half written (weights in ``model.tmp``) after the final
  metrics were logged.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

STAGE, READY = sys.argv[1], Path(sys.argv[2])


def freeze() -> None:
    READY.write_text("ready")
    time.sleep(600)


def install() -> None:
    from recforge.core import saved_model, train
    from recforge.core.store import repository

    if STAGE == "data-prep":
        import recforge.plugins.datasets.files  # noqa: F401 - holds its own reference
        from recforge.core.data import readers

        original = readers.read_table

        def read_table(*args: Any, **kwargs: Any) -> Any:
            frame = original(*args, **kwargs)
            freeze()
            return frame

        for module in list(sys.modules.values()):
            if getattr(module, "read_table", None) is original:
                module.read_table = read_table  # type: ignore[attr-defined]
    elif STAGE == "mid-epoch":
        original_to_device = train.Trainer._to_device
        calls = {"n": 0}

        def to_device(self: Any, batch: Any) -> Any:
            calls["n"] += 1
            steps = self.train.num_batches(self.s.batch_size)
            if calls["n"] == steps + 2:  # epoch 2, second batch
                freeze()
            return original_to_device(self, batch)

        train.Trainer._to_device = to_device  # type: ignore[method-assign]
    elif STAGE in ("checkpoint-write", "final-save"):
        original_save = saved_model.save_tensors
        folder = "epoch-0002.tmp" if STAGE == "checkpoint-write" else "model.tmp"

        def save_tensors(tensors: Any, path: Path, metadata: Any = None) -> None:
            original_save(tensors, path, metadata)
            if path.parent.name == folder:
                freeze()

        saved_model.save_tensors = save_tensors
    elif STAGE == "metrics-write":
        original_rows = repository.metric_rows

        class Frozen(list):
            """Rows whose insertion freezes the process inside the open transaction."""

        def metric_rows(run_id: int, metrics: Any, step: int) -> Any:
            rows = original_rows(run_id, metrics, step)
            return Frozen(rows) if step == 2 and "train.loss" in metrics else rows

        original_add_all = repository.Session.add_all

        def add_all(self: Any, rows: Any) -> None:
            original_add_all(self, rows)
            if isinstance(rows, Frozen):
                self.flush()  # the rows are in the database's open transaction
                freeze()

        repository.metric_rows = metric_rows
        repository.Session.add_all = add_all  # type: ignore[method-assign]
    else:
        raise SystemExit(f"unknown stage {STAGE}")


if __name__ == "__main__":
    import recforge.cli
    import recforge.core.experiment  # noqa: F401

    install()
    sys.exit(recforge.cli.main(sys.argv[3:]))
