"""Launch flags for multi-node torchrun and Ray: the commands they build and the one-line
errors for bad values (checked before anything starts, on the node that made the typo)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "cli"))
from test_cli_train import invoke, write_config

from recforge.core import distributed
from recforge.core.errors import ConfigError
from recforge.core.launch import TorchrunLaunch, parse_endpoint


def test_one_node_uses_a_standalone_rendezvous() -> None:
    launch = TorchrunLaunch(nproc=2)
    cmd = launch.command(["train", "c.yaml"])
    assert cmd[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--standalone" in cmd and "--nproc_per_node=2" in cmd and not any("rdzv" in a for a in cmd)
    assert cmd[-4:] == ["-m", "recforge", "train", "c.yaml"]
    assert launch.needed and not TorchrunLaunch().needed
    assert distributed.torchrun_command(2, ["x"]) == TorchrunLaunch(nproc=2).command(["x"])


def test_several_nodes_meet_through_c10d() -> None:
    launch = TorchrunLaunch(nproc=4, nnodes=2, node_rank=1, rdzv_endpoint="node0.example:29500", rdzv_id="deepfm-1")
    cmd = launch.command(["train", "c.yaml", "--json"])
    assert "--standalone" not in cmd
    for flag in ("--nnodes=2", "--node_rank=1", "--rdzv_backend=c10d", "--rdzv_endpoint=node0.example:29500",
                 "--rdzv_id=deepfm-1", "--nproc_per_node=4"):
        assert flag in cmd
    assert cmd[-5:] == ["-m", "recforge", "train", "c.yaml", "--json"]
    assert TorchrunLaunch(nnodes=2, rdzv_endpoint="10.0.0.1:29400").needed  # one process per node still relaunches


@pytest.mark.parametrize("endpoint", ["127.0.0.1:29500", "node0:1", "gpu-07.cluster.local:65535", "[::1]:29500"])
def test_well_formed_endpoints_parse(endpoint: str) -> None:
    host, port = parse_endpoint(endpoint)
    assert endpoint == f"{host}:{port}"


@pytest.mark.parametrize("endpoint", ["127.0.0.1", "node0:", ":29500", "node0:0", "node0:70000", "node0:29x",
                                      "http://node0:29500", "a b:1"])
def test_malformed_endpoints_are_rejected(endpoint: str) -> None:
    with pytest.raises(ConfigError, match="is not HOST:PORT"):
        parse_endpoint(endpoint)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"nnodes": 2, "node_rank": 2, "rdzv_endpoint": "h:1"}, "--node-rank 2 is outside 0..1"),
    ({"nnodes": 2, "node_rank": -1, "rdzv_endpoint": "h:1"}, "--node-rank -1 is outside"),
    ({"nnodes": 0}, "--nnodes 0 must be at least 1"),
    ({"nproc": 0}, "--nproc 0 must be at least 1"),
    ({"nnodes": 2}, "--nnodes 2 needs --rdzv-endpoint"),
    ({"rdzv_endpoint": "h:1"}, "without --nnodes"),
    ({"nnodes": 2, "rdzv_endpoint": "h:1", "rdzv_id": "a/b"}, "--rdzv-id"),
])
def test_bad_launch_values_name_the_flag(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TorchrunLaunch(**kwargs)


@pytest.mark.parametrize("args", [
    ["--nnodes", "2", "--node-rank", "2", "--rdzv-endpoint", "127.0.0.1:29500"],
    ["--nnodes", "2", "--node-rank", "1", "--rdzv-endpoint", "127.0.0.1"],
])
def test_cli_reports_bad_node_values_in_one_line(tmp_path: Path, args: list[str]) -> None:
    config = str(write_config(tmp_path))
    for command in (["train", config], ["resume", "1"], ["eval", "1"]):
        code, out = invoke(*command, *args)
        lines = [line for line in out.splitlines() if line.strip()]
        assert code == 1 and len(lines) == 1 and lines[0].startswith("error: --"), (command, out)
        assert "--node-rank 2 is outside 0..1" in out or "is not HOST:PORT" in out


def test_ray_flags_that_do_not_fit_together_fail_in_one_line(tmp_path: Path) -> None:
    config = str(write_config(tmp_path))
    cases = [(["--workers", "2"], "--workers needs --ray-address"),
             (["--ray-address", "local", "--nproc", "2"], "cannot be combined with --nproc"),
             (["--ray-address", "local", "--seeds", "2"], "--seeds cannot be combined with --ray-address")]
    for extra, message in cases:
        code, out = invoke("train", config, *extra)
        assert code == 1 and out.strip().startswith("error: ") and message in out and len(out.strip().splitlines()) == 1
    code, out = invoke("text", "encode", config, "--workers", "2")
    assert code == 1 and "--workers needs --ray-address" in out


def test_missing_ray_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError, as when it is absent
    config = str(write_config(tmp_path))
    for command in (["train", config, "--ray-address", "local", "--workers", "2"],
                    ["text", "encode", config, "--ray-address", "local"]):
        code, out = invoke(*command)
        assert code == 1 and len(out.strip().splitlines()) == 1, out
        assert out.startswith("error: --ray-address needs Ray") and "pip install 'recforge[ray]'" in out
