"""The ``page`` argument of the paginated lists, and the notice shown when it names no page of the list.

A list shows its last page for a page number past the end, and its first page for a
value that is not a page number. The notice names the page shown and the reason, so
that the user does not take it for the page in the address.
"""

from flask import request
from flask_babel import gettext as _
from flask_babel import ngettext

# Characters of a bad page argument repeated in the notice.
SHOWN_CHARACTERS = 20
# Longer page numbers are past the end of any list; int() is not asked to convert them.
MAX_PAGE_DIGITS = 9


def page_number(text: str | None) -> int | None:
    """Return the page number that ``text`` names, or None unless it is a whole number from 1.

    Full-width digits count, as a Chinese input method may type them. A number of more than
    ``MAX_PAGE_DIGITS`` digits gives 10 ** MAX_PAGE_DIGITS, past the end of any list.
    """
    text = (text or "").strip()
    if not text.isdecimal():
        return None
    if len(text) > MAX_PAGE_DIGITS:
        return 10 ** MAX_PAGE_DIGITS
    number = int(text)
    return number if number >= 1 else None


def requested_page() -> int:
    """Return the page the request's ``page`` argument names: 1 when it is missing or not a page number."""
    return page_number(request.args.get("page")) or 1


def page_notice(page: int, pages: int) -> str:
    """Return why the list shows ``page`` of ``pages`` and not the page the request names, else ""."""
    text = (request.args.get("page") or "").strip()
    if not text:
        return ""
    quoted = text if len(text) <= SHOWN_CHARACTERS else text[:SHOWN_CHARACTERS] + "…"
    number = page_number(text)
    if number is None:
        return _("\"%(value)s\" is not a page number; a page number is a whole number from 1. Showing page "
                 "%(page)d.", value=quoted, page=page)
    if number > pages:
        return ngettext("Page %(requested)s does not exist; the list has %(num)d page. Showing page "
                        "%(page)d.",
                        "Page %(requested)s does not exist; the list has %(num)d pages. Showing page "
                        "%(page)d.", pages, requested=quoted, page=page)
    return ""
