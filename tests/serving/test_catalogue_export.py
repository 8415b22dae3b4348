"""Live catalogue on a two-tower text model, persistence across restarts, items CLI, export."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from recforge.serving.catalogue import CatalogueError
from recforge.serving.hotswap import load_serving
from tests.serving.conftest import run_cli

pytestmark = pytest.mark.slow

TWO_TOWER = {
    "name": "tt-text", "experiment": "serving-tests",
    "data": {"recipe": "movielens-100k", "params": {"threshold": 1}, "split": {"method": "random", "ratios": [0.8, 0.1, 0.1], "seed": 1}},
    "model": {"embedding_dim": 16, "towers": {"user": {"fields": ["user_id"]}, "item": {"fields": ["item_id", "title", "genres"]}},
              "encoders": {"title": {"name": "text-lm"}},
              "ranker": {"name": "two-tower", "params": {"loss": "softmax", "temperature": 0.1}}},
    "train": {"lr": 2e-3, "batch_size": 2048, "epochs": 1, "seed": 1, "threads": 1},
    "eval": {"protocol": "full", "metrics": ["recall@10"]},
}


@pytest.fixture(scope="module")
def two_tower_folder(serve_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = tmp_path_factory.mktemp("tt") / "tt.yaml"
    cfg.write_text(yaml.safe_dump(TWO_TOWER))
    run = json.loads(run_cli(serve_home, "train", str(cfg), "--json").stdout)
    return Path(run["model_dir"])


def test_new_items_encoded_by_the_text_encoder_and_kept_after_restart(two_tower_folder: Path, tmp_path: Path,
                                                                     serve_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECFORGE_HOME", str(serve_home))
    folder = tmp_path / "model"
    shutil.copytree(two_tower_folder, folder)
    served = load_serving(str(folder))
    assert served.index is not None and served.retrieval is not None and served.retrieval.encodes_new_items
    twin = {"item_id": "twin-of-50", "title": "Star Wars (1977)", "genres": "Action|Adventure|Romance|Sci-Fi|War"}
    other = {"item_id": "cooking", "title": "A quiet documentary about French cooking", "genres": "Documentary"}
    served.add_items([twin, other])
    # same fields as item 50 except the id (the cold-item version of 50): 50 is among its
    # nearest 5% of ~1650 items (rank 27 in a 1-epoch run; a random vector ranks it ~800)
    near = [r["item"] for r in served.similar("twin-of-50", 80)]
    assert "50" in near
    from recforge.serving.engine import RecQuery

    top = served.recommend([RecQuery(user="196", k=2, items=["twin-of-50", "cooking"])])[0]
    assert {r["item"] for r in top} == {"twin-of-50", "cooking"}
    served.retire("cooking")
    restarted = load_serving(str(folder))  # the delta beside the saved model is replayed
    assert "twin-of-50" in restarted.catalogue.index_of and len(restarted.catalogue) == len(served.catalogue)
    assert [r["item"] for r in restarted.similar("twin-of-50", 80)] == [i for i in near if i != "cooking"][:80] or \
        "50" in [r["item"] for r in restarted.similar("twin-of-50", 80)]
    top = restarted.recommend([RecQuery(user="196", k=1, items=["twin-of-50", "cooking"])])[0]
    assert [r["item"] for r in top] == ["twin-of-50"]


def test_items_add_cli_and_bad_items(serve_home: Path, tmp_path: Path, two_tower_folder: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "model"
    shutil.copytree(two_tower_folder, folder)
    good = tmp_path / "items.jsonl"
    good.write_text(json.dumps({"item_id": "n1", "title": "Space robots", "genres": "Sci-Fi"}) + "\n")
    out = json.loads(run_cli(serve_home, "items", "add", str(folder), str(good), "--json").stdout)
    assert out["added"] == 1 and Path(out["delta"]).is_file()
    monkeypatch.setenv("RECFORGE_HOME", str(serve_home))
    served = load_serving(str(folder))
    with pytest.raises(CatalogueError, match="unknown field 'colour'"):
        served.add_items([{"item_id": "n2", "colour": "red"}])
    assert "n1" in load_serving(str(folder)).catalogue.index_of  # the failed add lost nothing


@pytest.mark.parametrize(("fmt", "refs"), [("onnx", ("qs/1", "tt")), ("torchscript", ("qs/1",))])
def test_export_matches_the_saved_model_on_the_test_split(serve_home: Path, two_tower_folder: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch, fmt: str,
                                                          refs: tuple[str, ...]) -> None:
    pytest.importorskip("onnxruntime")
    from recforge.export import export_model
    from recforge.services.model_refs import open_model

    monkeypatch.setenv("RECFORGE_HOME", str(serve_home))
    for ref in (str(two_tower_folder) if r == "tt" else r for r in refs):
        result = export_model(open_model(ref)[1], fmt, tmp_path / fmt / ref.replace("/", "_"))
        assert result.rows_checked > 1000 and result.max_abs_diff <= 1e-5 and result.path.is_file()


def test_served_ivf_index_is_tuned_on_known_users_and_agrees_with_exact(two_tower_folder: Path, serve_home: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    from tests.serving.conftest import Server

    monkeypatch.setenv("RECFORGE_HOME", str(serve_home))
    exact = load_serving(str(two_tower_folder), persist=False)
    assert exact.index is not None and exact.index.kind == "exact"  # 1,682 items: below the threshold
    fm = exact.data.featuremap
    users = [str(u) for u in fm.raw_of(exact.data.user_field, list(range(2, 42)))]
    with Server(serve_home, str(two_tower_folder), "--exact-below", "0", "--ann-recall", "0.95", "--poll", "0") as ivf:
        health = httpx.get(ivf.url + "/health", timeout=60).json()
        assert health["index"] == "ivf" and 1 <= health["nprobe"]
        got = [[r["item"] for r in httpx.post(ivf.url + "/recommend", json={"user": u, "k": 10}, timeout=120).json()["items"]]
               for u in users]
    from recforge.serving.engine import RecQuery

    want = [[r["item"] for r in res] for res in exact.recommend([RecQuery(user=u, k=10) for u in users])]
    overlap = sum(len(set(g) & set(w)) for g, w in zip(got, want)) / sum(len(w) for w in want)
    assert overlap >= 0.85  # nprobe was tuned for 0.95 on 256 known users' vectors


ID_TEXT = {**TWO_TOWER, "name": "tt-id-text",
           "model": {"embedding_dim": 16, "towers": {"user": {"fields": ["user_id"]}, "item": {"fields": ["title", "item_id"]}},
                     "encoders": {"title": {"name": "text-lm"},
                                  "item_id": {"name": "id-text", "params": {"text_field": "title", "id_dropout": 0.5}}},
                     "ranker": {"name": "two-tower", "params": {"loss": "softmax", "temperature": 0.1}}}}


def test_a_new_item_of_an_id_text_model_is_its_mapped_text_not_an_untrained_slot(
        serve_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from recforge.core.data.schema import UNK

    cfg = tmp_path / "id-text.yaml"
    cfg.write_text(yaml.safe_dump(ID_TEXT))
    run = json.loads(run_cli(serve_home, "train", str(cfg), "--json").stdout)
    monkeypatch.setenv("RECFORGE_HOME", str(serve_home))
    folder = tmp_path / "model"
    shutil.copytree(run["model_dir"], folder)
    served = load_serving(str(folder))
    title = served.catalogue.meta["title"][served.catalogue.index_of["50"]]
    served.add_items([{"item_id": "twin-of-50", "title": title}])
    twin = served.index.vectors[served.catalogue.index_of["twin-of-50"]]
    # item 50 itself with its id hidden: the id-text encoder's text path, trained by id dropout
    model, i50 = served.model, served.catalogue.index_of["50"]
    ids = model.features.lookup_item__item_id
    kept = ids[i50].clone()
    ids[i50] = UNK
    with torch.no_grad():
        as_text = model.embed("item", torch.tensor([i50]))[0]
    ids[i50] = kept
    assert torch.allclose(twin, as_text, atol=1e-6)
    assert "50" in [r["item"] for r in served.similar("twin-of-50", 80)]  # its nearest 5% of ~1,680 items
