"""The one-process reference run the two-node and Ray tests compare against (trained once)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fm_reference import REPO, train_args


@pytest.fixture(scope="session")
def one_process_fm(tasks_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The short FM run trained by one process in its own home: its ``--json`` document."""
    home = tmp_path_factory.mktemp("one-process-home")
    env = {**os.environ, "RECFORGE_HOME": str(home), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "recforge", *train_args()], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout[proc.stdout.index("{"):])
