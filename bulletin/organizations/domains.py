"""E-mail domains as the board stores and compares them, and which ones an organization may own.

A domain is kept in its ASCII form, lower case, with internationalised labels in IDNA (A-labels): `日本語.jp` and
`xn--wgv71a119e.jp` are one domain. A domain may be an organization's only if it is registrable: not a public suffix
under which anyone may register (`jp`, `lg.jp`, `go.jp`, `tokyo.jp`, `shinagawa.tokyo.jp`…, read from the ICANN
section of the Public Suffix List shipped beside this module), and not a free mail service anyone can sign up to.
"""

from __future__ import annotations

import gzip
import re
import unicodedata
from functools import cache
from importlib import resources

import idna
from flask_babel import lazy_gettext as _l

from bulletin.core.errors import DomainError

# Mail services anyone can sign up to: confirming one would let every stranger with an address there skip review.
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.co.jp",
        "ymail.ne.jp",
        "yahoo.com",
        "outlook.com",
        "outlook.jp",
        "hotmail.com",
        "hotmail.co.jp",
        "live.jp",
        "live.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "docomo.ne.jp",
        "ezweb.ne.jp",
        "au.com",
        "softbank.ne.jp",
        "i.softbank.jp",
    }
)

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_TOP_LEVEL = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}")
EXAMPLE = "city.fukui-sakai.lg.jp"


class DomainNameError(DomainError):
    """A domain that cannot be an organization's; the message says why."""

    def __init__(self, message):
        super().__init__(message, field="domain")


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").strip().strip(".").lower()


def ascii_domain(text: str) -> str:
    """The domain as it is stored and compared: lower case, IDNA A-labels (the text lower-cased when it is no
    domain name at all)."""
    folded = _folded(text)
    try:
        return idna.encode(folded, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return folded


def clean_domain(text: str) -> str:
    """The domain a moderator typed (or an address at it), ready to store; raises DomainNameError saying what is
    wrong with it."""
    folded = _folded(text)
    if "@" in folded:
        folded = folded.rsplit("@", 1)[1]
    if not folded:
        raise DomainNameError(_l("ドメインを入力してください。"))
    malformed = DomainNameError(_l("ドメインの形式が正しくありません（例: %(example)s）。", example=EXAMPLE))
    try:
        domain = idna.encode(folded, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as error:
        raise malformed from error
    labels = domain.split(".")
    if len(domain) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise malformed
    if not _TOP_LEVEL.fullmatch(labels[-1]) or labels[-1] not in _public_suffixes()[0]:
        raise malformed  # not a top-level domain that exists (jp, com, xn--…)
    if is_public_suffix(domain):
        raise DomainNameError(
            _l(
                "%(domain)s は lg.jp や go.jp と同じく、誰でもその下にドメインを持てる公開の接尾辞です。"
                "団体のドメインを入力してください（例: %(example)s）。",
                domain=domain,
                example=EXAMPLE,
            )
        )
    if domain in FREE_MAIL_DOMAINS:
        raise DomainNameError(
            _l("%(domain)s は誰でも使えるメールサービスのドメインのため、団体のドメインにできません。", domain=domain)
        )
    return domain


def is_public_suffix(domain: str) -> bool:
    """Whether the (ASCII) domain is itself a public suffix: a name under which anyone may register a domain."""
    rules, wildcards, exceptions = _public_suffixes()
    if domain in exceptions:
        return False
    if domain in rules or "." not in domain:
        return True
    return domain.split(".", 1)[1] in wildcards


@cache
def _public_suffixes() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """The rules of the bundled list, in ASCII: plain suffixes, parents of wildcards (`*.kawasaki.jp`), exceptions
    (`!city.kawasaki.jp`)."""
    rules: set[str] = set()
    wildcards: set[str] = set()
    exceptions: set[str] = set()
    data = resources.files("bulletin.organizations").joinpath("public_suffix_list.dat.gz").read_bytes()
    for line in gzip.decompress(data).decode("utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("//"):
            continue
        target = rules
        if line.startswith("!"):
            line, target = line[1:], exceptions
        elif line.startswith("*."):
            line, target = line[2:], wildcards
        if line.isascii():
            target.add(line)
            continue
        try:
            target.add(idna.encode(line, uts46=True).decode("ascii"))
        except (idna.IDNAError, UnicodeError):
            continue  # a rule IDNA 2008 cannot write: no address can be at it either
    return frozenset(rules), frozenset(wildcards), frozenset(exceptions)
