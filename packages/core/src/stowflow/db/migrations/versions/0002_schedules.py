"""schedules, schedule skips, and the run columns for schedules and retries

Revision ID: 0002_schedules
Revises: 0001
Create Date: 2026-12-02 11:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0002_schedules'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('deployment_schedules',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('deployment_id', sa.String(length=36), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('cron', sa.String(length=200), nullable=True),
    sa.Column('interval_s', sa.Float(), nullable=True),
    sa.Column('rrule', sa.Text(), nullable=True),
    sa.Column('timezone', sa.String(length=100), nullable=False),
    sa.Column('anchor_date', sa.DateTime(timezone=True), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('max_active_runs', sa.Integer(), nullable=True),
    sa.Column('next_fire_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['deployment_id'], ['deployments.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('deployment_schedules', schema=None) as batch_op:
        batch_op.create_index('ix_deployment_schedules_due', ['active', 'next_fire_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_deployment_schedules_deployment_id'), ['deployment_id'], unique=False)

    op.create_table('schedule_skips',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('schedule_id', sa.String(length=36), nullable=False),
    sa.Column('first_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('count', sa.Integer(), nullable=True),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['schedule_id'], ['deployment_schedules.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('schedule_id', 'first_at')
    )
    with op.batch_alter_table('schedule_skips', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_schedule_skips_schedule_id'), ['schedule_id'], unique=False)

    with op.batch_alter_table('flow_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('schedule_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('retry_of', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('pinned_code_version', sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f('ix_flow_runs_schedule_id'), ['schedule_id'], unique=False)
        batch_op.create_unique_constraint('uq_flow_runs_schedule_time', ['deployment_id', 'schedule_id', 'scheduled_at'])
        batch_op.create_foreign_key('fk_flow_runs_schedule_id', 'deployment_schedules', ['schedule_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('flow_runs', schema=None) as batch_op:
        batch_op.drop_constraint('fk_flow_runs_schedule_id', type_='foreignkey')
        batch_op.drop_constraint('uq_flow_runs_schedule_time', type_='unique')
        batch_op.drop_index(batch_op.f('ix_flow_runs_schedule_id'))
        batch_op.drop_column('pinned_code_version')
        batch_op.drop_column('retry_of')
        batch_op.drop_column('schedule_id')
    op.drop_table('schedule_skips')
    op.drop_table('deployment_schedules')
