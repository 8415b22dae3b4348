"""Alembic migrations of the run store, shipped inside the package (see ``env.py``)."""
