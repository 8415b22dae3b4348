"""Several processes writing to one SQLite store at once never see "database is locked"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from recforge.core.store import Store

WRITER = """
import sys
from recforge.core.store import Store
store = Store.open()
for i in range(int(sys.argv[2])):
    run = store.create_run("concurrent", name=f"w{sys.argv[1]}-{i}", plugins={})
    store.start_run(run.id)
    store.log_params(run.id, {"i": i})
    store.log_metrics(run.id, {"m": float(i)}, step=i)
    store.heartbeat(run.id)
    store.finish_run(run.id)
store.close()
"""


def test_concurrent_writers_from_several_processes(tmp_path: Path) -> None:
    # the first open happens concurrently too: every writer races to migrate the empty file
    writers, per_writer = 3, 15
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(w), str(per_writer)], stderr=subprocess.PIPE, text=True)
        for w in range(writers)
    ]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * writers, errors
    with Store.open() as store:
        runs = store.list_runs(experiment="concurrent")
        assert len(runs) == writers * per_writer
        assert {r.status for r in runs} == {"finished"}
        assert sorted(r.id for r in runs) == list(range(1, writers * per_writer + 1))
