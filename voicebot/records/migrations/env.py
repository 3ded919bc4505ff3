"""Alembic environment: the engine comes from voicebot's settings, never from an ini file."""

from alembic import context

import voicebot.records.handoffs  # noqa: F401  (its tables belong to the same metadata)
from voicebot.records.models import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
