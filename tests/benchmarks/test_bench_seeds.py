"""The train suite's multi-seed mode (issue 18): seeds, epoch cap, precision, most accurate peer.

Runner processes are stand-in scripts that print what a runner prints (one JSON line built
from their own command line), so the seed loop, the arguments each library gets and the
mean ± std tables are checked without the peers' environment.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import pytest

from benchmarks.harness import (
    Result,
    accuracy_table,
    compare_accuracy,
    seeds_table,
    summarize_seeds,
)
from benchmarks.suites import Options
from benchmarks.suites import train as train_suite
from recforge.core.errors import ConfigError, UnknownNameError

ROOT = Path(__file__).resolve().parents[2]


def seed_row(library: str, seed: int, auc: float, *, model: str = "DeepFM", precision: str = "fp32",
             valid: float | None = None, wall: float = 10.0, rate: float = 1000.0, error: str | None = None) -> Result:
    extra = {"seed": seed, "precision": precision, "valid_auc": valid, "epochs": 5, "epoch_cap": 20}
    return Result("train", library, model, rate, auc, wall, 500.0, extra, error)


def test_summaries_group_by_library_and_precision_with_sample_std_and_failed_seeds_apart() -> None:
    rows = [seed_row("recforge", 2024, 0.780, precision="bf16 autocast", valid=0.770),
            seed_row("recforge", 2024, 0.781, valid=0.771),
            seed_row("recforge", 2025, 0.782, precision="bf16 autocast", valid=0.772),
            seed_row("recforge", 2025, 0.783, valid=0.773),
            seed_row("fuxictr", 2024, 0.785), seed_row("fuxictr", 2025, None, error="killed"),  # type: ignore[arg-type]
            seed_row("fuxictr", 2026, 0.787)]
    bf16, fp32, peer = summarize_seeds(rows)
    assert (bf16.library, bf16.precision, bf16.seeds) == ("recforge", "bf16 autocast", [2024, 2025])
    assert bf16.auc_mean == pytest.approx(0.781) and bf16.auc_std == pytest.approx(statistics.stdev([0.780, 0.782]))
    assert fp32.valid_mean == pytest.approx(0.772) and fp32.epoch_cap == 20
    assert peer.aucs == [0.785, 0.787] and peer.errors == ["killed"] and peer.valid_mean is None
    table = seeds_table([bf16, peer])
    assert "| DeepFM | recforge | bf16 autocast | 2 | 0.7810 ± 0.0014 | 0.7800, 0.7820 | 0.7710 ± 0.0014 |" in table
    assert "| 0.7850, 0.7870; failed: killed | – |" in table and "| 5, 5 (20) |" in table


def test_accuracy_compares_with_the_most_accurate_peer_not_the_fastest() -> None:
    rows = [seed_row("recforge", s, a, wall=5.0, rate=9000.0) for s, a in ((2024, 0.7850), (2025, 0.7860))]
    rows += [seed_row("recbole", s, a, wall=10.0, rate=3000.0) for s, a in ((2024, 0.7800), (2025, 0.7810))]
    rows += [seed_row("fuxictr", s, a, wall=50.0, rate=1000.0) for s, a in ((2024, 0.7870), (2025, 0.7880))]
    (c,) = compare_accuracy(summarize_seeds(rows))
    assert (c.best_peer, c.fastest_peer) == ("fuxictr", "recbole")
    assert c.auc_delta == pytest.approx(0.7855 - 0.7875) and c.wall_ratio == pytest.approx(0.1)
    assert c.speedup == pytest.approx(3.0)
    assert "| DeepFM | fp32 | 0.7855 | fuxictr | 0.7875 | -0.0020 | 0.10 | recbole | 3.00x |" in accuracy_table([c])


def test_issue_18_bar_is_within_0_002_of_the_best_peer() -> None:
    def verdict(ours: float, peer: float) -> str:
        rows = [seed_row("recforge", 2024, ours), seed_row("recbole", 2024, peer)]
        (note,) = train_suite.accuracy_notes(compare_accuracy(summarize_seeds(rows)), 3)
        return note

    assert verdict(0.7860, 0.7879).endswith("-0.0019 (bar >= -0.002) -> met")
    assert verdict(0.7850, 0.7879).endswith("-0.0029 (bar >= -0.002) -> NOT met")
    assert verdict(0.7900, 0.7879) == ("DeepFM (fp32): recforge 0.7900 vs recbole 0.7879, "
                                       "3-seed mean test AUC +0.0021 (bar >= -0.002) -> met")


def test_runner_command_passes_seed_and_cap_to_every_library_and_config_only_to_recforge() -> None:
    opts = Options("train", max_epochs=20)
    peer = train_suite.runner_command("py", Path("fuxictr_run.py"), "deepfm", opts, seed=2025)
    assert peer[peer.index("--max-epochs") + 1] == "20" and peer[peer.index("--seed") + 1] == "2025"
    assert "--config" not in peer and "--epochs" not in peer
    ours = train_suite.runner_command("py", Path("recforge_run.py"), "deepfm", opts, seed=2025,
                                      recforge_args=["--config", "x.yaml", "--precision", "fp32"])
    assert ours[2:len(peer)] == peer[2:] and ours[len(peer):] == ["--config", "x.yaml", "--precision", "fp32"]


def test_also_fp32_adds_a_float32_run_only_where_the_config_autocasts(tmp_path: Path) -> None:
    fm = ROOT / "examples" / "configs" / "ml100k-ctr-fm.yaml"
    assert train_suite.recforge_variants("fm", Options("train", also_fp32=True)) == [("recforge", ["--config", str(fm)])]
    amp = tmp_path / "fm-amp.yaml"
    amp.write_text(fm.read_text().replace("  threads: 2\neval:", "  threads: 2\n  amp: true\neval:"))
    variants = train_suite.recforge_variants("fm", Options("train", also_fp32=True, configs={"fm": str(amp)}))
    assert variants == [("recforge", ["--config", str(amp)]), ("recforge fp32", ["--config", str(amp), "--precision", "fp32"])]
    with pytest.raises(ConfigError, match="recforge config for fm not found"):
        train_suite.recforge_config("fm", Options("train", configs={"fm": str(tmp_path / "missing.yaml")}))


def test_unknown_peer_names_the_choices() -> None:
    assert list(train_suite.select_peers(["recbole", "fuxictr"])) == ["fuxictr", "recbole"]
    with pytest.raises(UnknownNameError, match="deepctr-torch"):
        train_suite.select_peers(["deepctr"])


def test_seed_flags_parse_and_name_their_own_report_section() -> None:
    from benchmarks.__main__ import parse_args, section_name

    opts = parse_args(["train", "--models", "fm", "--seeds", "3", "--max-epochs", "20", "--also-fp32",
                       "--config", "fm=a.yaml", "--peers", "recbole"])
    assert (opts.seeds, opts.max_epochs, opts.also_fp32, opts.configs, opts.peers) == (3, 20, True, {"fm": "a.yaml"}, ["recbole"])
    assert section_name(opts) == "train --models fm --seeds 3 --peers recbole"
    for bad in (["--epochs", "2", "--max-epochs", "3"], ["--config", "fm"], ["--seeds", "0"]):
        with pytest.raises(SystemExit):
            parse_args(["train", *bad])


STAND_IN = """
import json, sys
argv = sys.argv[1:]
arg = lambda k, d=None: argv[argv.index(k) + 1] if k in argv else d
seed, library = int(arg("--seed")), sys.argv[0].rsplit("/", 1)[-1].split("_")[0]
precision = "fp32" if library != "recforge" or arg("--precision") == "fp32" else "bf16 autocast"
auc = {"recforge": 0.786, "fuxictr": 0.787}[library] + (seed - 2024) * 0.001 - (library == "recforge" and precision == "fp32") * 0.0005
print("library chatter")
print(json.dumps({"library": library, "model": "DeepFM", "samples_per_s": 1000.0, "auc": auc, "wall_s": 1.0,
                  "peak_rss_mb": 1.0, "valid_auc": auc - 0.01, "epochs": 3, "epoch_cap": int(arg("--max-epochs")),
                  "seed": seed, "precision": precision, "argv": argv}))
