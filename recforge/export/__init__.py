"""``recforge export``: a saved model's scoring path as ONNX or TorchScript, verified."""

from recforge.export.exporter import ExportResult, export_model

__all__ = ["ExportResult", "export_model"]
