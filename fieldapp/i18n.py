"""Language and time zone selection for Flask-Babel.

Chinese (zh_CN) is the default; a user switches to English with the link in
the page footer, which sets the ``lang`` cookie. Babel parses ``zh_CN`` as
``zh_Hans_CN`` and finds its catalogue under ``translations/zh_Hans_CN``.
"""

from flask import current_app, request
from flask_babel import Babel

LANGUAGE_COOKIE = "lang"


def select_locale() -> str:
    chosen = request.cookies.get(LANGUAGE_COOKIE) if request else None
    if chosen in current_app.config["LANGUAGES"]:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return current_app.config["DISPLAY_TIMEZONE"]


def init_app(app, babel: Babel) -> None:
    babel.init_app(
        app,
        locale_selector=select_locale,
        timezone_selector=select_timezone,
        default_translation_directories="translations",
    )
