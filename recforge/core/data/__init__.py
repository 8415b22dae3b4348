"""Data layer: schema, readers, feature fitting, tensor tables, splits, sampling.

Entry point: :func:`prepare_data` (see docs/architecture.md).
"""

from recforge.core.data.featuremap import FeatureMap
from recforge.core.data.prepare import PreparedData, prepare_data
from recforge.core.data.recipe import RawData, Recipe
from recforge.core.data.schema import FieldInfo, FieldSpec
from recforge.core.data.table import TensorTable

__all__ = ["FeatureMap", "FieldInfo", "FieldSpec", "PreparedData", "RawData", "Recipe", "TensorTable", "prepare_data"]
