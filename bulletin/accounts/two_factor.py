"""Two-factor sign-in: a code from an authenticator app (TOTP, RFC 6238) after the password, or a single-use
recovery code when the phone is not at hand.

Enrolment takes two steps: the user proves their password and gets a new secret (kept on their row as pending, never
in the cookie, and trusted for nothing), then types a code made from it; only then does the secret become the one
sign-in asks for, and ten recovery codes are made and shown once. Every change to the setting ends the user's other
sessions, writes a line of the security log and sends an account mail. No verb here commits.

A code is accepted once: the time step of the last accepted code is kept on the user, and a code of that step or an
earlier one is refused (a guarded update, so two requests with one code at the same instant give one sign-in). A
recovery code is spent by a guarded update too.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from datetime import datetime

import pyotp
import segno
from flask import current_app
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import delete, func, or_, select, update

from bulletin.accounts.models import RecoveryCode, User
from bulletin.accounts.passwords import verify_password
from bulletin.accounts.sessions import end_sessions
from bulletin.core import signals
from bulletin.core.db import guarded_update, utcnow
from bulletin.core.errors import DomainError
from bulletin.core.security_events import SecurityEventKind, record_security_event
from bulletin.extensions import db

STEP_SECONDS = 30
TOTP_DIGITS = 6
SECRET_LENGTH = 32  # base32 characters: 160 bits, the length RFC 4226 recommends for the HMAC-SHA1 key
RECOVERY_CODE_COUNT = 10
# Crockford's base32 (no i, l, o, u): 16 characters are 80 random bits, read aloud or typed without confusion.
RECOVERY_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
RECOVERY_CODE_LENGTH = 16
_LOOK_ALIKES = str.maketrans({"i": "1", "l": "1", "o": "0"})


class TwoFactorError(DomainError):
    """A two-factor change the rules refuse; `message` is shown to the user."""


class CodeRefused(Exception):
    """The code typed at sign-in is not accepted; `reason` is wrong or reused (the user is told the same)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# --- the rule for moderators ---------------------------------------------------------------------------------------


def required_for_moderators() -> bool:
    """Whether moderators must sign in with two factors (MODERATOR_TWO_FACTOR = required)."""
    return current_app.config["MODERATOR_TWO_FACTOR"] == "required"


def must_enrol(user: User) -> bool:
    """A moderator without two-factor sign-in, while the rule requires it: sent to enrolment before anything else."""
    return required_for_moderators() and user.can_moderate() and not user.has_two_factor


def may_turn_off(user: User) -> bool:
    """Moderators under the rule may enrol again with a new phone, never go without."""
    return not (required_for_moderators() and user.is_moderator)


# --- codes ---------------------------------------------------------------------------------------------------------


def normalise_code(value: str) -> str:
    """What a person typed, as a code: full-width characters folded, spaces and hyphens gone, lower case."""
    return re.sub(r"[\s\-‐‑–—―ー－]", "", unicodedata.normalize("NFKC", value or "")).lower()


def looks_like_totp(code: str) -> bool:
    """Six digits: a code from the authenticator app."""
    return len(code) == TOTP_DIGITS and code.isascii() and code.isdigit()


def looks_like_recovery_code(code: str) -> bool:
    """Sixteen characters of the recovery alphabet (after folding the letters that look like digits)."""
    code = code.translate(_LOOK_ALIKES)
    return len(code) == RECOVERY_CODE_LENGTH and all(character in RECOVERY_ALPHABET for character in code)


def hash_recovery_code(code: str) -> str:
    """The stored form of a recovery code, however it was typed."""
    return hashlib.sha256(normalise_code(code).translate(_LOOK_ALIKES).encode()).hexdigest()


def current_step(now: datetime | None = None) -> int:
    """The TOTP time step of the moment (30 seconds each, counted from the Unix epoch)."""
    return int((now or utcnow()).timestamp()) // STEP_SECONDS


def matching_step(secret: str, code: str, now: datetime | None = None) -> int | None:
    """The time step whose code this is, allowing one step of clock drift either way; None when it is none of them."""
    if not looks_like_totp(code):
        return None
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=STEP_SECONDS)
    step = current_step(now)
    for candidate in (step - 1, step, step + 1):
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


# --- showing a secret ----------------------------------------------------------------------------------------------


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    return " ".join(secret[index : index + 4] for index in range(0, len(secret), 4))


def provisioning_uri(user: User, secret: str) -> str:
    """The otpauth:// address an authenticator app reads from the QR code: issuer and the user's e-mail address."""
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=user.email, issuer_name=current_app.config["TOTP_ISSUER"]
    )


def qr_code_svg(uri: str, label: str) -> Markup:
    """The QR code of the address as SVG to put straight into the page: drawn here (nothing leaves the server), with
    presentation attributes only (no style, no script: the CSP allows neither inline), sized by the stylesheet."""
    svg = segno.make(uri).svg_inline(  # the smallest version, with as much error correction as it holds
        scale=1, border=4, dark="#000", light="#fff", svgclass="qr-code", lineclass=None, omitsize=True
    )
    if not svg.startswith("<svg "):  # segno's inline form; anything else is not put into a page
        raise ValueError("unexpected SVG from segno")
    return Markup(f'<svg role="img" aria-label="{escape(label)}" ' + svg[len("<svg ") :])


# --- recovery codes ------------------------------------------------------------------------------------------------


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
    return "-".join(raw[index : index + 4] for index in range(0, RECOVERY_CODE_LENGTH, 4))


