"""全国地方公共団体コード: six digits, the last a check digit (modulus 11, weights 6..2)."""

from __future__ import annotations

import re
import unicodedata

_CODE_RE = re.compile(r"^\d{6}$")


def check_digit(base: str) -> str:
    """The check digit of a five-digit local government code."""
    if not re.fullmatch(r"\d{5}", base):
        raise ValueError("a local government code has five digits before its check digit")
    remainder = sum(int(digit) * weight for digit, weight in zip(base, (6, 5, 4, 3, 2), strict=True)) % 11
    return str((11 - remainder) % 10)


def normalise_dataset_code(code: str) -> str:
    """Six-digit form of a code from japancode, which stores codes of prefectures 01–09 without the leading zero."""
    code = code.strip()
    if not re.fullmatch(r"\d{5,6}", code):
        raise ValueError(f"not a local government code: {code!r}")
    return code.zfill(6)


def is_valid_code(code: str) -> bool:
    """True for six digits whose last one is the correct check digit."""
    return bool(_CODE_RE.match(code or "")) and check_digit(code[:5]) == code[5]


def full_code(text: str) -> str | None:
    """The six-digit code an officer meant: full-width digits and spaces allowed, the check digit added to five
    digits; None when it is not a valid code."""
    digits = unicodedata.normalize("NFKC", text or "").strip()
    if re.fullmatch(r"\d{5}", digits):
        return digits + check_digit(digits)
    return digits if is_valid_code(digits) else None


ASSOCIATION_PREFIX = "9"


def association_code(prefecture_code: str, kind: str) -> str:
    """The project's own code for a municipal association: 9, prefecture, 0, 1 (市長会) or 2 (町村会), check digit.

    Real local government codes start with 01–47, so codes from 90 upwards can never collide with them.
    """
    digit = {"mayors": "1", "towns": "2"}[kind]
    base = f"{ASSOCIATION_PREFIX}{prefecture_code}{digit}"
    base = base[:3] + "0" + base[3:]
    return base + check_digit(base)
