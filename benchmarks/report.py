"""Machine/version information and the ``docs/benchmarks.md`` writer.

Each suite owns one section of the results page, delimited by HTML comments, so running one
suite rewrites its own section and leaves the others (and any hand-written analysis outside
the markers) as they were.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

DEFAULT_REPORT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
PEER_PACKAGES = ("torch", "deepctr-torch", "fuxictr", "recbole", "sentence-transformers", "numpy", "pandas")
HEADER = """# recforge benchmarks

Produced by `python -m benchmarks SUITE [--peers-python .peers-venv/bin/python]` (issue 9). Each
section below is rewritten by its suite; the machine and versions are those of that run. The
peers' environment is made by `benchmarks/make_peers_env.sh`.

Method: every runner is its own process (so peak RSS, from `getrusage`, is per run and
includes the library's imports); libraries alternate A B A B within a suite; with several
rounds each figure keeps its best round. samples/s counts training-loop time only (batches,
forward, backward, optimiser; not validation); wall s is one whole experiment from reading
the CSVs to the test AUC, imports excluded.
"""


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags() -> list[str]:
    """The vector extensions that matter for float32/bf16 matmul speed."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = set(re.search(r"^flags\s*:(.*)$", text, re.MULTILINE).group(1).split()) if "flags" in text else set()  # type: ignore[union-attr]
    return sorted(f for f in flags if f in {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "fma"})


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def machine_info(threads: int) -> dict[str, Any]:
    """Where and with what the figures were measured, including the load from other work."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (None, None, None)
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return {
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "cpu": cpu_model(), "cpu_flags": cpu_flags(), "logical_cpus": os.cpu_count(), "memory_gib": mem,
        "threads": threads, "load_avg_1m": None if load[0] is None else round(load[0], 1),
        "python": platform.python_version(), "os": platform.platform(terse=True),
        "recforge": _version("recforge"), "torch": _version("torch"),
    }


def peer_versions(peers_python: str | None) -> dict[str, str | None]:
    """Package versions inside the peers' environment (empty when there is none)."""
    if not peers_python:
        return {}
    code = ("import json; from importlib import metadata as m\n"
            f"names = {list(PEER_PACKAGES)!r}\n"
            "def v(n):\n try: return m.version(n)\n except Exception: return None\n"
            "print(json.dumps({n: v(n) for n in names}))")
    try:
        proc = subprocess.run([peers_python, "-c", code], capture_output=True, text=True, check=False, timeout=120)
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, json.JSONDecodeError, IndexError):
        return {}


def info_block(info: dict[str, Any], peers: dict[str, str | None]) -> str:
    """Markdown bullet list of the run's machine and versions."""
    lines = [(f"- date {info['date']}; CPU {info['cpu']} ({info['logical_cpus']} logical CPUs, "
              f"{info['memory_gib']} GiB; flags {' '.join(info['cpu_flags']) or 'n/a'}); "
              f"{info['threads']} threads per run; 1-min load average at start {info['load_avg_1m']}"),
             f"- recforge {info['recforge']}, torch {info['torch']}, Python {info['python']}, {info['os']}"]
    if peers:
        lines.append("- peers' env: " + ", ".join(f"{k} {v}" for k, v in peers.items() if v))
    return "\n".join(lines)


def write_section(suite: str, body: str, path: Path = DEFAULT_REPORT) -> Path:
    """Replace (or append) ``suite``'s section of the results page; other sections are kept."""
    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    start, end = f"<!-- suite:{suite} -->", f"<!-- /suite:{suite} -->"
    section = f"{start}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
