"""Dispatch: incidents from call to closure, response plans, recommendations, assignment.

Plain domain code. ``lifecycle`` and ``plans`` are pure (no database); ``incidents``,
``assignments``, ``recommend`` and ``auth`` are services over an SQLAlchemy engine whose
database errors are translated into :mod:`najda.errors` in one place (``store``).
Nothing here knows Flask.
"""
