"""Built-in datasets plugin: registers every built-in dataset recipe through `register_datasets`."""

from __future__ import annotations

from recforge.core.hookspecs import Register, hookimpl


@hookimpl
def register_datasets(register: Register) -> None:
    """Register the built-in dataset recipes (one module each)."""
    from recforge.plugins.datasets.amazon import Amazon2018
    from recforge.plugins.datasets.amazon_seq import AmazonSeq
    from recforge.plugins.datasets.bing_news import BingNews
    from recforge.plugins.datasets.ctr_samples import Avazu, Criteo
    from recforge.plugins.datasets.files import FilesRecipe
    from recforge.plugins.datasets.mind import Mind
    from recforge.plugins.datasets.ml_latest_small import MovieLensLatestSmall
    from recforge.plugins.datasets.movielens_100k import MovieLens100K
    from recforge.plugins.datasets.parquet import ParquetRecipe

    for recipe in (MovieLens100K, MovieLensLatestSmall, BingNews, Mind, Amazon2018, AmazonSeq, Criteo, Avazu, FilesRecipe,
                   ParquetRecipe):
        register(recipe)
