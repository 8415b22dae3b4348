"""``serve``: ``recforge serve`` under load, ANN retrieval at 1M items, new items, hot swap.

1. **Load test**: the quickstart model (trained by the CLI here) served by ``recforge serve``
   in its own process; a keep-alive HTTP/1.1 client (asyncio streams, so the client's own
   CPU cost stays small on 2 shared cores) sends ``POST /recommend`` at concurrency 1, 8 and
   32 for ``duration`` seconds each. Reported: errors, p50/p99 latency, requests/s, and the
   in-process ``Recommender.recommend`` p50 of the same request. The same is run on a
   two-tower model, whose per-user scoring is tiny, so batching shows.
2. **ANN**: 1M synthetic unit vectors (dim 64) in :class:`recforge.serving.ann.VectorIndex`,
   IVF (nprobe tuned on separate queries) against exact: recall@10 and p50 per query, on a
   clustered Gaussian mixture (1,000 clusters, like real item embeddings) and, for honesty,
   on plain Gaussian vectors (no structure: the hardest case for any ANN index).
3. **New items**: the two-tower of ``examples/configs/office-two-tower-id-text.yaml`` (item
   id through the ``id-text`` encoder: an unknown id is represented by its mapped MiniLM
   title) trained on ``amazon-office-2018-seq`` with 50 products held out of the catalogue
   and of every row, and the same model with a plain item id embedding (before the fix); the
   50 are POSTed to the running server; reported: how many of them appear in at least one of
   500 users' unrestricted top-10, against 50 comparable known products (random branded
   ones, picked the same way), and how often their ``/similar`` neighbours share the query's
   brand (the release's ``categories`` are empty) against chance.
4. **Hot swap**: ``recforge models promote`` of a second version under load at concurrency 8.
5. **ONNX**: ``recforge export`` of the quickstart model, onnxruntime against the saved model
   on its test split.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks.harness import Result, echo
from benchmarks.suites import Options, SuiteOutput
from recforge.serving.process import ServeProcess

REPO = Path(__file__).resolve().parents[2]
CONCURRENCY = (1, 8, 32)
N_NEW = 50
#: seconds a server may take to answer /health (loading a language model on busy cores is slow)
START_TIMEOUT_S = 900.0


# --------------------------------------------------------------------------- processes
def _env(home: Path, data_dir: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"RECFORGE_HOME": str(home), "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    if data_dir is not None:
        env["RECFORGE_DATA_DIR"] = str(data_dir)
    return env


def _cli(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "recforge", *args], env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"recforge {' '.join(args)}: {proc.stderr[-1500:]}")
    return proc.stdout


# --------------------------------------------------------------------------- load client
async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int, body: bytes) -> int:
    writer.write(b"POST /recommend HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (port, len(body), body))
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    await reader.readexactly(length)
    return status


async def _load(port: int, bodies: list[bytes], concurrency: int, duration: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + duration

    async def worker(seed: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        rng = random.Random(seed)
        while time.perf_counter() < stop_at:
            start = time.perf_counter()
            try:
                status = await _request(reader, writer, port, rng.choice(bodies))
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            latencies.append(time.perf_counter() - start)
            errors += status != 200
        writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    wall = time.perf_counter() - t0
    latencies.sort()
    return {"requests": len(latencies), "errors": errors, "rps": len(latencies) / wall,
            "p50_ms": 1e3 * latencies[len(latencies) // 2] if latencies else None,
            "p99_ms": 1e3 * latencies[int(len(latencies) * 0.99)] if latencies else None}


def _in_process_p50(env: dict[str, str], model: str, users: list[str], repeats: int) -> float:
    """p50 of ``Recommender.recommend(user, k=10, exclude_seen=True)`` in this process."""
    os.environ["RECFORGE_HOME"] = env["RECFORGE_HOME"]
    from recforge.core.recommend import Recommender
    from recforge.services.model_refs import open_model

    rec = Recommender(open_model(model)[1])
    for u in users[:5]:
        rec.recommend(u, k=10, exclude_seen=True)
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        rec.recommend(users[i % len(users)], k=10, exclude_seen=True)
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def _batch_totals(url: str) -> tuple[float, float]:
    """``(requests, batches)`` the server's dynamic batcher scored so far (from /metrics)."""
    import httpx

    text = httpx.get(url + "/metrics", timeout=30).text
    value = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
             if line.startswith("recforge_batch_size_")}
    return value.get("recforge_batch_size_sum", 0.0), value.get("recforge_batch_size_count", 0.0)


