"""Ctrl-C at every stage of ``recforge train`` and a full disk while writing a checkpoint.

Each stage is simulated by patching the function that runs it to raise ``KeyboardInterrupt``
(or ``OSError(ENOSPC)``) through the real CLI entry point. Before the run exists (data
preparation, model build) nothing may be left in the store; afterwards the run must end
``interrupted`` (Ctrl-C) or ``failed`` (disk full) with the earlier checkpoints intact, and
``recforge resume`` must finish it with the metrics of an uninterrupted run.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import pytest
from reliability_kit import Workspace, error_line, final_line, run_cli, store_snapshot

EPOCHS = 3


def _config(ws: Workspace) -> str:
    return ws.changed("train", epochs=EPOCHS)


def _ctrl_c(*args: Any, **kwargs: Any) -> Any:
    raise KeyboardInterrupt


def _last_json(out: str) -> dict[str, Any]:
    return json.loads(out[out.rindex("\n{") + 1:] if not out.startswith("{") else out)


def _reference(ws: Workspace) -> dict[str, float]:
    code, out, err = run_cli("train", _config(ws), "--json")
    assert code == 0, err
    return _last_json(out)["test"]


@pytest.mark.parametrize("stage, target", [
    ("data preparation", "recforge.core.data.prepare_data"),
    ("model build", "recforge.core.experiment.build_model"),
])
def test_ctrl_c_before_the_run_exists_leaves_no_row(stage: str, target: str, workspace: Workspace,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    before = store_snapshot(workspace.home)
    monkeypatch.setattr(target, _ctrl_c)
    code, out, err = run_cli("train", _config(workspace))
    assert code == 130 and "Traceback" not in err + out
    assert error_line(err) == "error: aborted (Ctrl-C or a declined prompt); run the command again to redo it"
    assert store_snapshot(workspace.home) == before, f"Ctrl-C during {stage} left a run row"


def _epoch_breaker(stop_at: int) -> Any:
    from recforge.core.train import Trainer

    real = Trainer._epoch

    def epoch(self: Trainer, number: int, *args: Any) -> Any:
        if number == stop_at:
            raise KeyboardInterrupt
        return real(self, number, *args)

    return epoch


def _evaluate_breaker(split: str) -> Any:
    from recforge.core import experiment

    real = experiment.evaluate

    def evaluate(model: Any, prepared: Any, which: str, *args: Any, **kwargs: Any) -> Any:
        if which == split:
            raise KeyboardInterrupt
        return real(model, prepared, which, *args, **kwargs)

    return evaluate


STAGES = {
    "epoch 1": ("recforge.core.train.Trainer._epoch", lambda: _epoch_breaker(1), 0),
    "epoch 2": ("recforge.core.train.Trainer._epoch", lambda: _epoch_breaker(2), 1),
    "epoch 3": ("recforge.core.train.Trainer._epoch", lambda: _epoch_breaker(3), 2),
    "validation": ("recforge.core.experiment.evaluate", lambda: _evaluate_breaker("valid"), 0),
    "test evaluation": ("recforge.core.experiment.evaluate", lambda: _evaluate_breaker("test"), EPOCHS),
    "saving the model": ("recforge.core.experiment.save_model", lambda: _ctrl_c, EPOCHS),
    "writing a checkpoint": ("recforge.core.checkpointing.write_checkpoint", lambda: _ctrl_c, 0),
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_ctrl_c_during_training_ends_interrupted_and_resumes(stage: str, workspace: Workspace,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    reference = _reference(workspace)
    target, make, checkpoints = STAGES[stage]
    with monkeypatch.context() as patch:
        patch.setattr(target, make())
        code, out, err = run_cli("train", _config(workspace))
    run_id, status, error = _new_run_after(workspace, reference_runs=2)
    assert code == 130 and "Traceback" not in err
    assert final_line(err) == f"run {run_id} interrupted; continue it with `recforge resume {run_id}`"
    assert status == "interrupted" and error is None
    folder = workspace.home / "artifacts" / "runs" / str(run_id) / "checkpoints"
    done = sorted(p.name for p in folder.glob("epoch-*") if (p / "state.json").is_file()) if folder.is_dir() else []
    assert len(done) == min(checkpoints, 2), done  # the trainer keeps the newest two
    assert not list(folder.glob("*.tmp")) if folder.is_dir() else True
    code, out, err = run_cli("resume", str(run_id), "--json")
    assert code == 0, err
    assert _last_json(out)["test"] == pytest.approx(reference, rel=1e-6)


def _new_run_after(ws: Workspace, reference_runs: int) -> tuple[int, str, str]:
    runs = store_snapshot(ws.home)[0]
    assert len(runs) == reference_runs + 1, runs
    return runs[-1]


def test_disk_full_while_writing_a_checkpoint(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC in epoch 2's checkpoint: the run fails with a clear message, epoch 1 stays usable."""
    from recforge.core import saved_model

    reference = _reference(workspace)
    real = saved_model.save_tensors

    def full_disk(tensors: Any, path: Path, *args: Any, **kwargs: Any) -> None:
        if "epoch-0002" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(tensors, path, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(saved_model, "save_tensors", full_disk)
        code, out, err = run_cli("train", _config(workspace))
    run_id, status, error = _new_run_after(workspace, reference_runs=2)
    line = error_line(err)
    assert code == 1, err
    assert "cannot write the checkpoint" in line and "No space left on device" in line
    assert "free disk space" in line and "recforge resume" in line
    assert status == "failed" and "No space left on device" in error
    folder = workspace.home / "artifacts" / "runs" / str(run_id) / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == ["epoch-0001"]  # no half-written epoch 2
    assert (folder / "epoch-0001" / "state.json").is_file()
    code, out, err = run_cli("resume", str(run_id), "--json")  # space freed: continue from epoch 1
    assert code == 0, err
    assert _last_json(out)["test"] == pytest.approx(reference, rel=1e-6)


def test_disk_full_while_saving_the_model(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from recforge.core import saved_model

    real = saved_model.save_tensors

    def full_disk(tensors: Any, path: Path, *args: Any, **kwargs: Any) -> None:
        if "model.tmp" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(tensors, path, *args, **kwargs)

    monkeypatch.setattr(saved_model, "save_tensors", full_disk)
    code, _out, err = run_cli("train", _config(workspace))
    run_id, status, error = _new_run_after(workspace, reference_runs=1)
    assert code == 1 and "cannot write the saved model" in error_line(err), err
    assert status == "failed" and "No space left on device" in error
    run_dir = workspace.home / "artifacts" / "runs" / str(run_id)
    assert not (run_dir / "model.tmp").exists() and not (run_dir / "model").exists()
