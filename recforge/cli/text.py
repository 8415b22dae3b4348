"""``recforge text encode CONFIG``: fill the text cache for a config's text encoders ahead of training.

Catalogue-scale text encoding is the slowest step of a text-aware experiment. This command
prepares the config's data, builds its model, and fills the persistent text cache
(:mod:`recforge.core.textcache`) for every text bank (``text-lm``, ``text-seq``): locally
through the bank's own ``prepare`` (the path training takes), or with ``--ray-address ADDR``
as a Ray Data ``map_batches`` job over ``--workers`` actors
(:mod:`recforge.ray_support.text_encoding`). A later ``recforge train`` then finds every vector
cached and encodes nothing.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from recforge.cli._output import emit_json, emit_table
from recforge.cli.train import json_option, set_option
from recforge.core.errors import ConfigError


def text_banks(model: Any) -> list[Any]:
    """The model's text banks (``text-lm`` and ``text-seq`` encoders), in module order."""
    from recforge.plugins.encoders.text_bank import TextBank

    return [module for module in model.modules() if isinstance(module, TextBank)]


@click.group("text")
def text() -> None:
    """Language-model text vectors: fill the text cache before training."""


@text.command("encode")
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False, path_type=Path))
@set_option
@click.option("--ray-address", default=None, metavar="ADDR",
              help="Encode as a Ray Data job on this cluster ('auto', 'ray://host:10001', or 'local').")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Ray Data encoding actors (one language model each; default 1); needs --ray-address.")
@json_option
def encode(config_path: Path, overrides: tuple[str, ...], ray_address: str | None, workers: int | None,
           as_json: bool) -> None:
    """Encode every distinct text CONFIG's text encoders need into the text cache."""
    from recforge.core.components import PrepareContext
    from recforge.core.config import load_config
    from recforge.core.data import prepare_data
    from recforge.core.model import build_model
    from recforge.core.store import Store
    from recforge.core.textcache import TextCache

    config = load_config(config_path, list(overrides))
    if workers is not None and ray_address is None:
        raise ConfigError("--workers needs --ray-address", fix="pass --ray-address local (or auto, or ray://HOST:10001)")
    if ray_address is not None:
        from recforge.ray_support import require_ray

        require_ray()  # before the data is prepared
    rows = []
    with Store.open() as store:
        prepared = prepare_data(config.data_section(), store=store)
        banks = text_banks(build_model(config, prepared))
        if not banks:
            raise ConfigError(f"{config_path} has no text encoders (text-lm, text-seq) to encode for",
                              fix="add a text field with encoder text-lm to model.encoders")
        cache = TextCache(store=store)
        for bank in banks:
            texts = [t for t in bank.texts if t.strip()]
            _, found = cache.lookup(bank.cache_config(), texts)
            missing = len({t for t, ok in zip(texts, found.tolist()) if not ok})
            started = time.perf_counter()
            if ray_address is None:
                bank.prepare(PrepareContext(store=store, show_progress=not as_json))
            else:
                from recforge.ray_support.text_encoding import fill_cache_with_ray

                fill_cache_with_ray(cache, bank.cache_config(), texts, bank.params, ray_address, workers or 1)
            rows.append({"field": bank.owner, "texts": len(set(texts)), "encoded": missing,
                         "seconds": round(time.perf_counter() - started, 2), "model": bank.model_id})
    if as_json:
        emit_json({"engine": "ray" if ray_address else "local", "banks": rows})
        return
    emit_table(f"text cache filled ({'Ray Data' if ray_address else 'local'})",
               ["field", "distinct texts", "encoded now", "seconds"],
               [(r["field"], r["texts"], r["encoded"], f"{r['seconds']:.1f}") for r in rows])


COMMANDS = [text]
