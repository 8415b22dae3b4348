"""Data layer: schema, readers, feature fitting, tensor tables, splits, sampling."""
