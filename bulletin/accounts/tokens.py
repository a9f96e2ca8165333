"""Signed, expiring links. Each is single-use because it is bound to state that its use changes."""

from __future__ import annotations

import hashlib
import secrets

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from bulletin.accounts.models import User


class TokenError(Exception):
    """The link is forged, expired or already used."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason  # "invalid", "expired" or "used"


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"bulletin.{purpose}")


def fingerprint(value: str) -> str:
    """A short digest of a value, for a token that must die when the value changes."""
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def make_confirmation_token(user: User) -> str:
    """A link token confirming the user's address; dead once the address is confirmed."""
    return _serializer("confirm").dumps({"u": user.id, "e": fingerprint(user.email)})


def make_reset_token(user: User) -> str:
    """A password reset token; dead once the password changes (it carries a fingerprint of the current hash)."""
    return _serializer("reset").dumps({"u": user.id, "p": fingerprint(user.password_hash)})


def make_unlock_token(user: User, last_unlock_id: int) -> str:
    """A sign-in unlock link; dead once any newer unlock of the account is recorded."""
    return _serializer("unlock").dumps({"u": user.id, "n": last_unlock_id})


def make_email_change_token(user: User, new_email: str) -> str:
    """A link token, sent to the new address, moving the account there; dead once the account's address changes."""
    return _serializer("email-change").dumps({"u": user.id, "e": fingerprint(user.email), "n": new_email})


def _load(purpose: str, token: str, max_age: int) -> dict:
    try:
        data = _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired as error:
        raise TokenError("expired") from error
    except BadSignature as error:
        raise TokenError("invalid") from error
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        raise TokenError("invalid")
    return data


def load_confirmation_token(token: str) -> tuple[int, str]:
    """(user id, e-mail fingerprint) from a confirmation token."""
    data = _load("confirm", token, current_app.config["CONFIRM_TOKEN_MAX_AGE"])
    return data["u"], str(data.get("e"))


def load_reset_token(token: str) -> tuple[int, str]:
    """(user id, password fingerprint) from a reset token."""
    data = _load("reset", token, current_app.config["RESET_TOKEN_MAX_AGE"])
    return data["u"], str(data.get("p"))


def load_unlock_token(token: str) -> tuple[int, int]:
    """(user id, id of the last unlock when the link was made) from an unlock token."""
    data = _load("unlock", token, current_app.config["UNLOCK_TOKEN_MAX_AGE"])
    if not isinstance(data.get("n"), int):
        raise TokenError("invalid")
    return data["u"], data["n"]


def load_email_change_token(token: str) -> tuple[int, str, str]:
    """(user id, fingerprint of the address it was asked from, new address) from an e-mail change token."""
    data = _load("email-change", token, current_app.config["EMAIL_CHANGE_TOKEN_MAX_AGE"])
    if not isinstance(data.get("n"), str) or "@" not in data["n"]:
        raise TokenError("invalid")
    return data["u"], str(data.get("e")), data["n"]


def fingerprint_matches(value: str, expected: str) -> bool:
    """Constant-time comparison of a value's fingerprint with one from a token."""
    return secrets.compare_digest(fingerprint(value), expected)


def new_invitation_token() -> tuple[str, str]:
    """A random invitation token and the hash stored in its place."""
    token = secrets.token_urlsafe(32)
    return token, hash_invitation_token(token)


def hash_invitation_token(token: str) -> str:
    """The stored form of an invitation token."""
    return hashlib.sha256(token.encode()).hexdigest()


def make_unsubscribe_token(user: User, kind: str) -> str:
    """A link token that turns off e-mail of one kind for one user (RFC 8058 one-click); it does not expire."""
    return _serializer("unsubscribe").dumps({"u": user.id, "k": kind})


def load_unsubscribe_token(token: str) -> tuple[int, str]:
    """(user id, kind) from an unsubscribe token; raises TokenError when forged."""
    try:
        data = _serializer("unsubscribe").loads(token)
    except BadSignature as error:
        raise TokenError("invalid") from error
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) or not isinstance(data.get("k"), str):
        raise TokenError("invalid")
    return data["u"], data["k"]
