"""Alembic environment: the engine is handed in by najda.db.migrate."""

from alembic import context

from najda.db.models import Base

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        compare_type=True,
        include_object=lambda obj, name, type_, reflected, compare_to: (
            not (type_ == "table" and name in {"spatial_ref_sys"})
            and not (type_ == "index" and name and name.startswith("idx_"))
        ),
    )
    context.run_migrations()
