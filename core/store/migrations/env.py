"""Alembic environment: runs the revisions on the connection ``core.store.migrate`` hands over (or on
``sqlalchemy.url`` from alembic.ini when run by the ``alembic`` command, e.g. for ``--autogenerate``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from core.store.tables import Base, load_all

load_all()
config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(config.get_section(config.config_ini_section) or {}, prefix="sqlalchemy.",
                                poolclass=pool.NullPool)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata,
                          render_as_batch=conn.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()


run()
