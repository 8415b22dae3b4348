"""The out-of-core bar's verdicts name their figures and say met / NOT met from them."""

from __future__ import annotations

from benchmarks.harness import Result
from benchmarks.suites.scale_stream import notes, table


def results(stream_rate: float, stream_rss: float, fit_rss: float) -> list[Result]:
    fit = Result("scale", "recforge", "featuremap-fit", peak_rss_mb=fit_rss, wall_s=60.0,
                 extra={"vocab_over_1m": ["C3", "C4"], "largest_vocab": 1_500_000})
    memory = [Result("scale", "recforge", "DeepFM-in-memory-10,000,000-rows", samples_per_s=rate, peak_rss_mb=5000.0,
                     extra={"rows": 10_000_000, "steps": 300}) for rate in (1000.0, 1200.0)]
    stream = Result("scale", "recforge", "DeepFM-streaming-50,000,000-rows", samples_per_s=stream_rate,
                    peak_rss_mb=stream_rss, extra={"rows": 50_000_000, "steps": 2000, "shards": 50, "shards_drawn": 50})
    return [fit, memory[0], stream, memory[1]]


def test_bar_met() -> None:
    lines = notes(results(stream_rate=990.0, stream_rss=3000.0, fit_rss=1500.0))
    assert lines[0].startswith("streaming FeatureMap fit: peak RSS 1,500 MB") and lines[0].count("-> met") == 1
    assert "C3, C4" in lines[0]
    assert "peak RSS 3,000 MB (bar <= 4096 MB) -> met" in lines[1] and "50 of 50 shards" in lines[1]
    assert "90.0% of the in-memory path's 1,100 (mean of 1,000 and 1,200" in lines[2] and lines[2].endswith("-> met")
    assert "DeepFM-streaming" in table(results(990.0, 3000.0, 1500.0))


def test_bar_missed_says_so() -> None:
    lines = notes(results(stream_rate=700.0, stream_rss=4500.0, fit_rss=2500.0))
    assert all(line.endswith("NOT met") or "NOT met;" in line for line in lines)
