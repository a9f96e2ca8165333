"""Search by readings and without dakuten; post bodies rendered for Japanese writing

A post's search text now holds the name and reading of its organizations and of their prefectures (さかいし,
ほっかいどう), and a second copy without dakuten and handakuten, which a search falls back to when the exact form
finds nothing (かに finds 黄金がに). Every existing post gets both, computed as the application computes them.

Every existing body is rendered again as the application now renders it: line breaks kept, bold next to Japanese
brackets, bare URLs as links, tables in a box that scrolls on a phone. Bodies that used none of these come out as
they were.

The column is added and dropped in place (ALTER TABLE): no table is copied, so nothing that references post is
touched.

Revision ID: 411ddb963a9f
Revises: 5714d5b23d6a
Create Date: 2026-12-01 19:40:00.000000

"""
from alembic import op
import sqlalchemy as sa

from bulletin.posts.rendering import render_markdown
from bulletin.posts.services import search_texts


# revision identifiers, used by Alembic.
revision = '411ddb963a9f'
down_revision = '5714d5b23d6a'
branch_labels = None
depends_on = None

post = sa.table(
    'post',
    *(sa.column(name) for name in (
        'id', 'organization_id', 'title', 'summary', 'offered', 'sought', 'body', 'tags', 'venue', 'body_html',
        'search_text', 'search_text_unvoiced',
    )),
)
organization = sa.table('organization', sa.column('id'), sa.column('name'), sa.column('kana'), sa.column('prefecture_code'))
co_proposer = sa.table('co_proposer', sa.column('post_id'), sa.column('organization_id'), sa.column('state'))


def upgrade():
    op.add_column('post', sa.Column('search_text_unvoiced', sa.Text(), server_default='', nullable=False))

    connection = op.get_bind()
    organizations = {
        row.id: (row.name, row.kana or '', row.prefecture_code)
        for row in connection.execute(sa.select(organization))
    }
    co_proposers: dict[int, list[int]] = {}
    for row in connection.execute(
        sa.select(co_proposer.c.post_id, co_proposer.c.organization_id)
        .where(co_proposer.c.state == 'accepted')
        .order_by(co_proposer.c.post_id, co_proposer.c.organization_id)
    ):
        co_proposers.setdefault(row.post_id, []).append(row.organization_id)
    updates = []
    for row in connection.execute(sa.select(post).order_by(post.c.id)):
        exact, unvoiced = search_texts(
            [row.title, row.summary, row.offered, row.sought, row.body, (row.tags or '').replace(',', ' '), row.venue],
            [organizations[org_id] for org_id in (row.organization_id, *co_proposers.get(row.id, []))],
        )
        updates.append(
            {'post_id': row.id, 'html': render_markdown(row.body), 'exact': exact, 'unvoiced': unvoiced}
        )
    if updates:
        connection.execute(
            post.update()
            .where(post.c.id == sa.bindparam('post_id'))
            .values(
                body_html=sa.bindparam('html'),
                search_text=sa.bindparam('exact'),
                search_text_unvoiced=sa.bindparam('unvoiced'),
            ),
            updates,
        )


def downgrade():
    # The readings stay in search_text and the bodies as rendered: both read as before without the column.
    op.drop_column('post', 'search_text_unvoiced')
