"""``distributed``: the issue-22 bars for multi-node torchrun and Ray, measured in one run.

* ``examples/configs/ml100k-ctr-fm.yaml`` (``--models fm,deepfm`` adds the DeepFM config; as
  shipped: early stopping on valid AUC, seed 2024; one thread per process) trained three
  ways, back to back: one process; two "nodes" on this machine
  (two ``recforge train --nnodes 2`` launches against one c10d rendezvous on 127.0.0.1, one
  process each); Ray Train with 2 workers on a private local Ray instance. Bar: test AUC of
  each within 0.003 of the one-process run, and one run row in each store.
* ml-latest-small titles (MiniLM, the ``text-lm`` defaults) encoded by ``recforge text
  encode`` locally and as a Ray Data job with 2 actors, each into a fresh text cache. Bar:
  the same keys in both caches and every vector pair at cosine >= 0.9999.

Each leg runs in its own ``RECFORGE_HOME`` under a temporary folder. ``--size tiny`` trains
2 epochs and is a smoke run, not the bar.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks.harness import Result, echo, thread_env
from benchmarks.suites import Options, SuiteOutput

REPO = Path(__file__).resolve().parents[2]
#: ``--models`` names -> shipped example configs (default: fm)
CONFIGS = {"fm": REPO / "examples" / "configs" / "ml100k-ctr-fm.yaml",
           "deepfm": REPO / "examples" / "configs" / "ml100k-ctr-deepfm.yaml"}
AUC_BAND = 0.003
MIN_COSINE = 0.9999
TITLES_CONFIG: dict[str, Any] = {
    "name": "ml-latest-small-titles", "experiment": "text-encoding",
    "data": {"recipe": "ml-latest-small", "split": {"method": "random", "ratios": [0.8, 0.1, 0.1], "seed": 2024}},
    "model": {"embedding_dim": 16, "fields": ["user_id", "item_id", "title"], "interaction": "fm", "ranker": "ctr",
              "encoders": {"title": {"name": "text-lm"}}},
    "train": {"epochs": 1, "seed": 2024, "threads": 1},
}


def _json_doc(stdout: str) -> dict[str, Any]:
    return json.loads(stdout[stdout.index("{"):])


def _recforge(args: list[str], home: Path, timeout: float = 3600) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "recforge", *args], capture_output=True, text=True, check=False,
                          env=thread_env(1, {"RECFORGE_HOME": str(home)}), timeout=timeout, cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f"recforge {' '.join(args[:3])} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return _json_doc(proc.stdout), time.perf_counter() - started


def _run_rows(home: Path) -> int:
    proc = subprocess.run([sys.executable, "-m", "recforge", "runs", "list", "--json"], capture_output=True, text=True,
                          check=True, env=thread_env(1, {"RECFORGE_HOME": str(home)}), cwd=REPO)
    doc = json.loads(proc.stdout[proc.stdout.index("["):])
    return len(doc)


def _two_nodes(args: list[str], home: Path) -> tuple[dict[str, Any], float]:
    from recforge.core.launch import run_local_nodes
    from recforge.serving.process import free_port

    started = time.perf_counter()
    nodes = run_local_nodes(args, 2, f"127.0.0.1:{free_port()}", env=thread_env(1, {"RECFORGE_HOME": str(home)}))
    for node in nodes:
        if node.returncode != 0:
            raise RuntimeError(f"a node failed: {node.stderr.strip().splitlines()[-1:]}")
    docs = [_json_doc(node.stdout) for node in nodes if "{" in node.stdout]
    if len(docs) != 1:
        raise RuntimeError(f"expected one JSON result (rank 0), got {len(docs)}")
    return docs[0], time.perf_counter() - started


def _cache_vectors(home: Path) -> dict[bytes, Any]:
    """Every (text key -> vector) in a home's text cache."""
    from safetensors.torch import load_file

    out: dict[bytes, Any] = {}
    for shard in sorted((home / "cache" / "textcache").glob("*/shard-*.safetensors")):
        tensors = load_file(str(shard))
        for key, vector in zip(tensors["keys"], tensors["vectors"]):
            out[bytes(key.tolist())] = vector
    return out


def _training(opts: Options, root: Path) -> tuple[list[Result], list[str]]:
    results, notes = [], []
    for model in opts.models or ["fm"]:
        if model not in CONFIGS:
            raise ValueError(f"--models {model}: the distributed suite knows {', '.join(CONFIGS)}")
        found, said = _three_ways(model, opts, root / model)
        results += found
        notes += said
    return results, notes


