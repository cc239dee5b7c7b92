"""PostgreSQL: drop ix_deployment_schedules_due and leave room on deployment_schedules'
pages, so the scheduler's watermark UPDATE is a HOT update (SQLite keeps the index)

Revision ID: 0006_schedule_watermarks_hot
Revises: 0005_drop_run_deployment_index
"""

from alembic import op

revision = '0006_schedule_watermarks_hot'
down_revision = '0005_drop_run_deployment_index'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every tick moves the watermark (next_fire_at) of every due schedule. While an index
    # holds next_fire_at, PostgreSQL writes each moved row as a new version with an entry
    # in every index of the table (3); with none, and free space on the page, the update is
    # HOT: one heap record, no index entry (UPDATE of 1,000 watermarks 21-25 -> 7 ms). What
    # it costs: the tick's query reads the whole table, also when little is due (an idle
    # tick grows with the number of schedules; benchmarks/schedules/README.md). SQLite has
    # no HOT update, so it keeps the index.
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_deployment_schedules_due', table_name='deployment_schedules')
        op.execute('ALTER TABLE deployment_schedules SET (fillfactor = 50)')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE deployment_schedules RESET (fillfactor)')
        op.create_index('ix_deployment_schedules_due', 'deployment_schedules',
                        ['active', 'next_fire_at'], unique=False)
