"""How a recforge command is re-launched under ``torch.distributed.run`` (torchrun).

One machine: ``--nproc K`` starts K processes with a ``--standalone`` rendezvous (a free local
port, so several launches on one machine never collide). Several machines: every node runs the
same command with ``--nnodes N --node-rank R --rdzv-endpoint HOST:PORT``; the processes meet
through torch's c10d rendezvous (a TCP store that the node whose address is ``HOST`` serves),
so nothing besides torch is needed on the cluster.

The c10d rendezvous numbers the processes itself (sorted by host name and process id), so
global rank 0 -- the one process that writes the store -- may live on any node: the store
(``RECFORGE_DB``) and ``RECFORGE_HOME`` must be reachable from every node.
:class:`TorchrunLaunch` validates the flags before anything starts, so a typo fails with one
line on the node that made it instead of a rendezvous that times out.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass

from recforge.core.errors import ConfigError

#: ``host:port`` (name, IPv4, or bracketed IPv6) with a port in 1..65535
_ENDPOINT = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?):(?P<port>\d{1,5})$")
DEFAULT_RDZV_ID = "recforge"


def parse_endpoint(text: str) -> tuple[str, int]:
    """``(host, port)`` of a ``HOST:PORT`` rendezvous endpoint.

    Raises:
        ConfigError: not ``HOST:PORT``, or the port is outside 1..65535.
    """
    found = _ENDPOINT.match(text.strip())
    if found is None or not 1 <= int(found["port"]) <= 65535:
        raise ConfigError(f"--rdzv-endpoint {text!r} is not HOST:PORT",
                          fix="pass the first node's address and a free port, e.g. --rdzv-endpoint node0.example:29500")
    return found["host"], int(found["port"])


@dataclass(frozen=True)
class TorchrunLaunch:
    """The processes one node contributes to a torchrun job.

    Args:
        nproc: processes on this node (``--nproc_per_node``).
        nnodes: nodes in the job (1 = this machine only, standalone rendezvous).
        node_rank: this node's index, ``0 <= node_rank < nnodes``.
        rdzv_endpoint: ``HOST:PORT`` of the c10d rendezvous; required when ``nnodes > 1``.
        rdzv_id: the job id every node passes (nodes with different ids never meet).
    """

    nproc: int = 1
    nnodes: int = 1
    node_rank: int = 0
    rdzv_endpoint: str | None = None
    rdzv_id: str = DEFAULT_RDZV_ID

    def __post_init__(self) -> None:
        if self.nproc < 1:
            raise ConfigError(f"--nproc {self.nproc} must be at least 1", fix="pass --nproc 2 or more")
        if self.nnodes < 1:
            raise ConfigError(f"--nnodes {self.nnodes} must be at least 1", fix="pass the number of machines, e.g. --nnodes 2")
        if not 0 <= self.node_rank < self.nnodes:
            raise ConfigError(f"--node-rank {self.node_rank} is outside 0..{self.nnodes - 1} for --nnodes {self.nnodes}",
                              fix="number the nodes 0, 1, ... nnodes-1, one per machine")
        if self.nnodes > 1 and not self.rdzv_endpoint:
            raise ConfigError(f"--nnodes {self.nnodes} needs --rdzv-endpoint HOST:PORT",
                              fix="pass the same --rdzv-endpoint (the first node's address and a free port) on every node")
        if self.nnodes == 1 and (self.node_rank or self.rdzv_endpoint):
            raise ConfigError("--node-rank/--rdzv-endpoint were given without --nnodes",
                              fix="pass --nnodes N (the number of machines) as well")
        if self.rdzv_endpoint:
            parse_endpoint(self.rdzv_endpoint)
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", self.rdzv_id):
            raise ConfigError(f"--rdzv-id {self.rdzv_id!r} has characters other than letters, digits, '.', '_', '-'",
                              fix="pass a plain job name, e.g. --rdzv-id deepfm-1")

    @property
    def needed(self) -> bool:
        """Whether this launch starts more than the current process."""
        return self.nproc > 1 or self.nnodes > 1

    def rendezvous_args(self) -> list[str]:
        """torchrun's rendezvous flags: standalone for one node, c10d for several."""
        if self.nnodes == 1:
            return ["--standalone", "--nnodes=1"]
        return [f"--nnodes={self.nnodes}", f"--node_rank={self.node_rank}", "--rdzv_backend=c10d",
                f"--rdzv_endpoint={self.rdzv_endpoint}", f"--rdzv_id={self.rdzv_id}"]

    def command(self, args: list[str]) -> list[str]:
        """``python -m torch.distributed.run ... -m recforge ARGS`` for this node."""
        return [sys.executable, "-m", "torch.distributed.run", *self.rendezvous_args(),
                f"--nproc_per_node={self.nproc}", "-m", "recforge", *args]


def run_local_nodes(args: list[str], nnodes: int, endpoint: str, *, nproc: int = 1, env: dict[str, str] | None = None,
                    timeout: float = 1800) -> list[subprocess.CompletedProcess[str]]:
    """Run ``recforge ARGS`` as ``nnodes`` nodes of one job on this machine, all at once.

    Each "node" is its own ``python -m recforge ARGS --nnodes N --node-rank R --rdzv-endpoint
    ENDPOINT`` launch, exactly what every machine of a real cluster runs; they meet through
    the same c10d rendezvous (``ENDPOINT`` on 127.0.0.1). How the tests and the benchmark
    check a multi-node job without a cluster.

    Returns:
        Each node's finished process (stdout/stderr captured), in node-rank order.
    """
    procs = [subprocess.Popen([sys.executable, "-m", "recforge", *args, "--nnodes", str(nnodes), "--node-rank", str(r),
                               "--rdzv-endpoint", endpoint, "--nproc", str(nproc)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for r in range(nnodes)]
    done = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=timeout)
            done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return done
