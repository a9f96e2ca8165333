"""Make the moderation log append-only in the database too

The ORM already refuses to update or delete a ModerationDecision (bulletin/core/audit.py); these triggers refuse it
to every other client of the database as well: raw SQL, a shell, another program. Each refusal is an integrity error
("the moderation log is append-only"): SQLite's RAISE(ABORT) is a constraint error, and PostgreSQL's exception is
raised as restrict_violation (SQLSTATE 23001) so that both reach SQLAlchemy as an IntegrityError.

Triggers are not part of the models' metadata, so autogenerate neither sees nor writes them. On SQLite a later
batch_alter_table on moderation_decision copies the table, drops the old one and with it these triggers: such a
migration has to create them again (tests/test_migrations.py checks that they exist at head).

Revision ID: 5c9266ae8c3a
Revises: ea1a8c8c3ee9
Create Date: 2026-12-01 15:16:11.917239

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '5c9266ae8c3a'
down_revision = 'ea1a8c8c3ee9'
branch_labels = None
depends_on = None

MESSAGE = "the moderation log is append-only"


def dialect() -> str:
    """The database's dialect: bulletin runs on SQLite and on PostgreSQL."""
    name = op.get_bind().dialect.name
    if name not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"no append-only triggers for {name}")
    return name


def upgrade():
    if dialect() == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION moderation_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation';
            END
            $$
            """
        )
        op.execute(
            "CREATE TRIGGER moderation_decision_no_update_or_delete BEFORE UPDATE OR DELETE ON moderation_decision "
            "FOR EACH ROW EXECUTE FUNCTION moderation_log_is_append_only()"
        )
        op.execute(
            "CREATE TRIGGER moderation_decision_no_truncate BEFORE TRUNCATE ON moderation_decision "
            "FOR EACH STATEMENT EXECUTE FUNCTION moderation_log_is_append_only()"
        )
    else:
        for verb in ("update", "delete"):
            op.execute(
                f"CREATE TRIGGER moderation_decision_no_{verb} BEFORE {verb.upper()} ON moderation_decision "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )


def downgrade():
    if dialect() == "postgresql":
        op.execute("DROP TRIGGER moderation_decision_no_truncate ON moderation_decision")
        op.execute("DROP TRIGGER moderation_decision_no_update_or_delete ON moderation_decision")
        op.execute("DROP FUNCTION moderation_log_is_append_only()")
    else:
        op.execute("DROP TRIGGER moderation_decision_no_delete")
        op.execute("DROP TRIGGER moderation_decision_no_update")