"""


def test_run_seeds_alternates_libraries_within_each_seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("recforge_run.py", "fuxictr_run.py"):
        (tmp_path / name).write_text(STAND_IN)

    def runners(model: str, opts: Options):  # type: ignore[no-untyped-def]
        return [("recforge", "recforge", sys.executable, tmp_path / "recforge_run.py", ["--config", "c.yaml"]),
                ("recforge fp32", "recforge", sys.executable, tmp_path / "recforge_run.py",
                 ["--config", "c.yaml", "--precision", "fp32"]),
                ("fuxictr", "fuxictr", sys.executable, tmp_path / "fuxictr_run.py", None)]

    monkeypatch.setattr(train_suite, "runners", runners)
    out = train_suite.run(Options("train", peers_python=sys.executable, models=["deepfm"], seeds=3, max_epochs=20))
    assert [(r.library, r.extra["precision"], r.extra["seed"]) for r in out.results[:3]] == [
        ("recforge", "bf16 autocast", 2024), ("recforge", "fp32", 2024), ("fuxictr", "fp32", 2024)]
    assert [r.extra["seed"] for r in out.results] == [2024] * 3 + [2025] * 3 + [2026] * 3
    assert all(r.extra["epoch_cap"] == 20 and "--max-epochs" in r.extra["argv"] for r in out.results)
    assert out.notes[0].startswith("3 seeds (2024, 2025, 2026) per library; epoch cap 20 for every library")
    assert out.notes[1] == ("DeepFM (bf16 autocast): recforge 0.7870 vs fuxictr 0.7880, 3-seed mean test AUC "
                            "-0.0010 (bar >= -0.002) -> met")
    assert out.notes[2].startswith("DeepFM (fp32): recforge 0.7865 vs fuxictr 0.7880") and out.notes[2].endswith("met")
    logged = [json.loads(line[len("result "):]) for line in capsys.readouterr().err.splitlines() if line.startswith("result ")]
    assert len(logged) == 9 and logged[0]["seed"] == 2024 and logged[0]["library"] == "recforge"
