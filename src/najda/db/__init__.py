"""Database layer: models, sessions, migrations and the embedded cluster."""
