"""The benchmark harness on fake results: parsing, rounds, ratios, tables, JSON, report file.

No peer library is needed; runner processes are stand-in ``python -c`` scripts. The only
real measurement is ``python -m benchmarks limit --json --size tiny`` (seconds), checked for
its documented keys, never for its speed.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from benchmarks.harness import (
    RESULT_KEYS,
    BenchmarkError,
    Result,
    alternate,
    combine_rounds,
    compare,
    comparison_table,
    parse_result_line,
    results_table,
    run_runner,
    to_json,
)
from benchmarks.report import write_section
from benchmarks.suites import Options, get_suite
from benchmarks.suites.limit import mlp_flops_per_sample, mlp_shapes
from benchmarks.suites.recommend import percentile, synthetic_recommender, top_k
from benchmarks.suites.scale import notes as scale_notes
from benchmarks.suites.train import bar_notes, select_models
from benchmarks.synthetic import ML100K_SHAPE, build_deepfm, make_ctr
from recforge.core.errors import RecforgeError, UnknownNameError

ROOT = Path(__file__).resolve().parents[2]


def row(library: str, model: str = "DeepFM", rate: float | None = None, auc: float | None = None,
        wall: float | None = None, rss: float | None = None, error: str | None = None) -> Result:
    return Result("train", library, model, rate, auc, wall, rss, {}, error)


# ----------------------------------------------------------------------------- parsing
def test_parse_result_line_takes_the_last_json_object_after_library_chatter() -> None:
    out = 'Train on 80000 samples\n{"not": "this one"}\nEpoch 1/1 {broken json}\n{"library": "x", "model": "LR"}\n\n'
    assert parse_result_line(out) == {"library": "x", "model": "LR"}


def test_parse_result_line_without_a_result_names_the_runner_and_the_fix() -> None:
    with pytest.raises(BenchmarkError, match="deepctr_run.py printed no JSON result line; run it by hand"):
        parse_result_line("Epoch 1\n[1, 2]\n", "deepctr_run.py")
    assert issubclass(BenchmarkError, RecforgeError)


def test_result_round_trip_keeps_documented_keys_first_and_extras_flat() -> None:
    r = Result.from_dict("train", {"library": "fuxictr", "model": "FM", "samples_per_s": 10, "auc": 0.78,
                                   "wall_s": None, "peak_rss_mb": 500, "epochs": 7, "suite": "ignored"})
    assert r.extra == {"epochs": 7} and r.samples_per_s == 10.0
    d = r.to_dict()
    assert list(d)[:len(RESULT_KEYS)] == list(RESULT_KEYS)
    assert d["suite"] == "train" and d["wall_s"] is None and d["epochs"] == 7 and d["error"] is None


def test_result_without_library_is_rejected() -> None:
    with pytest.raises(BenchmarkError, match="lacks 'library' or 'model'"):
        Result.from_dict("train", {"model": "FM"})


def test_to_json_is_one_list_with_every_documented_key() -> None:
    doc = json.loads(to_json([row("recforge", rate=1.0), row("recbole", error="no such model")]))
    assert isinstance(doc, list) and len(doc) == 2
    assert all(set(RESULT_KEYS) <= set(obj) for obj in doc)
    assert doc[1]["samples_per_s"] is None and doc[1]["error"] == "no such model"


# ----------------------------------------------------------------------------- runners
def test_run_runner_parses_a_process_result_and_reports_a_crash_by_its_last_stderr_line() -> None:
    code = ("import json, os; print('chatter'); "
            "print(json.dumps({'library': 'fake', 'model': 'LR', 'samples_per_s': 5.0, "
            "'threads': os.environ['OMP_NUM_THREADS']}))")
    good = [sys.executable, "-c", code]
    r = run_runner("train", good, library="fake", model="LR", threads=2)
    assert r.error is None and r.samples_per_s == 5.0 and r.extra["threads"] == "2"
    bad = [sys.executable, "-c", "import sys; sys.stderr.write('warming up\\nValueError: no DCNv2 here\\n'); sys.exit(3)"]
    r = run_runner("train", bad, library="fake", model="DCNv2", threads=2)
    assert (r.library, r.model, r.error, r.samples_per_s) == ("fake", "DCNv2", "ValueError: no DCNv2 here", None)


def test_alternate_runs_jobs_round_robin_a_b_a_b() -> None:
    calls: list[str] = []

    def job(name: str):  # type: ignore[no-untyped-def]
        return lambda: calls.append(name) or row(name)  # type: ignore[func-returns-value]

    per_job = alternate([("A", job("A")), ("B", job("B"))], rounds=3)
    assert calls == ["A", "B", "A", "B", "A", "B"]
    assert [[r.library for r in rs] for rs in per_job] == [["A"] * 3, ["B"] * 3]


def test_combine_rounds_keeps_best_rate_best_wall_worst_rss_and_skips_failures() -> None:
    rounds = [row("x", rate=100.0, auc=0.78, wall=12.0, rss=600.0), row("x", error="killed"),
              row("x", rate=130.0, auc=0.77, wall=15.0, rss=650.0)]
    r = combine_rounds(rounds)
    assert (r.samples_per_s, r.auc, r.wall_s, r.peak_rss_mb, r.error) == (130.0, 0.78, 12.0, 650.0, None)
    assert r.extra["rounds"] == 2 and r.extra["samples_per_s_rounds"] == [100.0, 130.0]
    assert combine_rounds([row("x", error="a"), row("x", error="b")]).error == "a"


# ----------------------------------------------------------------------------- ratios and tables
def fake_suite() -> list[Result]:
    return [row("recforge", "LR", 1_500_000.0, 0.7600, 10.0, 500.0),
            row("fuxictr", "LR", 200_000.0, 0.7562, 40.0, 800.0),
            row("recbole", "LR", 270_000.0, 0.7554, 25.0, 700.0),
            row("deepctr-torch", "LR", error="crashed"),
            row("recforge", "DeepFM", 50_000.0, 0.7800, 30.0, 520.0),
            row("fuxictr", "DeepFM", 38_000.0, 0.7893, 90.0, 830.0)]


def test_compare_divides_by_the_fastest_peer_and_the_fastest_wall() -> None:
    lr, deepfm = compare(fake_suite())
    assert lr.best_peer == "recbole" and lr.speedup == pytest.approx(1_500_000 / 270_000)
    assert lr.auc_delta == pytest.approx(0.7600 - 0.7554) and lr.wall_ratio == pytest.approx(10 / 25)
    assert deepfm.speedup == pytest.approx(50 / 38) and deepfm.auc_delta == pytest.approx(-0.0093)


def test_compare_names_the_most_accurate_peer_beside_the_fastest() -> None:
    lr, _ = compare(fake_suite())
    assert (lr.best_peer, lr.accurate_peer) == ("recbole", "fuxictr")
    assert lr.accurate_auc_delta == pytest.approx(0.7600 - 0.7562)


def test_compare_without_peers_has_no_ratio() -> None:
    (only,) = compare([row("recforge", "FM", 10.0, 0.78, 1.0)])
    assert (only.best_peer, only.speedup, only.auc_delta, only.wall_ratio) == (None, None, None, None)
    assert (only.accurate_peer, only.accurate_auc_delta) == (None, None)


def test_tables_show_numbers_ratios_and_errors() -> None:
    results = fake_suite()
    text = results_table(results)
    assert "| LR | recforge | – | 1,500,000 | 0.7600 | 10.0 | 500 |" in text
    assert "| LR | deepctr-torch | – | – | – | – | – | crashed |" in text
    bf16 = Result("train", "recforge", "DCNv2", 1.0, 0.78, 2.0, 3.0, {"precision": "bf16 autocast", "epochs": 9})
    assert "| DCNv2 | recforge | bf16 autocast | 1 | 0.7800 | 2.0 | 3 | epochs=9 |" in results_table([bf16])
    ratios = comparison_table(compare(results))
    assert "| LR | recbole | 5.56x | +0.0046 | fuxictr | +0.0038 | 0.40 |" in ratios
    assert "| DeepFM | fuxictr | 1.32x | -0.0093 | fuxictr | -0.0093 | 0.33 |" in ratios


def test_bar_notes_check_speed_and_auc_margin_per_model() -> None:
    notes = bar_notes(fake_suite())
    assert notes[0].startswith("LR: 5.56x recbole (bar 5.0x), AUC +0.0046") and notes[0].endswith("-> met")
    assert notes[1].startswith("DeepFM: 1.32x fuxictr (bar 1.5x)") and notes[1].endswith("NOT met")
    assert notes[2] == "DeepFM end-to-end wall: 0.33 of the best peer's (bar <= 0.5) -> met"


def test_select_models_validates_names_and_keeps_suite_order() -> None:
    assert select_models(["xdeepfm", "lr"]) == ["lr", "xdeepfm"]
    assert select_models(None)[0] == "lr"
    with pytest.raises(UnknownNameError, match="unknown model 'deepfn' \\(did you mean 'deepfm'\\?\\)"):
        select_models(["deepfn"])


def test_unknown_suite_names_the_choices() -> None:
    with pytest.raises(UnknownNameError, match="unknown benchmark suite 'trian'"):
        get_suite("trian")


# ----------------------------------------------------------------------------- report file
def test_write_section_replaces_only_its_own_section(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    write_section("train", "## train\nold figures", page)
    write_section("limit", "## limit\n1 GFLOP/s", page)
    text = page.read_text() + "\nhand-written analysis\n"
    page.write_text(text)
    write_section("train", "## train\nnew figures", page)
    text = page.read_text()
    assert "new figures" in text and "old figures" not in text
    assert "1 GFLOP/s" in text and "hand-written analysis" in text
    assert text.index("<!-- suite:train -->") < text.index("<!-- suite:limit -->")


# ----------------------------------------------------------------------------- suite arithmetic
def test_mlp_flops_per_sample_is_three_times_the_forward_multiply_adds() -> None:
    assert mlp_flops_per_sample([(128, 300), (300, 1)]) == 3 * 2 * (128 * 300 + 300)


def test_mlp_shapes_of_recforge_deepfm_are_the_preset_layers() -> None:
    model = build_deepfm(make_ctr(64, ML100K_SHAPE))
    assert mlp_shapes(model) == [(8 * 16, 300), (300, 300), (300, 300)]


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0 and percentile(values, 99) == 99.0 and percentile([3.0], 99) == 3.0


def test_top_k_matches_a_brute_force_sort_with_padding_masked() -> None:
    gen = torch.Generator().manual_seed(0)
    rec = synthetic_recommender(3, 50, 8, gen)
    users, items = rec.model.user_embedding.weight.detach(), rec.model.item_embedding.weight.detach()
    with torch.no_grad():  # padding/unknown rows would win if not masked
        rec.model.item_embedding.weight[:2] = 100 * users.mean(0)
    items = rec.model.item_embedding.weight.detach()
    _, index = top_k(rec, torch.arange(3), k=5)
    for u in range(3):
        scores = items @ users[u]
        expected = [i for i in torch.argsort(scores, descending=True).tolist() if i >= 2][:5]
        assert index[u].tolist() == expected


def test_scale_notes_compare_largest_with_smallest() -> None:
    a = Result("scale", "recforge", "1M", 100_000.0, extra={"rows": 1_000_000, "rss_above_baseline_over_tensors": 1.1})
    b = Result("scale", "recforge", "20M", 92_000.0, extra={"rows": 20_000_000, "rss_above_baseline_over_tensors": 1.6})
    rate, rss = scale_notes([a, b])
    assert "is 8.0% below that at 1,000,000" in rate and rate.endswith("-> met")
    assert "1.60x the tensors" in rss and rss.endswith("NOT met")


def test_synthetic_ids_are_zipf_skewed_in_range_and_reproducible() -> None:
    data = make_ctr(5000, {"a": 100, "b": 3})
    a = data.table.dense["a"]
    assert int(a.min()) >= 2 and int(a.max()) < 102
    counts = torch.bincount(a)
    assert int(counts.argmax()) == 2 and counts[2] > 5 * counts[50]
    values, offsets = data.table.ragged["tags"]
    lengths = offsets[1:] - offsets[:-1]
    assert int(lengths.min()) >= 1 and int(lengths.max()) <= 6 and int(offsets[-1]) == values.numel()
    assert torch.equal(make_ctr(5000, {"a": 100, "b": 3}).table.dense["a"], a)


# ----------------------------------------------------------------------------- peers' shared module
def load_peer_common():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("peer_common", ROOT / "benchmarks" / "peers" / "_common.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["peer_common"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_loop_clock_subtracts_evaluation_inside_epochs(monkeypatch: pytest.MonkeyPatch) -> None:
    common = load_peer_common()
    now = [0.0]
    monkeypatch.setattr(common.time, "perf_counter", lambda: now[0])
    clock = common.LoopClock()
    evaluate = clock.wrap_excluded(lambda: now.__setitem__(0, now[0] + 3.0))
    with clock.epoch(rows=100):
        now[0] += 2.0          # training steps
        evaluate()             # 3 s of validation, not counted
    clock.begin_epoch()
    now[0] += 1.0
    clock.end_epoch(rows=100)
    assert clock.train_s == pytest.approx(3.0) and clock.samples == 200 and clock.epochs == 2
    assert clock.samples_per_s == pytest.approx(200 / 3.0)


# ----------------------------------------------------------------------------- the entry point
@pytest.mark.slow  # a fresh interpreter importing torch and recforge: ~10 s idle, over a minute under load
def test_limit_suite_json_has_the_documented_keys(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "limit", "--json", "--size", "tiny", "--no-report"],
                          cwd=ROOT, capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    assert [r["model"] for r in doc] == ["matmul-f32", "DeepFM-mlp-matmuls", "DeepFM-train",
                                         "DeepFM-mlp-matmuls-bf16", "DeepFM-train-bf16"]
    for obj in doc:
        assert set(RESULT_KEYS) <= set(obj) and obj["suite"] == "limit"
    for train in (doc[2], doc[4]):
        assert train["samples_per_s"] > 0 and train["mlp_flops_per_sample"] == 3 * 2 * (128 * 300 + 2 * 300 * 300)
        assert 0 < train["fraction_of_float32_peak"] and train["step_over_mlp_matmuls"] > 0
    assert "## limit" in proc.stderr


def test_bad_flags_exit_with_usage() -> None:
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "limit", "--rounds", "0"], cwd=ROOT,
                          capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 2 and "--rounds, --threads, --epochs and --max-steps must be at least 1" in proc.stderr


def test_options_defaults_match_the_peers_settings() -> None:
    opts = Options("train")
    assert (opts.threads, opts.rounds, opts.epochs, opts.report) == (2, 1, None, True)


def test_narrowed_runs_get_their_own_report_section() -> None:
    from benchmarks.__main__ import parse_args, section_name

    assert section_name(parse_args(["train"])) == "train"
    assert section_name(parse_args(["train", "--models", "deepfm,lr", "--epochs", "1"])) == "train --models deepfm,lr --epochs 1"


def test_fixed_epoch_runs_judge_speed_only() -> None:
    notes = bar_notes([row("recforge", "FM", 60.0, 0.70), row("recbole", "FM", 10.0, 0.75)], judge_auc=False)
    assert notes == ["FM: 6.00x recbole (bar 5.0x), AUC -0.0500 (not judged: fixed epochs) -> met"]


def test_text_suite_parses_text_bench_rate_lines() -> None:
    from benchmarks.suites.text import parse_rates

    out = ("threads=2 model=/x/all-MiniLM-L6-v2\n"
           "dataset          texts distinct runner                     texts/s   x ST\n"
           "ml-100k           1682     1664 sentence-transformers      412.5   1.00\n"
           "ml-100k           1682     1664 recforge bf16             1031.2   2.50\n"
           "ml-100k          cosine to sentence-transformers (fp32): min 0.9999 mean 1.0000\n")
    st, bf16 = parse_rates(out)
    assert (st.library, st.model, st.samples_per_s) == ("sentence-transformers", "ml-100k sentence-transformers", 412.5)
    assert (bf16.library, bf16.model, bf16.extra) == ("recforge", "ml-100k recforge bf16",
                                                      {"texts": 1682, "distinct": 1664, "x_sentence_transformers": 2.5})