def _replace_recovery_codes(user: User) -> list[str]:
    """Delete the user's recovery codes and make ten new ones; the codes themselves, to show once."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    now = utcnow()
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=hash_recovery_code(c), created_at=now) for c in codes)
    db.session.flush()
    return codes


def unused_recovery_codes(user: User) -> int:
    """How many of the user's recovery codes are left."""
    return (
        db.session.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        )
        or 0
    )


# --- the verbs -----------------------------------------------------------------------------------------------------


def _check_password(user: User, password: str) -> None:
    if not verify_password(user.password_hash, password):
        raise TwoFactorError(_l("パスワードが正しくありません。"), field="password")


def _changed(user: User, change: str, kind: SecurityEventKind, *, actor: User | None = None, detail: str = "") -> None:
    """What every change does besides itself: the log line, the other sessions ended, the account mail."""
    record_security_event(kind, user=user, actor=actor, detail=detail)
    keep = user.current_session if actor is None else None
    end_sessions(user, keep=keep, actor=actor, why="two-factor")
    signals.two_factor_changed.send(actor, user=user, change=change)


def start_enrolment(user: User, password: str) -> str:
    """Give the user a new secret to enrol, after they prove their password; it is trusted for nothing until a code
    made from it is confirmed (a setting already on stays on meanwhile). The pending secret."""
    _check_password(user, password)
    user.totp_pending_secret = pyotp.random_base32(SECRET_LENGTH)
    db.session.flush()
    return user.totp_pending_secret


def cancel_enrolment(user: User) -> None:
    """Forget a secret that was never confirmed."""
    user.totp_pending_secret = None


def confirm_enrolment(user: User, code: str) -> list[str]:
    """Turn two-factor sign-in on (or move it to the new phone) with a code made from the pending secret; the new
    recovery codes, to be shown once."""
    secret = user.totp_pending_secret
    if secret is None:
        raise TwoFactorError(_l("設定の手続きが始まっていません。もう一度「設定を始める」から操作してください。"))
    step = matching_step(secret, normalise_code(code))
    if step is None:
        raise TwoFactorError(
            _l("確認コードが正しくありません。アプリに表示されている6桁の数字を入力してください。"), field="code"
        )
    replaced = user.has_two_factor
    if not guarded_update(
        db.session,
        user,
        User.totp_pending_secret == secret,  # confirmed twice at the same instant: once
        totp_secret=secret,
        totp_pending_secret=None,
        totp_enabled_at=utcnow(),
        totp_last_step=step,  # the code just typed does not sign anyone in afterwards
    ):
        raise TwoFactorError(_l("この設定はすでに完了しています。"))
    codes = _replace_recovery_codes(user)
    _changed(
        user,
        "replaced" if replaced else "enabled",
        SecurityEventKind.TWO_FACTOR_ENABLED,
        detail="replaced" if replaced else "",
    )
    return codes


def turn_off(user: User, password: str) -> None:
    """Sign in with the password alone again; refused to moderators while the rule requires two factors."""
    if not may_turn_off(user):
        raise TwoFactorError(_l("モデレーターは2段階認証を解除できません。新しい端末で設定し直してください。"))
    if not user.has_two_factor:
        raise TwoFactorError(_l("2段階認証は設定されていません。"))
    _check_password(user, password)
    _clear(user)
    _changed(user, "disabled", SecurityEventKind.TWO_FACTOR_DISABLED)


def renew_recovery_codes(user: User, password: str) -> list[str]:
    """Replace the user's recovery codes (the old ones stop working); the new ones, to be shown once."""
    if not user.has_two_factor:
        raise TwoFactorError(_l("2段階認証は設定されていません。"))
    _check_password(user, password)
    codes = _replace_recovery_codes(user)
    _changed(user, "codes_renewed", SecurityEventKind.RECOVERY_CODES_RENEWED)
    return codes


def reset_two_factor(user: User) -> bool:
    """The secretariat turns a user's two-factor sign-in off (a lost phone and lost codes; from the command line):
    every session ends, and a moderator enrols again at their next sign-in. False when it was not on."""
    if not (user.has_two_factor or user.totp_pending_secret):
        return False
    _clear(user)
    record_security_event(SecurityEventKind.TWO_FACTOR_DISABLED, user=user, detail="reset")
    end_sessions(user, why="two-factor")
    signals.two_factor_changed.send(None, user=user, change="reset")
    return True


def _clear(user: User) -> None:
    user.totp_secret = user.totp_pending_secret = user.totp_enabled_at = user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.flush()


def check_sign_in_code(user: User, typed: str) -> str:
    """Accept the second factor of a sign-in: "totp" or "recovery" for the kind of code that was right. A wrong or
    reused code writes a line of the security log and raises CodeRefused."""
    code = normalise_code(typed)
    if user.has_two_factor and looks_like_totp(code):
        step = matching_step(user.totp_secret or "", code)
        if step is not None:
            if (user.totp_last_step is None or step > user.totp_last_step) and guarded_update(
                db.session,
                user,
                or_(User.totp_last_step.is_(None), User.totp_last_step < step),
                totp_last_step=step,
            ):
                return "totp"
            record_security_event(SecurityEventKind.TWO_FACTOR_FAILED, user=user, detail="reused")
            raise CodeRefused("reused")
    elif user.has_two_factor and looks_like_recovery_code(code):
        spent = db.session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.code_hash == hash_recovery_code(code),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=utcnow())
        )
        if spent.rowcount == 1:  # type: ignore[attr-defined]
            record_security_event(SecurityEventKind.RECOVERY_CODE_USED, user=user)
            return "recovery"
    record_security_event(SecurityEventKind.TWO_FACTOR_FAILED, user=user, detail="wrong")
    raise CodeRefused("wrong")
