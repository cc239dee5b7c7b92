"""flow run state history and worker heartbeats (web UI)

Revision ID: 0003_run_states_workers
Revises: 0002_schedules
"""

import sqlalchemy as sa
from alembic import op

revision = '0003_run_states_workers'
down_revision = '0002_schedules'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('flow_run_states',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('flow_run_id', sa.String(length=36), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('timestamp', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['flow_run_id'], ['flow_runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_flow_run_states_run', 'flow_run_states', ['flow_run_id', 'id'], unique=False)
    op.create_table('workers',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('work_pool_name', sa.String(length=200), nullable=True),
    sa.Column('started', sa.DateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('work_pool_name', 'name')
    )
    op.create_index('ix_workers_work_pool_name', 'workers', ['work_pool_name'], unique=False)
    # the UI lists runs newest first
    op.create_index('ix_flow_runs_created', 'flow_runs', ['created'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_flow_runs_created', table_name='flow_runs')
    op.drop_index('ix_workers_work_pool_name', table_name='workers')
    op.drop_table('workers')
    op.drop_index('ix_flow_run_states_run', table_name='flow_run_states')
    op.drop_table('flow_run_states')
