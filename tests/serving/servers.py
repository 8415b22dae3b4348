"""Real ``recforge`` CLI calls and ``recforge serve`` subprocesses on 127.0.0.1, for any test folder.

The serving tests build their session fixtures on these; the console's Serving view test
starts a server over its own CLI-made store with the same :class:`Server`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from recforge.serving.process import ServeProcess, free_port

__all__ = ["Server", "cli_env", "free_port", "run_cli"]

REPO = Path(__file__).resolve().parents[2]


def cli_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"RECFORGE_HOME": str(home), "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
                "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    return env


def run_cli(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "recforge", *args], env=cli_env(home), capture_output=True,
                          text=True, timeout=600, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"recforge {' '.join(args)} failed: {proc.stderr[-2000:]}")
    return proc


class Server(ServeProcess):
    """``recforge serve`` over the store in ``home`` (``url`` once /health answers)."""

    def __init__(self, home: Path, model: str, *extra: str, env: dict[str, str] | None = None) -> None:
        super().__init__(model, *extra, env={**cli_env(home), **(env or {})})
