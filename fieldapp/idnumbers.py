"""Resident ID numbers (GB 11643-1999): normalising, validating and masking.

An ID number has 18 characters: a 6-digit address code, the birth date as
YYYYMMDD, a 3-digit sequence (odd for men, even for women) and a check
character computed from the first 17 digits.
"""

import re
from datetime import date

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARACTERS = "10X98765432"  # indexed by (weighted sum mod 11)

_FULL_WIDTH = {
    ord(c): ord(c) - 0xFEE0
    for c in "０１２３４５６７８９ＸｘＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＹＺ"
}
_SPACES = re.compile(r"[\s\u3000]+")
_DIGITS17 = re.compile(r"^\d{17}$")


def normalize(value: str) -> str:
    """Strip spaces, turn full-width characters into ASCII and upper-case ``x``."""
    text = _SPACES.sub("", str(value).translate(_FULL_WIDTH))
    return text.upper()


def check_character(first17: str) -> str:
    """Return the check character for 17 ASCII digits."""
    if not _DIGITS17.match(first17):
        raise ValueError(f"expected 17 digits, got {first17!r}")
    total = sum(int(digit) * weight for digit, weight in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARACTERS[total % 11]


def birth_date(id_number: str) -> date | None:
    """Return the birth date encoded in characters 7-14, or None when it is not a real date."""
    digits = id_number[6:14]
    if len(digits) != 8 or not digits.isdigit():
        return None
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def sex(id_number: str) -> str | None:
    """Return "男" or "女" from the parity of character 17, or None when it is not a digit."""
    if len(id_number) < 17 or not id_number[16].isdigit():
        return None
    return "男" if int(id_number[16]) % 2 else "女"


def problems(id_number: str, today: date | None = None) -> list[str]:
    """Return the reasons an ID number is invalid, as short codes; an empty list means valid.

    Codes: ``length``, ``characters``, ``check_character``, ``birth_date``.
    """
    if len(id_number) != 18:
        return ["length"]
    if not _DIGITS17.match(id_number[:17]) or id_number[17] not in "0123456789X":
        return ["characters"]
    found = []
    if check_character(id_number[:17]) != id_number[17]:
        found.append("check_character")
    born = birth_date(id_number)
    if born is None or born < date(1900, 1, 1) or born > (today or date.today()):
        found.append("birth_date")
    return found


def is_valid(id_number: str, today: date | None = None) -> bool:
    return not problems(normalize(id_number), today)


def mask(id_number: str | None) -> str:
    """Show the first 6 and last 4 characters: ``371622********0023``."""
    if not id_number:
        return ""
    if len(id_number) <= 10:
        return "*" * len(id_number)
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]


# An ID number or a mobile phone number inside a longer text, not part of a longer run of digits.
# An ID number has 18 characters (20 with a disability certificate's two digits) or 15 digits, and may
# be split by spaces or hyphens, as in "371622 19800101 0012". A mobile number has 11 digits, may
# start with the country code 86 or +86, and may be split 3-4-4.
_NUMBER_IN_TEXT = re.compile(
    r"(?<![0-9])(?:"
    r"((?:[0-9][ -]?){17}[0-9Xx](?:[0-9]{2})?|[0-9]{6}[ -]?[0-9]{6}[ -]?[0-9]{3})"
    r"|((?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2})"
    r")(?![0-9Xx])"
)
# Full-width digits, X, space, hyphen and plus sign, as Chinese input methods type them, to ASCII.
_HALF_WIDTH = str.maketrans("０１２３４５６７８９Ｘｘ\u3000－＋", "0123456789Xx -+")
# Three digits, then four, maybe after a space or hyphen: every number above contains this, and most
# texts without one are ruled out by this quicker search.
_DIGIT_GROUPS = re.compile(r"[0-9]{3}[ -]?[0-9]{4}")


# Digits from which a rejected ID number cell may identify someone (a birth date has 8).
IDENTIFYING_DIGITS = 8


# The exponent of a number in scientific notation, whose digits identify no one.
_EXPONENT = re.compile(r"[eE][+-]?[0-9]+$")


def has_identifying_digits(text: str) -> bool:
    """Return whether ``text`` has enough digits to identify someone, however they are written."""
    return sum(map(str.isdigit, _EXPONENT.sub("", text or ""))) >= IDENTIFYING_DIGITS


def mask_rejected_value(value: str) -> str:
    """Mask a rejected ID number cell for a message or page when it has 8 or more digits.

    A value with fewer is shown as it is, so the user can find it in the file. Such values are a name
    in the wrong column, or "3.71622E+17": a number that Excel made of an ID number, with most digits lost.
    """
    return mask(value) if has_identifying_digits(value) else value


def mask_numbers_in_text(text: str) -> str:
    """Mask each ID number and mobile phone number written inside ``text``, such as a remark.

    Full-width digits, X, spaces and hyphens are returned as their ASCII forms.
    """
    return _NUMBER_IN_TEXT.sub(_masked_number, text.translate(_HALF_WIDTH))


def has_number_in_text(text: str) -> bool:
    """Return whether ``text`` contains a number that ``mask_numbers_in_text`` masks."""
    text = text.translate(_HALF_WIDTH)
    return _DIGIT_GROUPS.search(text) is not None and _NUMBER_IN_TEXT.search(text) is not None


def _masked_number(match: re.Match) -> str:
    id_number, phone = match.groups()
    return mask(id_number) if id_number else mask_phone(phone)


def mask_phone(phone: str | None) -> str:
    """Show the first 3 and last 4 digits: ``138****7368``."""
    if not phone:
        return ""
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
