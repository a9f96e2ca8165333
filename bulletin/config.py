"""Configuration classes; every setting can be overridden from the environment."""

from __future__ import annotations

import os
from pathlib import Path

from bulletin.core.text import parse_month_day


class ConfigError(RuntimeError):
    """Raised when the configuration cannot be used safely (e.g. production without SECRET_KEY)."""


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int | None) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else default


class Config:
    """Defaults for every environment."""

    ENV_NAME = "development"
    SECRET_KEY: str | None = "dev-only-secret-key-do-not-use-in-production"
    SQLALCHEMY_DATABASE_URI: str | None = None  # filled from DATABASE_URL or instance/bulletin.sqlite
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    BASE_URL = "http://localhost:5000"
    MAIL_SUBJECT_PREFIX = "[全国連携マッチング掲示板]"
    MAIL_FROM = "全国連携マッチング掲示板 <noreply@localhost>"
    SMTP_HOST: str | None = None
    SMTP_PORT = 25
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: str | None = None
    SMTP_STARTTLS = False
    SMTP_SSL = False
    SMTP_TIMEOUT = 20
    MAIL_FOLDER: str | None = None  # defaults to instance/mail when SMTP_HOST is not set
    MAIL_MAX_ATTEMPTS = 6
    MAIL_RETRY_BASE_SECONDS = 60
    MAIL_COALESCE_SECONDS = 300  # messages of one conversation within five minutes make one e-mail
    REDIS_URL: str | None = None
    TRUSTED_PROXIES = 0  # reverse proxies in front whose X-Forwarded-For/-Proto headers are believed
    UPLOAD_DIR: str | None = None
    BABEL_DEFAULT_LOCALE = "ja"
    BABEL_DEFAULT_TIMEZONE = "Asia/Tokyo"
    LANGUAGES = ("ja", "en")
    WTF_CSRF_TIME_LIMIT = 4 * 3600
    # Every validator carries its own (translated) message; WTForms' catalogue would be re-read on every request.
    WTF_I18N_ENABLED = False
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    SESSION_COOKIE_NAME = "bulletin_session"
    # The cookie is sent again only when its content changes: its lifetime is the session's longest
    # (SESSION_MAX_HOURS from sign-in), and the session's row, not the cookie, ends an idle session.
    SESSION_REFRESH_EACH_REQUEST = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = False
    # A signed-in session ends after this long without a request, and this long after sign-in whatever happens.
    SESSION_IDLE_MINUTES = 120
    SESSION_MAX_HOURS = 12
    SECURITY_LOG_RETENTION_DAYS = 400  # a year and its April review, then the lines go
    # Accounts nobody signed in to for this many months are suspended by `bulletin expire` (0: never), after a
    # warning e-mail this many days before.
    INACTIVITY_SUSPEND_MONTHS = 13
    INACTIVITY_WARNING_DAYS = 30
    # Where staff of a suspended organization, or a suspended officer, write to the secretariat (shown on the page
    # and in the mail that tells them why); unset: "the secretariat" without an address.
    CONTACT_EMAIL: str | None = None
    # The rest of the secretariat's contact on /contact. Unset name and hours read as the secretariat's usual ones
    # (in the reader's language); an unset phone number is left out.
    CONTACT_NAME: str | None = None
    CONTACT_PHONE: str | None = None
    CONTACT_HOURS: str | None = None
    CONFIRM_TOKEN_MAX_AGE = 3 * 24 * 3600
    EMAIL_CHANGE_TOKEN_MAX_AGE = 3 * 24 * 3600  # the link to the new address, as long as a registration's
    RESET_TOKEN_MAX_AGE = 2 * 3600
    INVITATION_MAX_AGE_DAYS = 14
    # The password typed by a signed-in user to change their two-factor setting (only they can set this limit off).
    SETTINGS_PASSWORD_LIMIT = "5 per 15 minutes"
    # Wrong passwords per sender address, whatever the account (Flask-Limiter; Redis with several processes).
    LOGIN_LIMIT_PER_ADDRESS = "30 per 15 minutes"
    # Per account and address together (bulletin/accounts/throttle.py): free tries, then a doubling wait.
    LOGIN_FREE_TRIES = 3
    LOGIN_DELAY_BASE_SECONDS = 2
    LOGIN_DELAY_MAX_SECONDS = 15 * 60
    LOGIN_FAILURE_WINDOW_MINUTES = 60
    # This many failures on one account from all addresses within the window: a new address needs the mailed link.
    LOGIN_ACCOUNT_GUARD = 20
    UNLOCK_TOKEN_MAX_AGE = 3600
    # Forms that send mail to an address anyone can type (registration, password reset, invitations): per sender
    # address by the limiter, and at most ACCOUNT_MAILS_PER_HOUR such mails to one address, whoever asks.
    MAIL_FORM_LIMIT_PER_ADDRESS = "10 per hour"
    ACCOUNT_MAILS_PER_HOUR = 3
    RATELIMIT_ENABLED = True
    # The April review (人事異動): from this day (MM-DD) each organization confirms its staff for the fiscal year that
    # begins on 1 April; its admins are reminded by e-mail on that day and then every STAFF_REVIEW_REMINDER_DAYS days
    # until it has confirmed, or until STAFF_REVIEW_REMINDERS_UNTIL (MM-DD, the same calendar year).
    STAFF_REVIEW_OPENS = "03-01"
    STAFF_REVIEW_REMINDERS_UNTIL = "04-30"
    STAFF_REVIEW_REMINDER_DAYS = 7
    # The statistics count members, agreements and exchange relations as of this day (MM-DD) of each fiscal year, as
    # the project's record does (1 August).
    STATS_REFERENCE_DAY = "08-01"
    RATELIMIT_HEADERS_ENABLED = False
    # argon2id parameters (RFC 9106 second recommended option, scaled for a shared server)
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 64 * 1024
    ARGON2_PARALLELISM = 2
    PASSWORD_MIN_LENGTH = 12
    # Two-factor sign-in (TOTP): `required` sends a moderator without it to enrolment before any other page;
    # `optional` leaves it to each user, as it is for everyone else.
    MODERATOR_TWO_FACTOR = "required"
    TOTP_ISSUER = "全国連携マッチング掲示板"  # the name an authenticator app shows beside the account
    TWO_FACTOR_LOGIN_MINUTES = 5  # how long the code step of a login waits after the right password
    TWO_FACTOR_MAX_FAILURES = 5  # wrong codes in one login before it goes back to the password step
    # Wrong codes at the code step, per address and per account (whatever the address: a pending login's count
    # lives in its cookie, which a guesser could copy back, so the account's count is kept by the limiter).
    TWO_FACTOR_LIMIT_PER_ADDRESS = "30 per 15 minutes"
    TWO_FACTOR_LIMIT_PER_ACCOUNT = "10 per hour;30 per day"
    MAX_CONTENT_LENGTH = 52 * 1024 * 1024  # five attachments of 10 MB and the form around them
    MAX_FORM_MEMORY_SIZE = 1024 * 1024

    @classmethod
    def from_environment(cls) -> dict:
        """Read the documented environment variables into a dict of overrides."""
        overrides: dict = {}
        env = os.environ
        if env.get("SECRET_KEY"):
            overrides["SECRET_KEY"] = env["SECRET_KEY"]
        if env.get("DATABASE_URL"):
            overrides["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(env["DATABASE_URL"])
        for name in (
            "BASE_URL",
            "MAIL_FROM",
            "SMTP_HOST",
            "SMTP_USERNAME",
            "SMTP_PASSWORD",
            "REDIS_URL",
            "UPLOAD_DIR",
            "MAIL_FOLDER",
            "MAIL_FORM_LIMIT_PER_ADDRESS",
            "LOGIN_LIMIT_PER_ADDRESS",
            "MODERATOR_TWO_FACTOR",
            "TOTP_ISSUER",
            "STAFF_REVIEW_OPENS",
            "STAFF_REVIEW_REMINDERS_UNTIL",
            "STATS_REFERENCE_DAY",
            "CONTACT_EMAIL",
            "CONTACT_NAME",
            "CONTACT_PHONE",
            "CONTACT_HOURS",
        ):
            if env.get(name):
                overrides[name] = env[name]
        if "MODERATOR_TWO_FACTOR" in overrides:
            overrides["MODERATOR_TWO_FACTOR"] = overrides["MODERATOR_TWO_FACTOR"].strip().lower()
        for name in (
            "SMTP_PORT",
            "SMTP_TIMEOUT",
            "MAIL_MAX_ATTEMPTS",
            "TRUSTED_PROXIES",
            "ACCOUNT_MAILS_PER_HOUR",
            "SESSION_IDLE_MINUTES",
            "SESSION_MAX_HOURS",
            "LOGIN_FREE_TRIES",
            "LOGIN_DELAY_BASE_SECONDS",
            "LOGIN_DELAY_MAX_SECONDS",
            "LOGIN_ACCOUNT_GUARD",
            "SECURITY_LOG_RETENTION_DAYS",
            "STAFF_REVIEW_REMINDER_DAYS",
            "INACTIVITY_SUSPEND_MONTHS",
            "INACTIVITY_WARNING_DAYS",
        ):
            value = _env_int(name, None)
            if value is not None:
                overrides[name] = value
        for name in ("SMTP_STARTTLS", "SMTP_SSL"):
            if env.get(name) is not None:
                overrides[name] = _env_bool(name, False)
        if overrides.get("BASE_URL", "").startswith("https://"):
            overrides["SESSION_COOKIE_SECURE"] = True
            overrides["REMEMBER_COOKIE_SECURE"] = True
        return overrides


class DevelopmentConfig(Config):
    """Local development: SQLite in instance/, mail written to instance/mail."""

    CONTACT_EMAIL = "renkei@tokyo23.example.jp"  # the demo secretariat's address (a reserved example domain)


class TestingConfig(Config):
    """The test suite: fast password hashing, no CSRF in unit tests unless asked, no rate limits unless asked."""

    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "testing-secret-key"
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = False
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    ARGON2_PARALLELISM = 1
    BASE_URL = "http://localhost"
    # Otherwise every test that signs a moderator in would need a code; the tests of the rule set `required`.
    MODERATOR_TWO_FACTOR = "optional"


class ProductionConfig(Config):
    """Production: secure cookies, and no usable default secret."""

    ENV_NAME = "production"
    SECRET_KEY = None
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True


TWO_FACTOR_POLICIES = ("required", "optional")

CONFIGS = {"development": DevelopmentConfig, "testing": TestingConfig, "production": ProductionConfig}


def shared_state_warning(workers: int, redis_url: str | None) -> str | None:
    """What to warn about at start-up when several worker processes would each keep their own rate-limit counts."""
    if workers <= 1 or redis_url:
        return None
    return (
        f"REDIS_URL is not set and {workers} worker processes will run: the limits per sender address (sign-in, "
        f"registration, password reset, invitations) are counted in each process's memory, so an address gets "
        f"{workers} times the tries. Set REDIS_URL (e.g. redis://127.0.0.1:6379/0)."
    )


def normalise_database_url(url: str) -> str:
    """Accept postgres:// and postgresql:// URLs and use the psycopg 3 driver for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def check_staff_review_dates(config) -> None:
    """The April review's dates must be days every year has, the reminders ending after the review opens."""
    try:
        opens = parse_month_day(config["STAFF_REVIEW_OPENS"])
        until = parse_month_day(config["STAFF_REVIEW_REMINDERS_UNTIL"])
    except ValueError as error:
        raise ConfigError(
            f"STAFF_REVIEW_OPENS and STAFF_REVIEW_REMINDERS_UNTIL: {error} (e.g. 03-01, 04-30)"
        ) from error
    if until < opens:
        raise ConfigError("STAFF_REVIEW_REMINDERS_UNTIL must not come before STAFF_REVIEW_OPENS in the year")
    if config["STAFF_REVIEW_REMINDER_DAYS"] < 1:
        raise ConfigError("STAFF_REVIEW_REMINDER_DAYS must be at least 1")


def load_config(app, config: dict | str | None) -> None:
    """Fill app.config from the chosen class, the environment, then explicit overrides."""
    explicit = config if isinstance(config, dict) else {}
    if isinstance(config, str):
        name = config
    else:
        name = explicit.get("ENV_NAME") or os.environ.get("BULLETIN_ENV", "development")
    if name not in CONFIGS:
        raise ConfigError(f"Unknown BULLETIN_ENV {name!r}; use one of {', '.join(CONFIGS)}")
    app.config.from_object(CONFIGS[name])
    if name != "testing":
        app.config.update(Config.from_environment())
    app.config.update(explicit)

    instance = Path(app.instance_path)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        instance.mkdir(parents=True, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'bulletin.sqlite'}"
    if not app.config.get("UPLOAD_DIR"):
        app.config["UPLOAD_DIR"] = str(instance / "uploads")
    if not app.config.get("MAIL_FOLDER"):
        app.config["MAIL_FOLDER"] = str(instance / "mail")
    # The cookie lives as long as a session may; the session's row decides whether it still opens anything.
    app.config["PERMANENT_SESSION_LIFETIME"] = app.config["SESSION_MAX_HOURS"] * 3600
    app.config["RATELIMIT_STORAGE_URI"] = app.config.get("REDIS_URL") or "memory://"
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # A local file needs no liveness ping before each checkout.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 30}}

    warning = shared_state_warning(_env_int("WEB_CONCURRENCY", 1) or 1, app.config.get("REDIS_URL"))
    if warning and name != "testing":
        app.logger.warning(warning)

    if app.config["MODERATOR_TWO_FACTOR"] not in TWO_FACTOR_POLICIES:
        raise ConfigError(f"MODERATOR_TWO_FACTOR must be one of {', '.join(TWO_FACTOR_POLICIES)}")
    check_staff_review_dates(app.config)
    try:
        parse_month_day(app.config["STATS_REFERENCE_DAY"])
    except ValueError as error:
        raise ConfigError(f"STATS_REFERENCE_DAY: {error} (e.g. 08-01)") from error

    if not app.config.get("SECRET_KEY"):
        raise ConfigError("SECRET_KEY must be set in production (export SECRET_KEY=...)")
    if name == "production" and app.config["SECRET_KEY"] == Config.SECRET_KEY:
        raise ConfigError("SECRET_KEY must not be the development default in production")
