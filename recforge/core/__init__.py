"""Core services: registry, data, model assembly, training, store. Never imports the CLI or console."""