def _three_ways(model: str, opts: Options, root: Path) -> tuple[list[Result], list[str]]:
    """One config trained by one process, by two local "nodes" and by 2 Ray Train workers."""
    sets = ["train.threads=1"] + (["train.epochs=2", "train.patience=0"] if opts.size == "tiny" else [])
    args = ["train", str(CONFIGS[model]), *[a for s in sets for a in ("--set", s)], "--json"]
    echo(f"distributed: {model}, one process")
    one, one_s = _recforge(args, root / "one")
    echo(f"distributed: {model}, two nodes (c10d on 127.0.0.1)")
    two, two_s = _two_nodes(args, root / "two-nodes")
    rows_two = _run_rows(root / "two-nodes")
    echo(f"distributed: {model}, Ray Train, 2 workers, local instance")
    ray, ray_s = _recforge([*args, "--ray-address", "local", "--workers", "2"], root / "ray")
    rows_ray = _run_rows(root / "ray")
    results, notes = [], []
    for label, doc, wall, rows in (("1 process", one, one_s, None), ("2 nodes x 1 (torchrun c10d)", two, two_s, rows_two),
                                   ("Ray Train 2 workers", ray, ray_s, rows_ray)):
        gap = abs(doc["test"]["auc"] - one["test"]["auc"])
        results.append(Result("distributed", "recforge", f"{model} {label}", auc=doc["test"]["auc"], wall_s=wall,
                              extra={"valid_auc": doc["valid"]["auc"], "epochs": doc["epochs_run"],
                                     "best_epoch": doc["best_epoch"], "test_auc_gap": gap, "run_rows": rows}))
        if rows is not None:
            verdict = "met" if gap <= AUC_BAND and rows == 1 else "MISSED"
            notes.append(f"{model} {label}: test AUC {doc['test']['auc']:.4f} vs 1 process {one['test']['auc']:.4f} "
                         f"(gap {gap:.4f}, bar <= {AUC_BAND}), {rows} run row(s): {verdict}")
    return results, notes


def _text(root: Path) -> tuple[list[Result], list[str]]:
    config = root / "titles.yaml"
    config.write_text(yaml.safe_dump(TITLES_CONFIG))
    echo("distributed: ml-latest-small titles, local encoding")
    local, local_s = _recforge(["text", "encode", str(config), "--json"], root / "text-local")
    echo("distributed: ml-latest-small titles, Ray Data encoding (2 actors)")
    ray, ray_s = _recforge(["text", "encode", str(config), "--json", "--ray-address", "local", "--workers", "2"],
                           root / "text-ray")
    import torch

    a, b = _cache_vectors(root / "text-local"), _cache_vectors(root / "text-ray")
    same_keys = a.keys() == b.keys()
    keys = sorted(a.keys() & b.keys())
    cos = torch.nn.functional.cosine_similarity(torch.stack([a[k] for k in keys]), torch.stack([b[k] for k in keys]))
    worst = float(cos.min())
    texts = local["banks"][0]["encoded"]
    results = [Result("distributed", "recforge", "ml-latest-small titles local", samples_per_s=texts / local_s,
                      wall_s=local_s, extra={"texts": texts}),
               Result("distributed", "recforge", "ml-latest-small titles Ray Data x2", samples_per_s=texts / ray_s,
                      wall_s=ray_s, extra={"texts": ray["banks"][0]["encoded"], "min_cosine": worst,
                                           "same_keys": same_keys})]
    verdict = "met" if same_keys and worst >= MIN_COSINE else "MISSED"
    notes = [(f"Ray Data text encoding: {len(keys)} cached vectors, same keys as local: {same_keys}, "
              f"min cosine {worst:.6f} (bar >= {MIN_COSINE}): {verdict}")]
    return results, notes


def run(opts: Options) -> SuiteOutput:
    with tempfile.TemporaryDirectory(prefix="recforge-distributed-") as tmp:
        root = Path(tmp)
        train_results, train_notes = _training(opts, root)
        text_results, text_notes = _text(root)
    notes = [*train_notes, *text_notes,
             "wall_s includes process and Ray start-up; measured back to back in one run"]
    return SuiteOutput([*train_results, *text_results], notes=notes)
