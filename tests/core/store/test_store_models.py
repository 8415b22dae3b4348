"""Model registry, dataset records and the text-vector cache index."""

from __future__ import annotations

import pytest

from recforge.core.errors import NotFoundError, StoreError, UnknownNameError
from recforge.core.store import Store


@pytest.fixture
def store() -> Store:
    with Store.open() as s:
        yield s


def _finished(store: Store) -> int:
    run = store.create_run("e", plugins={})
    store.start_run(run.id)
    store.finish_run(run.id)
    return run.id


def test_versions_count_up_per_name(store: Store) -> None:
    r1, r2 = _finished(store), _finished(store)
    v1 = store.register_model("ctr", r1, tags={"team": "a"})
    v2 = store.register_model("ctr", r2)
    other = store.register_model("rating", r1)
    assert (v1.version, v2.version, other.version) == (1, 2, 1)
    assert (v1.stage, v1.tags, v1.run_id) == ("none", {"team": "a"}, r1)
    assert [(m.name, m.version) for m in store.list_models()] == [("ctr", 1), ("ctr", 2), ("rating", 1)]
    assert store.get_model("ctr").version == 2 and store.get_model("ctr", 1).run_id == r1


def test_only_finished_runs_register(store: Store) -> None:
    run = store.create_run("e", plugins={})
    with pytest.raises(StoreError, match="run 1 is created; only finished runs can be registered"):
        store.register_model("m", run.id)
    with pytest.raises(NotFoundError, match="run 9 does not exist"):
        store.register_model("m", 9)


def test_promote_keeps_one_production_version(store: Store) -> None:
    r = _finished(store)
    for _ in range(3):
        store.register_model("m", r)
    store.promote("m", 1, "production")
    store.promote("m", 2, "staging")
    store.promote("m", 3, "production")
    assert [(m.version, m.stage) for m in store.list_models("m")] == [(1, "archived"), (2, "staging"), (3, "production")]
    with pytest.raises(UnknownNameError, match="unknown model stage 'prodution'.*did you mean 'production'"):
        store.promote("m", 1, "prodution")
    with pytest.raises(NotFoundError, match="model 'm' version 7 is not registered; see `recforge models list`"):
        store.promote("m", 7, "staging")


def test_tag_and_delete_model(store: Store) -> None:
    r = _finished(store)
    store.register_model("m", r, tags={"a": "1", "b": "2"})
    assert store.tag_model("m", 1, {"a": None, "c": "3"}).tags == {"b": "2", "c": "3"}
    store.delete_model("m", 1)
    assert store.list_models() == []


def test_record_dataset_upserts_counts(store: Store) -> None:
    store.record_dataset("ml100k", "abc", {"train": 80})
    store.record_dataset("ml100k", "abc", {"train": 81})
    store.record_dataset("ml100k", "def", {"train": 5})
    assert [(d.fingerprint, d.counts) for d in store.list_datasets()] == [("abc", {"train": 81}), ("def", {"train": 5})]


def test_text_cache_index(store: Store) -> None:
    assert store.text_cache_get("k") is None
    store.text_cache_put("k", "/c/k.npy", "minilm", 384, 10)
    store.text_cache_put("k", "/c/k2.npy", "minilm", 384, 12)
    entry = store.text_cache_get("k")
    assert (entry.path, entry.model_id, entry.dim, entry.count) == ("/c/k2.npy", "minilm", 384, 12)
    assert [e.key for e in store.text_cache_entries()] == ["k"]
    assert store.text_cache_delete("k") is True and store.text_cache_delete("k") is False