def _engine_per_request(model: str, users: list[str], batch: int, repeats: int) -> float:
    """ms per request of ``ServingModel.recommend`` on ``batch`` users at once (one thread, as
    the server scores): how much of a request batching can share at all."""
    from recforge.serving.engine import RecQuery
    from recforge.serving.hotswap import load_serving

    served = load_serving(model, persist=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        served.recommend([RecQuery(user=u) for u in users[:batch]])
        times = []
        for r in range(repeats):
            chunk = [users[(r * batch + j) % len(users)] for j in range(batch)]
            start = time.perf_counter()
            served.recommend([RecQuery(user=u) for u in chunk])
            times.append((time.perf_counter() - start) / batch)
    finally:
        torch.set_num_threads(threads)
    return 1e3 * statistics.median(times)


def load_test(env: dict[str, str], model: str, label: str, duration: float) -> list[Result]:
    os.environ["RECFORGE_HOME"] = env["RECFORGE_HOME"]
    from recforge.services.model_refs import open_model

    loaded = open_model(model)[1]
    users = [u for u in loaded.data.featuremap.raw_of(loaded.data.user_field, list(range(2, 202))) if u is not None]
    bodies = [json.dumps({"user": str(u), "k": 10}).encode() for u in users]
    local = _in_process_p50(env, model, [str(u) for u in users], 200)
    engine = {f"engine_ms_per_request_b{b}": _engine_per_request(model, [str(u) for u in users], b, r)
              for b, r in ((1, 40), (32, 4))}
    server = ServeProcess(model, env=env, timeout_s=START_TIMEOUT_S)
    out = []
    try:
        for c in CONCURRENCY:
            echo(f"serve: {label} load at concurrency {c} for {duration:.0f} s")
            before = _batch_totals(server.url)
            stats = asyncio.run(_load(server.port, bodies, c, duration))
            after = _batch_totals(server.url)
            batches = after[1] - before[1]
            out.append(Result("serve", "recforge", f"{label} c={c}", samples_per_s=stats["rps"],
                              extra={**stats, "concurrency": c, "in_process_p50_ms": local,
                                     "mean_batch": (after[0] - before[0]) / batches if batches else None, **engine}))
    finally:
        server.stop()
    return out


# --------------------------------------------------------------------------- ANN
#: clusters of the synthetic catalogue (like product categories) and per-dimension spread
#: around a cluster centre (norm ~0.8 against the centre's 1: clusters overlap, as real ones do)
ANN_CLUSTERS = 1000
ANN_SPREAD = 0.1


def synthetic_vectors(n: int, dim: int, clustered: bool, gen: torch.Generator,
                      centres: torch.Tensor | None = None) -> torch.Tensor:
    """Unit vectors: a Gaussian mixture around ``centres`` (clustered), or plain Gaussian."""
    if not clustered:
        return torch.nn.functional.normalize(torch.randn(n, dim, generator=gen), dim=1)
    assert centres is not None
    pick = torch.randint(0, centres.shape[0], (n,), generator=gen)
    return torch.nn.functional.normalize(centres[pick] + ANN_SPREAD * torch.randn(n, dim, generator=gen), dim=1)


def ann_bench(n_items: int, dim: int, queries: int, clustered: bool) -> Result:
    """IVF (nprobe tuned for recall 0.95 on separate tuning queries) against exact search.

    Items, tuning queries and measured queries are drawn from the same distribution; the
    measured queries are never seen by the tuning. Both sides answer one query at a time on
    one thread (torch for exact, faiss for IVF), interleaved so machine load hits both alike.
    """
    import faiss

    from recforge.serving.ann import IndexConfig, VectorIndex, recall_at

    faiss.omp_set_num_threads(1)
    gen = torch.Generator().manual_seed(0 if clustered else 1)
    centres = torch.nn.functional.normalize(torch.randn(ANN_CLUSTERS, dim, generator=gen), dim=1) if clustered else None
    items = synthetic_vectors(n_items, dim, clustered, gen, centres)
    tuning = synthetic_vectors(200, dim, clustered, gen, centres)
    q = synthetic_vectors(queries, dim, clustered, gen, centres)
    allowed = torch.ones(n_items, dtype=torch.bool)
    allowed[:2] = False  # the padding rows every catalogue masks
    label = "clustered" if clustered else "unclustered"
    echo(f"serve: building IVF over {n_items} x {dim} ({label})")
    t0 = time.perf_counter()
    ann = VectorIndex(items, IndexConfig(exact_below=0), tuning_queries=tuning)
    build = time.perf_counter() - t0
    exact = VectorIndex(items, IndexConfig(exact_below=n_items + 1))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    got, want, t_ann, t_exact = [], [], [], []
    try:
        for i in range(queries):
            s = time.perf_counter()
            got.append(ann.search(q[i:i + 1], 10, allowed)[1])
            t_ann.append(time.perf_counter() - s)
            s = time.perf_counter()
            want.append(exact.search(q[i:i + 1], 10, allowed)[1])
            t_exact.append(time.perf_counter() - s)
    finally:
        torch.set_num_threads(threads)
    p50_ann, p50_exact = 1e3 * statistics.median(t_ann), 1e3 * statistics.median(t_exact)
    return Result("serve", "recforge", f"ANN IVF {n_items} x {dim} {label}", wall_s=build,
                  extra={"recall@10": recall_at(torch.cat(got), torch.cat(want)), "p50_ann_ms": p50_ann,
                         "p50_exact_ms": p50_exact, "ratio": p50_ann / p50_exact, "build_s": build,
                         "nlist": int(ann.index.nlist), "nprobe": ann.nprobe, "tuning_recall": ann.tuned_recall,
                         "queries": queries})


# --------------------------------------------------------------------------- new items
def _held_out_office(root: Path, n_new: int) -> tuple[Path, dict[str, dict[str, Any]]]:
    """A copy of amazon-office-2018-seq without ``n_new`` products (rows naming them dropped)."""
    import ast

    import pandas as pd

    src = Path(os.environ.get("RECFORGE_DATA_DIR", REPO.parent / "shared" / "datasets")) / "amazon-office-2018-seq"
    dst = root / "amazon-office-2018-seq"
    dst.mkdir(parents=True)
    items = json.loads((src / "items.json").read_text(encoding="utf-8"))
    rng = random.Random(7)
    branded = [k for k, v in items.items() if (v.get("brand") or "").strip()]
    held = set(rng.sample(branded, n_new))
    for name in ("valid.csv", "test.csv"):
        frame = pd.read_csv(src / name, dtype={"user_id": str})
        hist = frame["history_item_id"].map(lambda s: {str(i) for i in ast.literal_eval(s)})
        keep = ~frame["item_id"].astype(str).isin(held) & ~hist.map(lambda h: bool(h & held))
        frame[keep].to_csv(dst / name, index=False)
    (dst / "items.json").write_text(json.dumps({k: v for k, v in items.items() if k not in held}), encoding="utf-8")
    shutil.copy(src / "SOURCE.md", dst / "SOURCE.md")
    return dst, {k: items[k] for k in sorted(held)}


OFFICE_CONFIG = REPO / "examples" / "configs" / "office-two-tower-id-text.yaml"
#: users asked for an unrestricted top-10 after the new items are POSTed
N_USERS = 500


def office_config(epochs: int | None, id_text: bool) -> dict[str, Any]:
    """The serving example config; ``id_text=False`` gives its item id a plain embedding (the
    model before the fix: a new item's id is the unknown slot, which training never updates)."""
    import yaml

    config = yaml.safe_load(OFFICE_CONFIG.read_text(encoding="utf-8"))
    if not id_text:
        config["name"] += "-plain-id"
        del config["model"]["encoders"]["item_id"]
    if epochs is not None:
        config["train"]["epochs"] = epochs
    return config


def _appearances(url: str, users: list[str], watch: set[str]) -> set[str]:
    """Which of ``watch`` appear in at least one user's unrestricted top-10."""
    import httpx

    seen: set[str] = set()
    with httpx.Client(base_url=url, timeout=120) as client:
        for u in users:
            recs = client.post("/recommend", json={"user": u, "k": 10}).json()["items"]
            seen |= {str(r["item"]) for r in recs} & watch
    return seen


def new_item_test(tmp: Path, epochs: int | None, id_text: bool) -> Result:
    import httpx
    import yaml

    data_root = tmp / "data"
    if not (data_root / "amazon-office-2018-seq").is_dir():
        _held_out_office(data_root, N_NEW)
    held = _held_out_office_ids(data_root)
    catalogue = json.loads((Path(os.environ.get("RECFORGE_DATA_DIR", REPO.parent / "shared" / "datasets"))
                            / "amazon-office-2018-seq" / "items.json").read_text(encoding="utf-8"))
    env = _env(tmp / "office-home", data_root)  # one home: the second model reuses the cached title vectors
    config = office_config(epochs, id_text)
    cfg = tmp / f"{config['name']}.yaml"
    cfg.write_text(yaml.safe_dump(config))
    echo(f"serve: training {config['name']} on amazon-office-2018-seq (50 products held out)")
    run = json.loads(_cli(env, "train", str(cfg), "--json"))
    server = ServeProcess(str(run["run_id"]), env=env, timeout_s=START_TIMEOUT_S)
    try:
        items = [{"item_id": k, "title": catalogue[k].get("title", "")} for k in held]
        added = httpx.post(server.url + "/items", json={"items": items}, timeout=600).json()
        os.environ["RECFORGE_HOME"] = env["RECFORGE_HOME"]
        from recforge.services.model_refs import open_model

        loaded = open_model(str(run["run_id"]))[1]
        users = [str(u) for u in loaded.data.featuremap.raw_of(loaded.data.user_field, list(range(2, 2 + N_USERS)))
                 if u is not None]
        trained = [str(i) for i in loaded.item_ids[2:] if i is not None and (catalogue.get(str(i), {}).get("brand") or "").strip()]
        known = set(random.Random(11).sample(sorted(trained), N_NEW))  # comparable: branded, picked the same way
        new_ids = set(held)
        returned = _appearances(server.url, users, new_ids | known)
        only = httpx.post(server.url + "/recommend", json={"user": users[0], "k": 5, "items": sorted(new_ids)},
                          timeout=60).json()["items"]
        brand = {k: (v.get("brand") or "").strip().lower() for k, v in catalogue.items()}
        same, total = 0, 0
        for k in held:
            sims = httpx.get(server.url + f"/similar/{k}", params={"k": 10}, timeout=60).json()["items"]
            same += sum(brand.get(str(r["item"]), "") == brand[k] for r in sims)
            total += len(sims)
        counts: dict[str, int] = {}
        for b in brand.values():
            if b:
                counts[b] = counts.get(b, 0) + 1
        chance = sum((counts[brand[k]] - 1) / (len(brand) - 1) for k in held) / len(held)
    finally:
        server.stop()
    kind = "id-text item id (unknown id -> mapped title)" if id_text else "plain item id (unknown id -> untrained slot)"
    return Result("serve", "recforge", f"new items, office two-tower, {kind}",
                  extra={"added": added.get("added"), "users_asked": len(users),
                         "new_items_in_some_top10": len(returned & new_ids), "known_items_in_some_top10": len(returned & known),
                         "of": N_NEW, "filtered_top5_all_new": all(r["item"] in new_ids for r in only) and len(only) == 5,
                         "similar_same_brand": same / max(total, 1), "chance_same_brand": chance,
                         "valid_ndcg@10": (run.get("valid") or {}).get("ndcg@10"),
                         "test_ndcg@10": (run.get("test") or {}).get("ndcg@10")})


def _held_out_office_ids(root: Path) -> list[str]:
    """The held-out product ids: in the release's items.json, not in the copy's."""
    src = Path(os.environ.get("RECFORGE_DATA_DIR", REPO.parent / "shared" / "datasets")) / "amazon-office-2018-seq"
    full = json.loads((src / "items.json").read_text(encoding="utf-8"))
    kept = json.loads((root / "amazon-office-2018-seq" / "items.json").read_text(encoding="utf-8"))
    return sorted(set(full) - set(kept))


# --------------------------------------------------------------------------- hot swap
def hot_swap_test(env: dict[str, str], run_id: int) -> Result:
    _cli(env, "models", "register", str(run_id), "swap")
    _cli(env, "models", "promote", "swap", "1", "production")
    server = ServeProcess("swap@production", "--poll", "0.5", env=env, timeout_s=START_TIMEOUT_S)
    try:
        from recforge.services.model_refs import open_model

        os.environ["RECFORGE_HOME"] = env["RECFORGE_HOME"]
        loaded = open_model(str(run_id))[1]
        users = [u for u in loaded.data.featuremap.raw_of(loaded.data.user_field, list(range(2, 102))) if u is not None]
        bodies = [json.dumps({"user": str(u), "k": 10}).encode() for u in users]

        async def both() -> dict[str, Any]:
            load = asyncio.create_task(_load(server.port, bodies, 8, 15.0))
            await asyncio.sleep(3)
            await asyncio.to_thread(_cli, env, "models", "register", str(run_id), "swap")
            await asyncio.to_thread(_cli, env, "models", "promote", "swap", "2", "production")
            return await load

        stats = asyncio.run(both())
        import httpx

        version = httpx.get(server.url + "/health", timeout=10).json()["model_version"]
    finally:
        server.stop()
    return Result("serve", "recforge", "hot swap under load (c=8)", samples_per_s=stats["rps"],
                  extra={**stats, "version_after": version})


# --------------------------------------------------------------------------- export
def onnx_check(env: dict[str, str], model: str, label: str) -> Result:
    """``recforge export MODEL --format onnx`` (the real CLI): onnxruntime against the saved model
    on the test split (the bar: within 1e-5)."""
    out = Path(env["RECFORGE_HOME"]) / "export" / label.replace(" ", "-")
    body = json.loads(_cli(env, "export", model, "--format", "onnx", "-o", str(out), "--json"))
    return Result("serve", "recforge", f"ONNX export {label}",
                  extra={"rows_checked": body.get("rows_checked"), "max_abs_diff": body.get("max_abs_diff")})


# --------------------------------------------------------------------------- suite
def run(opts: Options) -> SuiteOutput:
    tiny = opts.size == "tiny"
    duration = 3.0 if tiny else 30.0
    torch.set_num_threads(opts.threads)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="recforge-serve-bench-") as tmp_name:
        tmp = Path(tmp_name)
        env = _env(tmp / "home")
        echo("serve: training the quickstart model")
        qs = json.loads(_cli(env, "quickstart", "--epochs", "1" if tiny else "3", "--json"))
        def keep(found: list[Result]) -> None:  # progress on stderr: a long run shows its figures as it goes
            results.extend(found)
            for r in found:
                echo(f"serve: {r.model}: {json.dumps(r.extra, default=str)}")

        keep(load_test(env, str(qs["run_id"]), "quickstart DeepFM", duration))
        keep([onnx_check(env, str(qs["run_id"]), "quickstart DeepFM")])
        tt_cfg = REPO / "examples" / "configs" / "ml100k-two-tower.yaml"
        tt = json.loads(_cli(env, "train", str(tt_cfg), "--set", f"train.epochs={1 if tiny else 5}", "--json"))
        keep(load_test(env, str(tt["run_id"]), "ml100k two-tower", duration))
        keep([hot_swap_test(env, int(qs["run_id"]))])
        for clustered in (True, False):
            keep([ann_bench(20_000 if tiny else 1_000_000, 64, 50 if tiny else 300, clustered)])
        for id_text in (True, False):
            keep([new_item_test(tmp, 1 if tiny else None, id_text)])
    return SuiteOutput(results, [_table(results)], _notes(results))


def _table(results: list[Result]) -> str:
    lines = ["| workload | figures |", "|---|---|"]
    for r in results:
        figs = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.extra.items())
        lines.append(f"| {r.model} | {figs} |")
    return "\n".join(lines)


def _notes(results: list[Result]) -> list[str]:
    notes = []
    for label in ("quickstart DeepFM", "ml100k two-tower"):
        rows = {r.extra["concurrency"]: r for r in results if r.model.startswith(label + " c=")}
        if 1 in rows and 32 in rows:
            c1 = rows[1].extra
            notes.append(f"{label}: HTTP p50 at c=1 {c1['p50_ms']:.2f} ms vs in-process {c1['in_process_p50_ms']:.2f} ms "
                         f"(+{c1['p50_ms'] - c1['in_process_p50_ms']:.2f} ms); c=32 / c=1 throughput "
                         f"{rows[32].samples_per_s / rows[1].samples_per_s:.2f}x; errors "
                         f"{sum(r.extra['errors'] for r in rows.values())}")
    return notes
