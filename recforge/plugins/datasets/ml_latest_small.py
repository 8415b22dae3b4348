"""MovieLens latest-small (GroupLens): 100,836 ratings and 3,683 tags by 610 users."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


from recforge.core.components import param
from recforge.core.data.readers import read_table
from recforge.core.data.recipe import Recipe, RawData, RemoteFile, join_meta, locate
from recforge.core.data.schema import FieldSpec

FOLDER = "ml-latest-small"
URL = "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip"
FILES = {
    "ratings.csv": "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646",
    "movies.csv": "5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07",
    "tags.csv": "92a9f8bb7916dceef6151209845788c3643f794dfa79d1feaec7121b5960399d",
}


class MovieLensLatestSmall(Recipe):
    """MovieLens latest-small: half-star ratings, genres, titles and user tags per movie.

    Tags are lower-cased, de-duplicated per movie and kept as a multi-valued item field;
    movies without tags get an empty list. Raw files come from ``RECFORGE_DATA_DIR/ml-latest-small``
    or GroupLens (sha256-checked).

    Args:
        threshold: a rating at or above it is a positive (label 1).
        max_tags: keep at most this many tags per movie (most used first).

    Example:
        data: {recipe: ml-latest-small, split: {method: user_temporal, ratios: [0.8, 0.1, 0.1]}}
    """

    name = "ml-latest-small"

    @dataclass
    class Params:
        threshold: float = param(4.0, "ratings >= threshold are positives (label 1)")
        max_tags: int = param(20, "keep at most this many tags per movie")

    def raw_files(self, params: MovieLensLatestSmall.Params) -> list[Path]:
        base = locate(FOLDER, list(FILES), [RemoteFile(n, URL, h, member=f"ml-latest-small/{n}") for n, h in FILES.items()])
        return [base / n for n in FILES]

    def load(self, params: MovieLensLatestSmall.Params) -> RawData:
        ratings_f, movies_f, tags_f = self.raw_files(params)
        ratings = read_table(ratings_f).rename(columns={"userId": "user_id", "movieId": "item_id"})
        movies = read_table(movies_f).rename(columns={"movieId": "item_id"}).set_index("item_id")
        tags = read_table(tags_f).rename(columns={"movieId": "item_id"})
        tag_norm = tags.assign(tag=tags["tag"].astype("string").str.replace("|", "/", regex=False).str.strip().str.lower()).dropna(subset=["tag"])
        counted = tag_norm.groupby(["item_id", "tag"]).size().rename("n").reset_index()
        counted = counted.sort_values(["item_id", "n", "tag"], ascending=[True, False, True])
        counted = counted[counted.groupby("item_id").cumcount() < params.max_tags]
        per_movie = counted.groupby("item_id")["tag"].agg("|".join)
        item_meta = movies.assign(tags=per_movie.reindex(movies.index).fillna(""))
        frame = ratings.assign(label=(ratings["rating"] >= params.threshold).astype("int64"))
        frame = join_meta(frame, item_meta, "item_id", "item", ratings_f)
        fields = [
            FieldSpec("label", "label"),
            FieldSpec("user_id", "categorical", role="user"),
            FieldSpec("item_id", "categorical", role="item"),
            FieldSpec("genres", "multi_categorical", role="item", sep="|"),
            FieldSpec("tags", "multi_categorical", role="item", sep="|", max_len=params.max_tags, min_count=2),
            FieldSpec("title", "text", role="item"),
        ]
        return RawData({"all": frame}, fields, "user_id", "item_id", "timestamp", item_meta, None, [ratings_f, movies_f, tags_f], {"all": str(ratings_f)})
