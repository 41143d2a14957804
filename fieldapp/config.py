"""Configuration defaults.

Layers, each overriding the one before: these defaults, ``instance/config.py``,
``FIELDAPP_*`` environment variables (values parsed as JSON where they can be),
then the mapping a test passes to ``create_app``.
"""

from datetime import timedelta

# Database: a SQLite file in the instance folder unless a URI is configured.
SQLALCHEMY_DATABASE_URI = None
SQLALCHEMY_ENGINE_OPTIONS: dict = {}
SQLITE_BUSY_TIMEOUT_MS = 10_000

# Sessions and forms.
SECRET_KEY = None
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
PERMANENT_SESSION_LIFETIME = timedelta(days=14)
WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session

# Language and time.
BABEL_DEFAULT_LOCALE = "zh_CN"
BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
LANGUAGES = ["zh_CN", "en"]
DISPLAY_TIMEZONE = "Asia/Shanghai"

# Uploads.
MAX_CONTENT_LENGTH = 64 * 1024 * 1024
UPLOAD_FOLDER = None  # defaults to <instance>/uploads
PHOTO_MAX_PIXELS = 50_000_000  # about 7071 x 7071; larger images are rejected before decoding
PHOTO_MAX_LONG_SIDE = 2048  # stored photos are downscaled to this long side, in pixels
PHOTO_THUMB_LONG_SIDE = 320
PHOTO_JPEG_QUALITY = 85

# Location flags.
LOCATION_MAX_ACCURACY_M = 100.0
LOCATION_MAX_DISTANCE_M = 500.0
LOCATION_MAX_FIX_AGE_S = 120

# Register import.
REGISTER_MAX_ROWS = 500_000
REGISTER_IMPORT_FOLDER = None  # uploads and rejected-rows workbooks; defaults to <instance>/imports
REGISTER_IMPORT_SYNC = False  # run uploaded imports in the request instead of a background thread (tests)
REGISTER_HEADER_ALIASES: dict = {}  # extra header names, e.g. {"家庭总人口": "size"}

# Which ID numbers each role sees unmasked.
UNMASK_ROLES = ("admin",)
