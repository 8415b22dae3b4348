"""Built-in plugins. Each module registers its components through the public hooks, exactly as
a third-party plugin would; this list is what :mod:`recforge.core.registry` loads first."""

BUILTIN_PLUGINS: list[str] = [
    "recforge.plugins.encoders",
    "recforge.plugins.interactions",
    "recforge.plugins.rankers",
    "recforge.plugins.datasets",
]
