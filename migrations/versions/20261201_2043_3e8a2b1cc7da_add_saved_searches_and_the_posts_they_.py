"""Add saved searches and the posts they matched

Revision ID: 3e8a2b1cc7da
Revises: c3e1a7d52b90
Create Date: 2026-12-01 20:43:04.427688

New tables only: a member's saved searches of the post list, and one row per post a saved search matched (its primary
key is the pair, so a post is never told twice for one saved search).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3e8a2b1cc7da'
down_revision = 'c3e1a7d52b90'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('saved_search',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('query', sa.String(length=500), server_default='', nullable=False),
    sa.Column('delivery', sa.Enum('immediate', 'digest', 'off', name='saved_search_delivery', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_saved_search_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_search')),
    sa.UniqueConstraint('user_id', 'name', name='uq_saved_search_user_name')
    )
    with op.batch_alter_table('saved_search', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_saved_search_user_id'), ['user_id'], unique=False)

    op.create_table('saved_search_match',
    sa.Column('saved_search_id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['post.id'], name=op.f('fk_saved_search_match_post_id_post'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['saved_search_id'], ['saved_search.id'], name=op.f('fk_saved_search_match_saved_search_id_saved_search'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('saved_search_id', 'post_id', name=op.f('pk_saved_search_match'))
    )
    with op.batch_alter_table('saved_search_match', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_saved_search_match_post_id'), ['post_id'], unique=False)



def downgrade():
    with op.batch_alter_table('saved_search_match', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_saved_search_match_post_id'))

    op.drop_table('saved_search_match')
    with op.batch_alter_table('saved_search', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_saved_search_user_id'))

    op.drop_table('saved_search')
