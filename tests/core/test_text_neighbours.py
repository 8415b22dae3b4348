"""``similar --by text`` compares the language model's own vectors (not the model's collapsed
projection), and ``neighbour_quality`` measures label sharing of nearest neighbours."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from recforge.cli import cli
from recforge.core.text_neighbours import neighbour_quality

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "cli"))
from test_cli_train import last_json  # noqa: E402


def test_neighbour_quality_by_hand() -> None:
    # items 0, 1 close and both "a"; 2, 3 close, "b" and "c": each 1-NN is its twin
    vectors = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    labels = [{"a"}, {"a"}, {"b"}, {"c"}]
    got = neighbour_quality(vectors, labels, k=1)
    assert got["neighbour_share"] == pytest.approx(0.5)  # 0 <-> 1 share "a"; 2 <-> 3 share nothing
    cos23 = float(torch.nn.functional.cosine_similarity(vectors[2], vectors[3], dim=0))
    assert got["max_unrelated_cosine"] == pytest.approx(cos23)
    assert got["random_share"] == pytest.approx(2 / 12, abs=0.01)  # 2 of the 12 ordered pairs are related


@pytest.mark.slow
def test_similar_by_text_uses_language_model_vectors(tasks_dir) -> None:
    from recforge.core.saved_model import load_model
    from recforge.core.store import Store
    from recforge.core.text_neighbours import item_text_vectors

    def invoke(*args: str):
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
        return result.exit_code, result.output

    code, out = invoke("train", str(REPO / "examples/configs/ml100k-ctr-deepfm-title.yaml"), "--set", "train.epochs=1",
                       "--set", "train.max_steps=2", "--set", "train.threads=1", "--json")
    assert code == 0, out
    run_id = last_json(out)["run_id"]
    code, out = invoke("similar", str(run_id), "--item", "50", "--by", "text", "-k", "5", "--json")
    assert code == 0, out
    rows = last_json(out)["items"]
    assert rows[0]["title"] == "Return of the Jedi (1983)"  # Star Wars' nearest title
    with Store.open() as store:
        loaded = load_model(Path(store.run_dir(run_id)) / "model")
    lm = torch.nn.functional.normalize(item_text_vectors(loaded.model), dim=1)
    assert lm.shape[1] == 384  # MiniLM's own width, not the rank-16 projection
    idx = loaded.data.featuremap.index_of("item_id", ["50", str(rows[0]["item"])])
    assert rows[0]["score"] == pytest.approx(float(lm[idx[0]] @ lm[idx[1]]), abs=1e-5)
    labels = [set(str(v).split("|")) if v else set() for v in loaded.item_meta["genres"]]
    quality = neighbour_quality(lm, labels)
    assert quality["neighbour_share"] > quality["random_share"] + 0.05
    assert quality["max_unrelated_cosine"] < 0.99
