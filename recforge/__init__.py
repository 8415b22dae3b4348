"""recforge: recommender systems from plug-in components, with language models as encoders."""

__version__ = "0.1.0"
