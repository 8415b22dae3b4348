"""``startup``: how long the CLI takes to answer commands that train nothing (issue 19's bar).

Each command runs as the real console script in a fresh process, ``--rounds`` times (at least
3), alternated so that machine load hits every command alike; the figures are the best round's
wall time and that round's CPU time (user + system). ``recforge --help`` must answer in under
0.5 s of wall time. ``components list`` is measured twice: its first call after a change
builds the component index (importing every plugin, torch included), later calls read it.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import Result, echo
from benchmarks.suites import Options, SuiteOutput

COMMANDS = {"--help": ["--help"], "runs list": ["runs", "list"], "models list": ["models", "list"],
            "components list (index built)": ["components", "list"], "plugins list": ["plugins", "list"]}
HELP_BAR_S = 0.5


def console_script() -> list[str]:
    exe = Path(sys.executable).with_name("recforge")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "recforge"]


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``argv`` (which must succeed)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True, timeout=600)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run(opts: Options) -> SuiteOutput:
    exe = console_script()
    with tempfile.TemporaryDirectory(prefix="rf-startup-") as home:
        env = {**os.environ, "RECFORGE_HOME": home}
        first_wall, first_cpu = timed(exe + ["components", "list", "--reload"], env)
        best: dict[str, tuple[float, float]] = {}
        for _ in range(max(3, opts.rounds)):
            for label, args in COMMANDS.items():
                wall, cpu = timed(exe + args, env)
                if label not in best or wall < best[label][0]:
                    best[label] = (wall, cpu)
    results = [Result("startup", "recforge", "components list (index rebuilt)", wall_s=first_wall,
                      extra={"cpu_s": round(first_cpu, 3)})]
    results += [Result("startup", "recforge", label, wall_s=wall, extra={"cpu_s": round(cpu, 3)})
                for label, (wall, cpu) in best.items()]
    rows = ["| command | wall s (best) | CPU s |", "|---|---:|---:|"]
    rows += [f"| `recforge {r.model}` | {r.wall_s:.3f} | {r.extra['cpu_s']:.3f} |" for r in results]
    help_wall = best["--help"][0]
    verdict = "met" if help_wall < HELP_BAR_S else "NOT met"
    echo(f"recforge --help: {help_wall:.3f} s wall (bar < {HELP_BAR_S} s: {verdict})")
    return SuiteOutput(results, ["\n".join(rows)],
                       [f"`recforge --help` best of {max(3, opts.rounds)}: {help_wall:.3f} s wall, "
                        f"bar < {HELP_BAR_S} s: {verdict}"])
