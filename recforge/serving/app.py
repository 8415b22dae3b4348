"""The FastAPI application of ``recforge serve``: routes, error bodies, token, metrics.

Every error is a JSON body ``{"error": ..., "fix": ...}`` with a 4xx status for bad input
(422 malformed/unknown fields, 400 bad values, 404 unknown user/item, 401 missing token, 413
oversized body); the server keeps serving. Write endpoints (POST/DELETE /items) require
``Authorization: Bearer <token>`` when a token is set.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from recforge.core.errors import RecforgeError
from recforge.serving.batching import MicroBatcher
from recforge.serving.engine import NotFound, RecQuery
from recforge.serving.hotswap import ModelHolder
from recforge.serving.metrics import ServerMetrics
from recforge.serving.schemas import (
    BatchRequest,
    BatchResponse,
    ErrorBody,
    Health,
    ItemsRequest,
    ItemsResponse,
    PredictRequest,
    PredictResponse,
    RecommendRequest,
    RecommendResponse,
    SimilarResponse,
)

#: largest request body accepted (bytes)
MAX_BODY = 8 * 1024 * 1024


def _error(status: int, message: str, fix: str | None = None) -> JSONResponse:
    return JSONResponse(ErrorBody(error=message, fix=fix).model_dump(), status_code=status)


def _status(err: Exception) -> int:
    if isinstance(err, NotFound) or type(err).__name__ == "NotFoundError":
        return 404
    return 400


def _query(body: RecommendRequest) -> RecQuery:
    return RecQuery(body.user, body.features, list(body.history), body.k, body.exclude_seen, body.items)


def create_app(holder: ModelHolder, token: str | None = None, max_wait: float = 0.002) -> FastAPI:
    """The app serving ``holder``'s model (see the module docstring for the contract)."""
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        holder.stop()
        await batcher.close()

    app = FastAPI(title="recforge serve", description="Top-K, scores, similar items and a live catalogue "
                  "from a recforge saved model.", version="1", lifespan=lifespan)
    metrics = ServerMetrics()
    metrics.set_version(holder.current.version)
    metrics.catalogue.set(len(holder.current.catalogue))
    holder.on_swap = lambda fresh: (metrics.swaps.inc(), metrics.set_version(fresh.version),
                                    metrics.catalogue.set(len(fresh.catalogue)))

    def score(queries: list[RecQuery]) -> list[Any]:
        model = holder.current  # one version answers the whole batch
        return [(model.version, r) for r in model.recommend(queries)]

    batcher = MicroBatcher(score, max_wait=max_wait, on_batch=metrics.batch.observe)
    app.state.holder, app.state.metrics, app.state.batcher = holder, metrics, batcher
    app.add_middleware(_Observe, metrics=metrics, batcher=batcher)

    def authorize(authorization: str | None = Header(None)) -> None:
        if token is None:
            return
        given = (authorization or "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise _AuthError()

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        kind = first.get("type", "")
        if kind == "json_invalid":
            return _error(422, "the body is not valid JSON", "send a JSON object")
        if where == "body" and kind in ("model_attributes_type", "dict_type"):
            return _error(422, "the body must be a JSON object", "send JSON with Content-Type: application/json")
        if kind == "extra_forbidden":
            return _error(422, f"unknown field '{where}'", "see the request schema at /docs")
        return _error(422, f"field '{where}': {first.get('msg', 'invalid')}", "see the request schema at /docs")

    @app.exception_handler(RecforgeError)
    async def recforge_error(_: Request, err: RecforgeError) -> JSONResponse:
        message, _, fix = str(err).partition("; ")
        return _error(_status(err), message, fix or None)

    @app.exception_handler(_AuthError)
    async def unauthorized(_: Request, __: Exception) -> JSONResponse:
        return _error(401, "this endpoint needs the server's token", "send Authorization: Bearer <token>")

    @app.post("/recommend", response_model=RecommendResponse, responses={400: {"model": ErrorBody}, 404: {"model": ErrorBody}})
    async def recommend(body: RecommendRequest, request: Request) -> Response:
        """Top-K items for a user id, or for a new user given features and/or history."""
        _submitted(request.scope, batcher)
        version, result = await batcher.submit(_query(body))
        if isinstance(result, Exception):
            raise result
        # the hot path: rows are built by the engine already; skip re-validating them
        return JSONResponse({"model_version": version, "user": body.user, "items": result})

    @app.post("/recommend/batch", response_model=BatchResponse)
    async def recommend_batch(body: BatchRequest) -> BatchResponse:
        """Top-K for many users in one call; a failing entry carries its error."""
        pairs = await run_in_threadpool(score, [_query(r) for r in body.requests])
        out: list[Any] = []
        for req, (version, result) in zip(body.requests, pairs):
            if isinstance(result, Exception):
                message, _, fix = str(result).partition("; ")
                out.append({"user": req.user, "error": message, "fix": fix or None})
            else:
                out.append(RecommendResponse(model_version=version, user=req.user, items=result))
        return BatchResponse(model_version=pairs[0][0] if pairs else holder.current.version, results=out)

    @app.post("/predict", response_model=PredictResponse)
    async def predict(body: PredictRequest) -> PredictResponse:
        """Scores of rows carrying the training data's columns."""
        model = holder.current
        scores = await run_in_threadpool(model.predict, body.rows)
        return PredictResponse(model_version=model.version, scores=scores)

    @app.get("/similar/{item}", response_model=SimilarResponse)
    async def similar(item: str, k: int = 10) -> SimilarResponse:
        """The k live items closest to ITEM (cosine over the model's item vectors)."""
        model = holder.current
        rows = await run_in_threadpool(model.similar, item, k)
        return SimilarResponse(model_version=model.version, item=item, items=rows)

    @app.post("/items", response_model=ItemsResponse, dependencies=[Depends(authorize)])
    async def add_items(body: ItemsRequest) -> ItemsResponse:
        """Add or update items: the model's encoders run on them; recommendable at once; persisted."""
        model = holder.current
        await run_in_threadpool(model.add_items, body.items)
        metrics.catalogue.set(len(model.catalogue))
        return ItemsResponse(model_version=model.version, added=len(body.items), catalogue_size=len(model.catalogue),
                             catalogue_version=model.catalogue.version)

    @app.delete("/items/{item}", response_model=ItemsResponse, dependencies=[Depends(authorize)])
    async def retire_item(item: str) -> ItemsResponse:
        """Retire an item: never recommended again (persisted)."""
        model = holder.current
        await run_in_threadpool(model.retire, item)
        metrics.catalogue.set(len(model.catalogue))
        return ItemsResponse(model_version=model.version, added=0, catalogue_size=len(model.catalogue),
                             catalogue_version=model.catalogue.version)

    @app.get("/health", response_model=Health)
    async def health() -> Health:
        model = holder.current
        return Health(status="ok", model_version=model.version, catalogue_size=len(model.catalogue),
                      index=model.index.kind if model.index is not None else "exact",
                      nprobe=model.index.nprobe if model.index is not None else None)

    @app.get("/metrics")
    async def prometheus() -> Response:
        metrics.catalogue.set(len(holder.current.catalogue))
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --workers N`` (each worker process loads the model itself)."""
    import os

    from recforge.serving.ann import INDEX_ENV, index_from_env
    from recforge.serving.batching import THREADS_ENV, set_scoring_threads

    set_scoring_threads(int(os.environ.get(THREADS_ENV, "1")))

    holder = ModelHolder(os.environ["RECFORGE_SERVE_MODEL"], float(os.environ.get("RECFORGE_SERVE_POLL", "2")),
                         index_config=index_from_env(os.environ.get(INDEX_ENV, "")))
    token_env = os.environ.get("RECFORGE_SERVE_TOKEN_ENV")
    return create_app(holder, os.environ.get(token_env) if token_env else None)


def _endpoint(path: str) -> str:
    """The metrics label of a path (path parameters folded)."""
    return "/similar/{item}" if path.startswith("/similar/") else "/items/{id}" if path.startswith("/items/") else path


#: scope key marking a /recommend request counted in the batcher's ``in_flight``
_COUNTED = "recforge.in_flight"


def _submitted(scope: dict[str, Any], batcher: MicroBatcher) -> None:
    """A counted request reached the batcher's queue: it no longer keeps a batch waiting."""
    if scope.pop(_COUNTED, False):
        batcher.in_flight -= 1


class _Observe:
    """ASGI middleware: body size limit, request/latency metrics, in-flight count for batching.

    A plain ASGI wrapper rather than ``@app.middleware("http")`` (Starlette's
    ``BaseHTTPMiddleware`` runs every request through an extra task group and memory stream,
    which cost more than scoring a two-tower request).
    """

    def __init__(self, app: Any, metrics: ServerMetrics, batcher: MicroBatcher) -> None:
        self.app = app
        self.metrics = metrics
        self.batcher = batcher

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        endpoint = _endpoint(scope.get("path", ""))
        length = next((v for k, v in scope.get("headers", ()) if k == b"content-length"), b"").decode("latin-1")
        if length.isdigit() and int(length) > MAX_BODY:
            self.metrics.requests.labels(endpoint, "413").inc()
            await _error(413, f"request body of {length} bytes is over the {MAX_BODY} byte limit",
                         "send fewer rows or items per request")(scope, receive, send)
            return
        status = [500]

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        start = time.perf_counter()
        if endpoint == "/recommend":
            scope[_COUNTED] = True
            self.batcher.in_flight += 1
        try:
            await self.app(scope, receive, sending)
        finally:
            _submitted(scope, self.batcher)
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - start)
            self.metrics.requests.labels(endpoint, str(status[0])).inc()


class _AuthError(Exception):
    """A write request without the server's token (HTTP 401)."""
