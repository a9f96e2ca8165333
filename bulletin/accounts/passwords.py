"""Password hashing (argon2id) and the strength rules: long enough, not common, not the address itself."""

from __future__ import annotations

import gzip
import re
from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l


@cache
def _hasher(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


def hasher() -> PasswordHasher:
    """The argon2id hasher with the configured cost."""
    return _hasher(*_cost())


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    return hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when the password matches the hash."""
    try:
        return hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than the configured ones."""
    try:
        return hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def spend_verification_time(password: str) -> None:
    """Verify against a throw-away hash, so that an unknown address costs as much time as a known one."""
    verify_password(_dummy_hash(*_cost()), password)


def _cost() -> tuple[int, int, int]:
    cfg = current_app.config
    return cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST"], cfg["ARGON2_PARALLELISM"]


@cache
def _dummy_hash(time_cost: int, memory_cost: int, parallelism: int) -> str:
    return _hasher(time_cost, memory_cost, parallelism).hash("bulletin-timing-equaliser")


@cache
def common_passwords() -> frozenset[str]:
    """Twenty thousand common passwords (the list Django ships, lower-cased)."""
    raw = resources.files("bulletin.accounts").joinpath("data", "common-passwords.txt.gz").read_bytes()
    return frozenset(line.strip() for line in gzip.decompress(raw).decode().splitlines() if line.strip())


def password_problems(password: str, email: str = "", min_length: int = 12) -> list[str]:
    """Why a password is not acceptable, as messages for the form; empty when it is fine."""
    problems: list[str] = []
    if len(password) < min_length:
        problems.append(str(_l("パスワードは%(n)d文字以上にしてください。", n=min_length)))
        return problems
    lowered = password.lower()
    core = re.sub(r"[\d\W_]+$", "", lowered)  # password2024! -> password
    local_part = email.split("@", 1)[0].lower() if email else ""
    if lowered in common_passwords() or (len(core) >= 4 and core in common_passwords()):
        problems.append(str(_l("よく使われるパスワードです。推測されにくいものにしてください。")))
    elif len(set(password)) <= 3:
        problems.append(str(_l("同じ文字の繰り返しが多すぎます。")))
    elif local_part and len(local_part) >= 4 and local_part in lowered:
        problems.append(str(_l("メールアドレスを含まないパスワードにしてください。")))
    return problems
