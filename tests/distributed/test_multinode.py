"""Two "nodes" on this machine: two `recforge train --nnodes 2` launches meeting through one
c10d rendezvous on 127.0.0.1, exactly the commands two machines of a cluster would run.

Checks: one JSON result (rank 0 speaks for the run), exactly one run row and one set of
checkpoints, the test metrics the nodes gathered equal a single process evaluating the same
saved model, and test AUC within 0.003 of a one-process run of the same config.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fm_reference import AUC_BAND, train_args

from recforge.core.launch import run_local_nodes
from recforge.serving.process import free_port


@pytest.mark.slow
def test_two_nodes_train_like_one_process_and_write_once(one_process_fm: dict, recforge_env: Path) -> None:
    from recforge.core.experiment import evaluate_run
    from recforge.core.store import Store

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    nodes = run_local_nodes(train_args(), 2, f"127.0.0.1:{free_port()}", env=env, timeout=900)
    for node in nodes:
        assert node.returncode == 0, node.stderr[-3000:]
    printed = [node.stdout for node in nodes if node.stdout.strip()]
    assert len(printed) == 1  # only global rank 0 prints, whichever node the rendezvous gave it
    two = json.loads(printed[0][printed[0].index("{"):])
    assert two["status"] == "finished" and two["epochs_run"] == 2

    with Store.open() as store:
        assert [(r.id, r.status) for r in store.list_runs()] == [(two["run_id"], "finished")]
        run_dir = Path(store.run_dir(two["run_id"]))
        assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["epoch-0001", "epoch-0002"]
        assert sorted({m.step for m in store.get_metrics(two["run_id"]) if m.key == "train.loss"}) == [1, 2]
        single = evaluate_run(two["run_id"], store, split="test")  # one process, same saved model
        assert single.keys() == two["test"].keys()
        for key, value in single.items():
            assert two["test"][key] == pytest.approx(value, rel=0, abs=1e-6), key
    assert abs(one_process_fm["test"]["auc"] - two["test"]["auc"]) <= AUC_BAND
    assert abs(one_process_fm["valid"]["auc"] - two["valid"]["auc"]) <= AUC_BAND
