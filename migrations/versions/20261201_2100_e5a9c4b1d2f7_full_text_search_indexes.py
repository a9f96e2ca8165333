"""Full-text search indexes and the folded title and summary

Keyword search no longer reads every post: on SQLite an FTS5 table with the trigram tokenizer (post_fts, external
content on post, kept in step by triggers) indexes the folded texts; on PostgreSQL, pg_trgm GIN indexes on the same
columns answer LIKE '%…%'. A new column holds the folded title and summary, where a keyword makes a post more
relevant; every existing post gets it, and the FTS table is filled from the posts a board already has.

The column is added and dropped in place (ALTER TABLE): no table is copied.

Revision ID: e5a9c4b1d2f7
Revises: 3e8a2b1cc7da
Create Date: 2026-12-01 21:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

from bulletin.core.text import fold


# revision identifiers, used by Alembic.
revision = 'e5a9c4b1d2f7'
down_revision = '3e8a2b1cc7da'
branch_labels = None
depends_on = None

post = sa.table('post', sa.column('id'), sa.column('title'), sa.column('summary'), sa.column('search_head'))

SQLITE_UP = (
    "CREATE VIRTUAL TABLE post_fts USING fts5(search_text, search_text_unvoiced, content='post',"
    " content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER post_fts_after_insert AFTER INSERT ON post BEGIN"
    " INSERT INTO post_fts(rowid, search_text, search_text_unvoiced)"
    " VALUES (new.id, new.search_text, new.search_text_unvoiced); END",
    "CREATE TRIGGER post_fts_after_delete AFTER DELETE ON post BEGIN"
    " INSERT INTO post_fts(post_fts, rowid, search_text, search_text_unvoiced)"
    " VALUES ('delete', old.id, old.search_text, old.search_text_unvoiced); END",
    "CREATE TRIGGER post_fts_after_update AFTER UPDATE OF search_text, search_text_unvoiced ON post BEGIN"
    " INSERT INTO post_fts(post_fts, rowid, search_text, search_text_unvoiced)"
    " VALUES ('delete', old.id, old.search_text, old.search_text_unvoiced);"
    " INSERT INTO post_fts(rowid, search_text, search_text_unvoiced)"
    " VALUES (new.id, new.search_text, new.search_text_unvoiced); END",
    "INSERT INTO post_fts(post_fts) VALUES ('rebuild')",
)
SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS post_fts_after_update",
    "DROP TRIGGER IF EXISTS post_fts_after_delete",
    "DROP TRIGGER IF EXISTS post_fts_after_insert",
    "DROP TABLE IF EXISTS post_fts",
)
POSTGRESQL_UP = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_post_search_text_trgm ON post USING gin (search_text gin_trgm_ops)",
    "CREATE INDEX ix_post_search_text_unvoiced_trgm ON post USING gin (search_text_unvoiced gin_trgm_ops)",
)
POSTGRESQL_DOWN = (
    "DROP INDEX IF EXISTS ix_post_search_text_unvoiced_trgm",
    "DROP INDEX IF EXISTS ix_post_search_text_trgm",
)  # the extension stays: other databases' objects may use it


def upgrade():
    op.add_column('post', sa.Column('search_head', sa.Text(), server_default='', nullable=False))
    connection = op.get_bind()
    updates = [
        {'post_id': row.id, 'head': f"{fold(row.title or '')}\n{fold(row.summary or '')}"}
        for row in connection.execute(sa.select(post.c.id, post.c.title, post.c.summary))
    ]
    if updates:
        connection.execute(
            post.update().where(post.c.id == sa.bindparam('post_id')).values(search_head=sa.bindparam('head')),
            updates,
        )
    for statement in SQLITE_UP if connection.dialect.name == 'sqlite' else POSTGRESQL_UP:
        op.execute(statement)


def downgrade():
    for statement in SQLITE_DOWN if op.get_bind().dialect.name == 'sqlite' else POSTGRESQL_DOWN:
        op.execute(statement)
    op.drop_column('post', 'search_head')
