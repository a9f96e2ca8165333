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
unlock_requested = _signals.signal(
    "unlock-requested", doc="A sign-in unlock link is to be sent to the account's owner: kwargs user, token."
)
password_changed = _signals.signal("password-changed", doc="A user's password changed: kwargs user.")
two_factor_changed = _signals.signal(
    "two-factor-changed",
    doc="A user's two-factor sign-in changed: kwargs user, change (enabled, replaced, disabled, codes_renewed, or "
    "reset by the secretariat). The sender is the secretariat's moderator when it was not the user (None from the "
    "command line).",
)
user_invited = _signals.signal("user-invited", doc="An org admin invited a colleague: kwargs invitation, token.")
email_change_requested = _signals.signal(
    "email-change-requested",
    doc="A user asked to move their account to a new address: kwargs user, new_email, token, needs_review (bool: the "
    "new domain is not a confirmed one of their organization, so a moderator decides after the link is opened).",
)
email_change_address_taken = _signals.signal(
    "email-change-address-taken",
    doc="A user asked to move their account to an address another account has (nothing changes): kwargs user, "
    "new_email, owner (the account that has it), needs_review.",
)
email_change_awaiting_review = _signals.signal(
    "email-change-awaiting-review",
    doc="A user proved a new address on a domain their organization has not confirmed; it waits for a moderator: "
    "kwargs change.",
)
email_changed = _signals.signal(
    "email-changed",
    doc="A user's address changed: kwargs user, old_email, moderator (None when the user's own link changed it).",
)
email_change_rejected = _signals.signal(
    "email-change-rejected", doc="A moderator refused a change of address: kwargs change, moderator, reason."
)
staff_review_reminder_due = _signals.signal(
    "staff-review-reminder-due",
    doc="An organization has not yet confirmed its staff for the coming fiscal year: kwargs organization, recipients "
    "(its active admins, or all its active staff when it has none), staff (its active staff), fiscal_year, "
    "reminders_until (the date of the last reminder).",
)
account_suspended = _signals.signal(
    "account-suspended",
    doc="A user's account was suspended: kwargs user, moderator (None: the board, for inactivity), reason.",
)
account_reinstated = _signals.signal(
    "account-reinstated", doc="A moderator reinstated a suspended account: kwargs user, moderator."
)
organization_suspended = _signals.signal(
    "organization-suspended",
    doc="A moderator suspended an organization: kwargs organization, moderator, reason, staff (its active users).",
)
organization_reinstated = _signals.signal(
    "organization-reinstated",
    doc="A moderator reinstated an organization: kwargs organization, moderator, staff (its active users).",
)
inactivity_warning = _signals.signal(
    "inactivity-warning",
    doc="An account unused for long will be suspended unless used by a date: kwargs user, months, suspend_on.",
)

post_submitted = _signals.signal("post-submitted", doc="A post was sent to review: kwargs post.")
post_approved = _signals.signal("post-approved", doc="A moderator published a post: kwargs post, moderator.")
post_rejected = _signals.signal(
    "post-rejected", doc="A moderator returned a post for revision: kwargs post, moderator, comment."
)
post_hidden = _signals.signal("post-hidden", doc="A moderator hid a post: kwargs post, moderator, reason.")
post_unhidden = _signals.signal(
    "post-unhidden",
    doc="A moderator put a hidden post back in the state it was hidden from: kwargs post, moderator, reason (may be "
    "empty).",
)
revision_submitted = _signals.signal(
    "revision-submitted", doc="An edit of a published post awaits review: kwargs revision."
)
revision_decided = _signals.signal(
    "revision-decided",
    doc="A moderator approved or rejected a revision: kwargs revision, moderator (a refusal's reason is the "
    "revision's comment).",
)
post_reported = _signals.signal("post-reported", doc="A member reported a post or a message: kwargs report.")
reports_resolved = _signals.signal(
    "reports-resolved",
    doc="A moderator closed reports (dismissed, or what they report hidden): kwargs report_ids.",
)
co_proposer_invited = _signals.signal(
    "co-proposer-invited", doc="An organization was invited to co-propose a post: kwargs co_proposer."
)
co_proposer_answered = _signals.signal(
    "co-proposer-answered",
    doc="An invited organization accepted or declined to co-propose a post: kwargs co_proposer (its state says which).",
)

response_received = _signals.signal("response-received", doc="An organization answered a post: kwargs response.")
message_posted = _signals.signal("message-posted", doc="A message in a conversation: kwargs message, conversation.")
response_decided = _signals.signal(
    "response-decided", doc="A response was accepted or declined: kwargs response, partnership (None if declined)."
)
outcome_updated = _signals.signal("outcome-updated", doc="A partnership's outcome was recorded: kwargs partnership.")
publication_consented = _signals.signal(
    "publication-consented",
    doc="One side agreed to publish a partnership as a case: kwargs partnership (has_both_consents says whether the "
    "other side had already agreed).",
)
case_published = _signals.signal(
    "case-published", doc="A moderator published a partnership as a public case: kwargs partnership, moderator."
)
case_withdrawn = _signals.signal(
    "case-withdrawn",
    doc="A moderator took a case off the public pages: kwargs partnership, moderator, reason.",
)
deadline_approaching = _signals.signal(
    "deadline-approaching", doc="A published post's deadline is seven days away: kwargs post."
)
