"""Configuration classes; every setting can be overridden from the environment."""

from __future__ import annotations

import os
from pathlib import Path


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
    CONFIRM_TOKEN_MAX_AGE = 3 * 24 * 3600
    RESET_TOKEN_MAX_AGE = 2 * 3600
    INVITATION_MAX_AGE_DAYS = 14
    LOGIN_LIMIT_PER_ACCOUNT = "5 per 15 minutes"
    LOGIN_LIMIT_PER_ADDRESS = "30 per 15 minutes"
    # Forms that send mail to an address anyone can type (registration, password reset, invitations): per sender
    # address by the limiter, and at most ACCOUNT_MAILS_PER_HOUR such mails to one address, whoever asks.
    MAIL_FORM_LIMIT_PER_ADDRESS = "10 per hour"
    ACCOUNT_MAILS_PER_HOUR = 3
    RATELIMIT_ENABLED = True
    RATELIMIT_HEADERS_ENABLED = False
    # argon2id parameters (RFC 9106 second recommended option, scaled for a shared server)
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 64 * 1024
    ARGON2_PARALLELISM = 2
    PASSWORD_MIN_LENGTH = 12
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
            "CONTACT_EMAIL",
        ):
            if env.get(name):
                overrides[name] = env[name]
        for name in (
            "SMTP_PORT",
            "SMTP_TIMEOUT",
            "MAIL_MAX_ATTEMPTS",
            "TRUSTED_PROXIES",
            "ACCOUNT_MAILS_PER_HOUR",
            "SESSION_IDLE_MINUTES",
            "SESSION_MAX_HOURS",
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


class ProductionConfig(Config):
    """Production: secure cookies, and no usable default secret."""

    ENV_NAME = "production"
    SECRET_KEY = None
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True


CONFIGS = {"development": DevelopmentConfig, "testing": TestingConfig, "production": ProductionConfig}


def normalise_database_url(url: str) -> str:
    """Accept postgres:// and postgresql:// URLs and use the psycopg 3 driver for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


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

    if not app.config.get("SECRET_KEY"):
        raise ConfigError("SECRET_KEY must be set in production (export SECRET_KEY=...)")
    if name == "production" and app.config["SECRET_KEY"] == Config.SECRET_KEY:
        raise ConfigError("SECRET_KEY must not be the development default in production")
