"""Models trained by the real CLI once per session, and real uvicorn servers on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

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


@pytest.fixture(scope="session")
def serve_home(tmp_path_factory: pytest.TempPathFactory, datasets_dir: Path) -> Path:
    """A store with the quickstart model (1 epoch) registered as qs/1 in production."""
    home = tmp_path_factory.mktemp("serve-home")
    out = json.loads(run_cli(home, "quickstart", "--epochs", "1", "--json").stdout)
    run_cli(home, "models", "register", str(out["run_id"]), "qs")
    run_cli(home, "models", "promote", "qs", "1", "production")
    return home


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


@pytest.fixture(scope="session")
def server(serve_home: Path) -> Iterator[Server]:
    """The quickstart model served by name@production with a write token and fast polling."""
    srv = Server(serve_home, "qs@production", "--token-env", "H20_TOKEN", "--poll", "0.5", env={"H20_TOKEN": "s3cret"})
    yield srv
    srv.stop()
