"""Alembic environment: runs against the engine handed over by ``Database``."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import approvals.drift_model  # noqa: F401  (registers the tables on SQLModel.metadata)
import approvals.models  # noqa: F401
import approvals.proposals  # noqa: F401  (and the proposal table)

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=engine.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
