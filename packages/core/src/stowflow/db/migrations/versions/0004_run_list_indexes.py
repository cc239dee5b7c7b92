"""indexes for the UI's run lists filtered by work pool or state, newest first

Revision ID: 0004_run_list_indexes
Revises: 0003_run_states_workers
"""

from alembic import op

revision = '0004_run_list_indexes'
down_revision = '0003_run_states_workers'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ORDER BY created DESC, id DESC within one pool / one state reads the index backwards
    # instead of sorting every run of the pool (or in that state) for each page.
    op.create_index('ix_flow_runs_pool_created', 'flow_runs',
                    ['work_pool_name', 'created', 'id'], unique=False)
    op.create_index('ix_flow_runs_state_created', 'flow_runs',
                    ['state', 'created', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_flow_runs_state_created', table_name='flow_runs')
    op.drop_index('ix_flow_runs_pool_created', table_name='flow_runs')
