"""``text``: recforge's text encoding against sentence-transformers, via ``benchmarks/text_bench.py``.

The encoders engineer owns that script (same texts, same MiniLM model, same threads); this
suite runs it as its own process, turns its rate lines into results and keeps its full
output in the report. ``--size tiny`` passes ``--limit 64`` so the run takes seconds.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from benchmarks.harness import Result, echo, thread_env
from benchmarks.suites import Options, SuiteOutput

SCRIPT = Path(__file__).resolve().parents[1] / "text_bench.py"
#: ``dataset  texts  distinct  runner...  texts/s  x ST`` (the runner label may contain spaces)
RATE_LINE = re.compile(r"^(?P<dataset>\S+)\s+(?P<texts>\d+)\s+(?P<distinct>\d+)\s+(?P<runner>.+?)\s+"
                       r"(?P<rate>\d+(?:\.\d+)?)\s+(?P<ratio>\d+(?:\.\d+)?)$")


def parse_rates(stdout: str) -> list[Result]:
    """One result per ``dataset runner texts/s`` line of text_bench's table."""
    out = []
    for line in stdout.splitlines():
        m = RATE_LINE.match(line.strip())
        if not m:
            continue
        runner = m["runner"].strip()
        library = "recforge" if runner.startswith("recforge") else runner
        out.append(Result("text", library, f"{m['dataset']} {runner}", samples_per_s=float(m["rate"]),
                          extra={"texts": int(m["texts"]), "distinct": int(m["distinct"]),
                                 "x_sentence_transformers": float(m["ratio"])}))
    return out


def run(opts: Options) -> SuiteOutput:
    if not SCRIPT.exists():
        return SuiteOutput([Result("text", "recforge", "text-encoding", error="benchmarks/text_bench.py is missing")])
    cmd = [sys.executable, "-m", "benchmarks.text_bench", "--rounds", str(opts.rounds), "--threads", str(opts.threads)]
    if opts.size == "tiny":
        cmd += ["--limit", "64"]
    echo(" ".join(cmd[1:]))
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=thread_env(opts.threads), timeout=7200)
    if proc.returncode != 0:
        tail = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        return SuiteOutput([Result("text", "recforge", "text-encoding", error=(tail or ["failed"])[-1][:300])])
    results = parse_rates(proc.stdout)
    return SuiteOutput(results, [f"```\n{proc.stdout.strip()}\n```"],
                       ["figures from benchmarks/text_bench.py (best round of each runner)"])
