"""drop ix_flow_runs_deployment_id: the unique key (deployment_id, schedule_id, scheduled_at)
already starts with deployment_id, so every lookup by deployment reads that index

Revision ID: 0005_drop_run_deployment_index
Revises: 0004_run_list_indexes
"""

from alembic import op

revision = '0005_drop_run_deployment_index'
down_revision = '0004_run_list_indexes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One index less to update per run inserted: 1 of the 5 on random keys (ids), which
    # each dirty a page per row of a scheduler tick (issue 18's benchmark).
    op.drop_index('ix_flow_runs_deployment_id', table_name='flow_runs')


def downgrade() -> None:
    op.create_index('ix_flow_runs_deployment_id', 'flow_runs', ['deployment_id'], unique=False)
