"""Domain signals. Services send them inside the request's transaction; receivers add rows to the same session.

Every signal is sent with the acting user (or None for the system) as `sender` and keyword arguments named
below. Receivers must not commit.
"""

from blinker import Namespace

_signals = Namespace()

user_registered = _signals.signal("user-registered", doc="A person registered: kwargs user, token.")
registration_attempt_on_existing = _signals.signal(
    "registration-attempt-on-existing",
    doc="Someone tried to register an address that already has an account: kwargs user.",
)
user_confirmed = _signals.signal(
    "user-confirmed", doc="A user confirmed their address; kwargs user, awaiting_approval (bool)."
)
user_approved = _signals.signal("user-approved", doc="A moderator approved a user: kwargs user, moderator.")
user_rejected = _signals.signal("user-rejected", doc="A moderator rejected a user: kwargs user, moderator, reason.")
password_reset_requested = _signals.signal(
    "password-reset-requested", doc="A reset was asked for an existing account: kwargs user, token."
)
password_changed = _signals.signal("password-changed", doc="A user's password changed: kwargs user.")
user_invited = _signals.signal("user-invited", doc="An org admin invited a colleague: kwargs invitation, token.")
