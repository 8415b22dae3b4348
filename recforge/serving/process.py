"""``recforge serve`` in a child process on 127.0.0.1, ready once ``/health`` answers.

One place for what the serving benchmark, the serving and console tests and the docs'
screenshot script all need: a free loopback port, the server started from this interpreter, a
bounded wait for readiness that reports the server's own error if it exits, and a stop that
never hangs. Needs the ``serve`` extra (httpx).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Mapping


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServeProcess:
    """``recforge serve MODEL --port P *extra`` with ``env``; ``url`` answers once constructed.

    Raises ``RuntimeError`` with the tail of the server's stderr when it exits before it is
    ready, or after ``timeout_s`` without a healthy answer (the process is stopped first).
    Usable as a context manager.
    """

    def __init__(self, model: str, *extra: str, env: Mapping[str, str] | None = None,
                 port: int | None = None, timeout_s: float = 120.0) -> None:
        import httpx

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "recforge", "serve", model, "--port", str(self.port), *extra],
            env=dict(env) if env is not None else None, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"recforge serve exited: {self.proc.stderr.read()[-2000:]}")  # type: ignore[union-attr]
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"recforge serve did not answer /health within {timeout_s:.0f} s")

    def stop(self) -> None:
        """Terminate, then kill if it does not end within 15 s."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
