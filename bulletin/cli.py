"""The `bulletin` command: Flask's CLI over the app factory, plus the board's own commands."""

from __future__ import annotations

import functools
import logging
import signal
import sys
import time
from collections.abc import Callable

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

import bulletin
from bulletin.accounts import services as accounts
from bulletin.accounts import staff_review, two_factor
from bulletin.accounts.passwords import password_problems
from bulletin.accounts.sessions import purge_expired as purge_expired_sessions
from bulletin.core.db import write_intent
from bulletin.core.security_events import purge_old_security_events
from bulletin.core.text import format_fiscal_year
from bulletin.demo import OFFICERS, create_demo_world
from bulletin.extensions import db
from bulletin.moderation.inactivity import apply_inactivity_rules
from bulletin.notifications.delivery import deliver_due
from bulletin.notifications.services import send_digests
from bulletin.organizations.services import seed_organizations
from bulletin.posts.services import expire_posts, purge_staged_files, remind_deadlines

log = logging.getLogger(__name__)


def _create_app():
    return bulletin.create_app()


def writes(command: Callable) -> Callable:
    """A command whose transactions write: on SQLite each takes the write lock at its start (see core.db)."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        token = write_intent.set(True)
        try:
            return command(*args, **kwargs)
        finally:
            write_intent.reset(token)

    return run


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main():
    """全国連携マッチング掲示板 (bulletin)."""


@click.command("seed")
@with_appcontext
@writes
def seed_command():
    """Load prefectures, municipalities, wards and agreements (idempotent)."""
    report = seed_organizations()
    db.session.commit()
    click.echo(
        f"organizations created: {report.created}, updated: {report.updated}, "
        f"agreements created: {report.agreements_created}"
    )


@click.command("demo")
@with_appcontext
@writes
def demo_command():
    """Seed, then add the demo world and print its logins."""
    seed_organizations()
    logins = create_demo_world()
    db.session.commit()
    click.echo("デモ用ログイン / demo logins:")
    for role, email, password in logins:
        click.echo(f"  {role:<28} {email}  /  {password}")
    others = ", ".join(officer.email for officer in OFFICERS if not officer.label)
    click.echo(f"  other demo officers (same password): {others}")


@click.command("create-moderator")
@click.argument("email")
@click.option("--name", default="特別区長会事務局", show_default=True)
@with_appcontext
@writes
def create_moderator_command(email: str, name: str):
    """Create (or reset) a moderator; the password is read from standard input."""
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    problems = password_problems(password, email)
    if problems:
        raise click.ClickException(problems[0])
    accounts.create_moderator(email, password, name=name)
    db.session.commit()
    click.echo(f"moderator {accounts.normalise_email(email)} is ready")


@click.command("reset-two-factor")
@click.argument("email")
@with_appcontext
@writes
def reset_two_factor_command(email: str):
    """Turn off a user's two-factor sign-in (a lost phone and lost recovery codes); every session of theirs ends, and
    a moderator enrols again after their next sign-in. Check who is asking before running it."""
    user = accounts.get_user_by_email(email)
    if user is None:
        raise click.ClickException(f"no account with the address {accounts.normalise_email(email)}")
    if not two_factor.reset_two_factor(user):
        click.echo(f"{user.email} has no two-factor sign-in: nothing changed")
        return
    db.session.commit()
    click.echo(f"two-factor sign-in of {user.email} is off; they have been told by e-mail")


@click.command("worker")
@click.option("--once", is_flag=True, help="Deliver what is due, then exit.")
@click.option("--now", "include_waiting", is_flag=True, help="Treat messages waiting for a retry as due.")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between polls.")
@with_appcontext
@writes
def worker_command(once: bool, include_waiting: bool, interval: float):
    """Deliver the e-mail outbox (SMTP, or the mail folder when SMTP_HOST is not set)."""
    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    while True:
        try:
            report = deliver_due(include_waiting=include_waiting, should_stop=lambda: stopping)
        except Exception:  # e.g. the database away for a moment: the worker lives on and polls again
            log.exception("delivering the outbox failed")
            if once:
                raise SystemExit(1) from None
        else:
            include_waiting = False  # --now is for the first drain; afterwards the backoff applies again
            if report.sent or report.retried or report.failed or once:
                click.echo(f"sent {report.sent}, to retry {report.retried}, failed {report.failed}")
        finally:
            db.session.remove()
        if once or stopping:
            return
        slept = 0.0
        while slept < interval and not stopping:
            time.sleep(0.2)
            slept += 0.2
        if stopping:
            return


@click.command("digest")
@with_appcontext
@writes
def digest_command():
    """Send each user with digest items one e-mail of them all (run daily from cron)."""
    count = send_digests()
    db.session.commit()
    click.echo(f"queued {count} digest(s)")


@click.command("expire")
@with_appcontext
@writes
def expire_command():
    """Move published posts past their deadline to `expired`, remind those due in seven days, do the April review's
    daily work (see `bulletin staff-review`), warn and then suspend accounts unused for INACTIVITY_SUSPEND_MONTHS,
    delete ended sessions and security-log lines past their retention, and files chosen on a post form that was never
    saved, a day later (idempotent; run daily)."""
    count = expire_posts()
    reminded = remind_deadlines()
    review = staff_review.run_daily()
    inactivity = apply_inactivity_rules()
    sessions_gone = purge_expired_sessions()
    events_gone = purge_old_security_events(current_app.config["SECURITY_LOG_RETENTION_DAYS"])
    staged_gone = purge_staged_files()
    db.session.commit()
    click.echo(
        f"expired {count} post(s), reminded {reminded}, "
        f"warned {inactivity.warned} and suspended {inactivity.suspended} unused account(s), "
        f"deleted {sessions_gone} ended session(s), {events_gone} old security-log line(s) "
        f"and {staged_gone} unsaved file(s)"
    )
    click.echo(_review_report(review))


def _review_report(review: staff_review.DailyReport) -> str:
    return (
        f"staff review {format_fiscal_year(review.fiscal_year, 'en')}: reminded {review.reminded} organization(s), "
        f"deactivated {review.deactivated} account(s) of staff who left"
    )


@click.command("staff-review")
@with_appcontext
@writes
def staff_review_command():
    """The April review's daily work (also done by `bulletin expire`): deactivate the accounts of staff whose last day
    is over, and remind the organizations that have not confirmed their staff, on the day the review opens
    (STAFF_REVIEW_OPENS) and then weekly until STAFF_REVIEW_REMINDERS_UNTIL. Idempotent: run it as often as you like."""
    review = staff_review.run_daily()
    db.session.commit()
    click.echo(_review_report(review))


def register_commands(app: Flask) -> None:
    """Attach the board's commands to the app (so `flask` and `bulletin` both have them)."""
    for command in (
        seed_command,
        demo_command,
        create_moderator_command,
        reset_two_factor_command,
        worker_command,
        expire_command,
        staff_review_command,
        digest_command,
    ):
        app.cli.add_command(command)
