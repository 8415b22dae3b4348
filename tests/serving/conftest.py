"""Models trained by the real CLI once per session, and real uvicorn servers on 127.0.0.1."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

sys.path.insert(0, str(Path(__file__).parent))
from servers import REPO, Server, cli_env, free_port, run_cli  # noqa: F401 - the tests import them from here


@pytest.fixture(scope="session")
def serve_home(tmp_path_factory: pytest.TempPathFactory, datasets_dir: Path) -> Path:
    """A store with the quickstart model (1 epoch) registered as qs/1 in production."""
    home = tmp_path_factory.mktemp("serve-home")
    out = json.loads(run_cli(home, "quickstart", "--epochs", "1", "--json").stdout)
    run_cli(home, "models", "register", str(out["run_id"]), "qs")
    run_cli(home, "models", "promote", "qs", "1", "production")
    return home


@pytest.fixture(scope="session")
def server(serve_home: Path) -> Iterator[Server]:
    """The quickstart model served by name@production with a write token and fast polling."""
    srv = Server(serve_home, "qs@production", "--token-env", "H20_TOKEN", "--poll", "0.5", env={"H20_TOKEN": "s3cret"})
    yield srv
    srv.stop()
