"""Hold the files of an unsaved post form as staged attachments

Revision ID: f06b236f6013
Revises: 411ddb963a9f
Create Date: 2026-12-01 19:37:43.890500

A file chosen on the post form is kept when the form is previewed or refused: a row per file, found by a random
token the form carries back and usable by its uploader only, until the post is saved or a day has passed. A new table:
nothing else changes.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f06b236f6013'
down_revision = '411ddb963a9f'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('staged_attachment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('original_name', sa.String(length=255), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=50), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], name=op.f('fk_staged_attachment_organization_id_organization'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user.id'], name=op.f('fk_staged_attachment_uploaded_by_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staged_attachment')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_staged_attachment_stored_name')),
    sa.UniqueConstraint('token', name=op.f('uq_staged_attachment_token'))
    )
    with op.batch_alter_table('staged_attachment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staged_attachment_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_staged_attachment_uploaded_by_id'), ['uploaded_by_id'], unique=False)



def downgrade():
    with op.batch_alter_table('staged_attachment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staged_attachment_uploaded_by_id'))
        batch_op.drop_index(batch_op.f('ix_staged_attachment_created_at'))

    op.drop_table('staged_attachment')
