"""``recforge serve MODEL``: the HTTP API over a saved model (FastAPI + uvicorn)."""

from __future__ import annotations

import os

import click

from recforge.core.errors import ConfigError
from recforge.serving.ann import EXACT_BELOW, INDEX_ENV, IndexConfig, index_to_env
from recforge.serving.batching import THREADS_ENV, set_scoring_threads


def _require_serving() -> None:
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as err:
        raise ConfigError(f"serving needs the 'serve' extra ({err.name} is not installed)",
                          fix="pip install 'recforge[serve]'") from None


@click.command("serve")
@click.argument("model", metavar="MODEL")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (0.0.0.0 = every interface).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes (each loads the model; the live catalogue is per process).")
@click.option("--token-env", default=None, metavar="VAR",
              help="Environment variable holding the token that POST/DELETE /items require.")
@click.option("--poll", default=2.0, show_default=True, type=click.FloatRange(0),
              help="Seconds between registry checks of a name@stage MODEL (hot swap; 0 = off).")
@click.option("--ann", "ann_method", default="ivf", show_default=True, type=click.Choice(["ivf", "hnsw"]),
              help="Approximate index of embedding models above --exact-below items.")
@click.option("--exact-below", default=EXACT_BELOW, show_default=True, type=click.IntRange(0),
              help="Catalogue size under which top-K is an exact matrix product.")
@click.option("--nprobe", default=0, show_default=True, type=click.IntRange(0),
              help="IVF lists probed per query (0 = the fewest reaching --ann-recall on known users' vectors).")
@click.option("--ann-recall", default=0.95, show_default=True, type=click.FloatRange(0, 1),
              help="Top-10 recall against exact search that --nprobe 0 tunes for.")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(1, 256),
              help="Torch threads scoring a batch (per worker); the event loop parsing requests needs a core too.")
def serve(model: str, host: str, port: int, workers: int, token_env: str | None, poll: float, ann_method: str,
          exact_below: int, nprobe: int, ann_recall: float, threads: int) -> None:
    """Serve MODEL (run id, name@stage, name/version or saved-model folder) over HTTP.

    Endpoints: POST /recommend, POST /recommend/batch, POST /predict, GET /similar/{item},
    POST /items, DELETE /items/{id}, GET /health, GET /metrics; OpenAPI docs at /docs.
    Embedding models (two-tower, MF, BPR, LightGCN) retrieve exactly below --exact-below
    items and through a faiss IVF (or HNSW) index above.
    """
    _require_serving()
    import uvicorn

    from recforge.serving.app import create_app
    from recforge.serving.hotswap import ModelHolder

    os.environ[THREADS_ENV] = str(threads)  # read by every worker process (app_from_env) too
    set_scoring_threads(threads)
    index = IndexConfig(method=ann_method, exact_below=exact_below, nprobe=nprobe,  # type: ignore[arg-type]
                        target_recall=ann_recall)
    token = None
    if token_env is not None:
        token = os.environ.get(token_env)
        if not token:
            raise ConfigError(f"--token-env {token_env}: the variable is not set or empty",
                              fix=f"export {token_env}=<a secret> before starting the server")
    if workers > 1:
        os.environ.update({"RECFORGE_SERVE_MODEL": model, "RECFORGE_SERVE_POLL": str(poll),
                           "RECFORGE_SERVE_TOKEN_ENV": token_env or "", INDEX_ENV: index_to_env(index)})
        from recforge.services.model_refs import open_model

        open_model(model)  # fail here, with one line, before the workers start
        uvicorn.run("recforge.serving.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                    log_level="warning")
        return
    holder = ModelHolder(model, poll_seconds=poll, index_config=index)
    click.echo(f"serving {holder.current.version} ({len(holder.current.catalogue)} items) on http://{host}:{port} "
               f"(docs: /docs)", err=True)
    uvicorn.run(create_app(holder, token), host=host, port=port, log_level="warning", access_log=False)


COMMANDS = [serve]
