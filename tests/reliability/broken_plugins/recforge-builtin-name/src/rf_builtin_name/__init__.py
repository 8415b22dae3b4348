"""A plugin whose entry point has the name of the built-in encoders plugin."""
