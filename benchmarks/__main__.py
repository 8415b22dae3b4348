"""``python -m benchmarks SUITE``: measure recforge (and the peers) and write docs/benchmarks.md.

    python -m benchmarks train --peers-python .peers-venv/bin/python [--models lr,deepfm] [--epochs 1]
    python -m benchmarks limit --json --size tiny
    python -m benchmarks train --peers-python .peers-venv/bin/python --models fm,deepfm --seeds 3 \
        --max-epochs 30 --also-fp32 --config fm=examples/configs/ml100k-ctr-fm-tuned.yaml

Suites: train, limit, recommend, scale, text, serve (see ``benchmarks/suites/``). Progress goes to
stderr; stdout gets the markdown tables, or with ``--json`` exactly one JSON list of result
objects (keys suite, library, model, samples_per_s, auc, wall_s, peak_rss_mb, plus the
suite's own figures; null where a key does not apply).
"""

from __future__ import annotations

import argparse
import sys

from benchmarks.harness import echo, to_json
from benchmarks.report import DEFAULT_REPORT, info_block, machine_info, peer_versions, write_section
from benchmarks.suites import SUITES, Options, get_suite


def parse_args(argv: list[str] | None = None) -> Options:
    """The command line as :class:`Options`; bad values fail with argparse's message."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("suite", choices=SUITES)
    parser.add_argument("--peers-python", default=None, help="python of the peers' venv (make_peers_env.sh)")
    parser.add_argument("--json", action="store_true", help="print one JSON list of results on stdout")
    parser.add_argument("--models", default=None, help="comma list, e.g. lr,deepfm (train suite)")
    parser.add_argument("--epochs", type=int, default=None, help="fixed epoch count, no early stopping")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds per measurement")
    parser.add_argument("--threads", type=int, default=2, help="torch/BLAS threads per run")
    parser.add_argument("--size", choices=("tiny", "full"), default="full", help="tiny: seconds-long smoke sizes")
    parser.add_argument("--max-steps", type=int, default=200, help="scale suite: training steps per size")
    parser.add_argument("--no-report", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument("--seeds", type=int, default=1, help="train suite: seeds per library (2024, 2025, ...)")
    parser.add_argument("--max-epochs", type=int, default=None,
                        help="train suite: the epoch cap every library gets under its early stopping")
    parser.add_argument("--also-fp32", action="store_true",
                        help="train suite: also run recforge in float32 where its config autocasts to bf16")
    parser.add_argument("--config", dest="configs", action="append", default=[], metavar="MODEL=PATH",
                        help="train suite: recforge config for MODEL (default examples/configs/ml100k-ctr-MODEL.yaml)")
    parser.add_argument("--peers", default=None, help="train suite: comma list of peers (default: all)")
    ns = parser.parse_args(argv)
    if ns.rounds < 1 or ns.threads < 1 or (ns.epochs is not None and ns.epochs < 1) or ns.max_steps < 1:
        parser.error("--rounds, --threads, --epochs and --max-steps must be at least 1")
    if ns.seeds < 1 or (ns.max_epochs is not None and ns.max_epochs < 1):
        parser.error("--seeds and --max-epochs must be at least 1")
    if ns.epochs is not None and ns.max_epochs is not None:
        parser.error("--epochs (fixed, no early stopping) and --max-epochs (a cap) exclude each other")
    configs = {}
    for item in ns.configs:
        model, sep, path = item.partition("=")
        if not sep or not model.strip() or not path.strip():
            parser.error(f"--config {item!r}: expected MODEL=PATH, e.g. fm=examples/configs/ml100k-ctr-fm-tuned.yaml")
        configs[model.strip()] = path.strip()
    models = [m.strip() for m in ns.models.split(",") if m.strip()] if ns.models else None
    peers = [p.strip() for p in ns.peers.split(",") if p.strip()] if ns.peers else None
    return Options(ns.suite, ns.peers_python, ns.json, models, ns.epochs, ns.rounds, ns.threads, ns.size,
                   ns.max_steps, not ns.no_report, ns.seeds, ns.max_epochs, ns.also_fp32, configs, peers)


def section_name(opts: Options) -> str:
    """The report section a run rewrites: narrowed runs get their own, so they never erase a full one."""
    name = opts.suite
    if opts.models:
        name += f" --models {','.join(opts.models)}"
    if opts.epochs is not None:
        name += f" --epochs {opts.epochs}"
    if opts.seeds > 1:
        name += f" --seeds {opts.seeds}"
    if opts.peers:
        name += f" --peers {','.join(opts.peers)}"
    return name


def main(argv: list[str] | None = None) -> int:
    from recforge.core.allocator import keep_freed_memory
    from recforge.core.errors import RecforgeError

    keep_freed_memory()  # as `recforge train` does: the library no longer tunes malloc by itself
    opts = parse_args(argv)
    info = machine_info(opts.threads)
    try:
        output = get_suite(opts.suite)(opts)
    except RecforgeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    section = section_name(opts)
    body = [f"## {section}", info_block(info, peer_versions(opts.peers_python)), *output.tables]
    if output.notes:
        body.append("\n".join(f"- {n}" for n in output.notes))
    text = "\n\n".join(body)
    if opts.json:
        print(to_json(output.results))
        echo(text)
    else:
        print(text)
    if opts.report and opts.size == "full":
        echo(f"wrote {write_section(section, text, DEFAULT_REPORT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
