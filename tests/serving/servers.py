"""Real ``recforge`` CLI calls and ``recforge serve`` subprocesses on 127.0.0.1, for any test folder.

The serving tests build their session fixtures on these; the console's Serving view test
starts a server over its own CLI-made store with the same :class:`Server`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``recforge serve`` in a subprocess; ``url`` once /health answers."""

    def __init__(self, home: Path, model: str, *extra: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {**cli_env(home), **(env or {})}
        self.proc = subprocess.Popen([sys.executable, "-m", "recforge", "serve", model, "--port", str(self.port), *extra],
                                     env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.proc.stderr.read()[-2000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        self.stop()
        raise AssertionError("server did not start in 120 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
