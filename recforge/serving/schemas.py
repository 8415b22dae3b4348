"""Request and response bodies of the HTTP API (pydantic; unknown fields are rejected)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: most requests in one /recommend/batch, rows in one /predict, items in one POST /items
MAX_BATCH = 1000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecommendRequest(Strict):
    """Top-K for a user id, or for a user the model never saw (``features`` and/or ``history``)."""

    user: str | None = Field(None, description="raw user id")
    features: dict[str, Any] | None = Field(None, description="user-role fields of a new user")
    history: list[str] = Field(default_factory=list, description="item ids the user interacted with")
    k: int = Field(10, description="how many items (1 .. catalogue size)")
    exclude_seen: bool = Field(True, description="leave out the user's training items and history")
    items: list[str] | None = Field(None, description="only rank these item ids")


class Recommendation(BaseModel):
    rank: int
    item: Any
    score: float
    model_config = ConfigDict(extra="allow")  # display metadata (title ...)


class RecommendResponse(BaseModel):
    model_version: str
    user: str | None
    items: list[Recommendation]


class BatchRequest(Strict):
    requests: list[RecommendRequest] = Field(..., max_length=MAX_BATCH)


class BatchResponse(BaseModel):
    model_version: str
    results: list[RecommendResponse | dict[str, Any]]


class PredictRequest(Strict):
    rows: list[dict[str, Any]] = Field(..., min_length=1, max_length=MAX_BATCH,
                                       description="rows with the training data's columns")


class PredictResponse(BaseModel):
    model_version: str
    scores: list[float]


class SimilarResponse(BaseModel):
    model_version: str
    item: str
    items: list[Recommendation]


class ItemsRequest(Strict):
    items: list[dict[str, Any]] = Field(..., min_length=1, max_length=MAX_BATCH,
                                        description="items with the id field and their item fields (text, categories)")


class ItemsResponse(BaseModel):
    model_version: str
    added: int
    catalogue_size: int
    catalogue_version: int


class Health(BaseModel):
    status: str
    model_version: str
    catalogue_size: int
    index: str
    nprobe: int | None = None  # IVF lists probed per query (tuned or --nprobe)


class ErrorBody(BaseModel):
    error: str
    fix: str | None = None
