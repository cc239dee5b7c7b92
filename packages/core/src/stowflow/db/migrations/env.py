"""Alembic environment: migrations run on the connection stowflow hands over."""

from alembic import context
from stowflow.db.models import Base

connection = context.config.attributes.get("connection")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
