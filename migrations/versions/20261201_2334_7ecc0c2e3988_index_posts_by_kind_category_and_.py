"""Index posts by kind, category and publication for the statistics

Revision ID: 7ecc0c2e3988
Revises: cdb6cfdd846c
Create Date: 2026-12-01 23:34:27.247937

The statistics by fiscal year count the published posts of each kind and category in each fiscal year as one range of
this index, without reading the posts' rows.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7ecc0c2e3988'
down_revision = 'cdb6cfdd846c'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('post', schema=None) as batch_op:
        batch_op.create_index('ix_post_kind_category_published_at', ['kind', 'category', 'published_at'], unique=False)



def downgrade():
    with op.batch_alter_table('post', schema=None) as batch_op:
        batch_op.drop_index('ix_post_kind_category_published_at')

