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

# Phone sync: sync tokens let a phone send its outbox after the login session has ended.
API_TOKEN_LIFETIME = timedelta(days=30)
API_TOKEN_RENEW_BEFORE = timedelta(days=7)  # the page asks for a new token when less is left
API_VISIT_MAX_BYTES = 1024 * 1024  # largest visit JSON accepted
PHOTO_CLIENT_MAX_LONG_SIDE = 1600  # phones downscale photos to this long side before storing them
PHOTO_CLIENT_JPEG_QUALITY = 0.8  # JPEG quality the phone encodes with, 0 to 1
OFFLINE_PAGE_REFRESH_S = 3600  # saved copies of assigned households' pages older than this are fetched again

# Register import.
REGISTER_MAX_ROWS = 500_000
REGISTER_IMPORT_FOLDER = None  # uploads and rejected-rows workbooks; defaults to <instance>/imports
REGISTER_IMPORT_SYNC = False  # run uploaded imports in the request instead of a background thread (tests)
REGISTRY_IMPORT_FOLDER = None  # uploaded registry files; defaults to <instance>/registries
CHECK_JOBS_SYNC = False  # run check runs and registry imports in the request instead of a thread (tests)
REGISTER_HEADER_ALIASES: dict = {}  # extra header names, e.g. {"家庭总人口": "size"}

# Which ID numbers each role sees unmasked.
UNMASK_ROLES = ("admin",)

# Evidence of corrections: the largest document a supervisor may upload, in bytes.
EVIDENCE_MAX_BYTES = 20 * 1024 * 1024

# Map tiles. None draws the points on a plain background with a scale, and the map page then
# loads nothing from another host. Set a URL template with {z}, {x} and {y} (and {s} with
# MAP_TILE_SUBDOMAINS) to draw tiles; "gcj02" tiles (高德, 腾讯) get points converted for display.
MAP_TILE_URL = None
MAP_TILE_ATTRIBUTION = ""
MAP_TILE_SUBDOMAINS = ""
MAP_TILE_COORDINATES = "wgs84"  # "wgs84" (also right for 天地图's CGCS2000) or "gcj02"
MAP_TILE_MAX_ZOOM = 18
MAP_MAX_POINTS = 5000  # households and visits drawn at most, each

# Exports: files are written by a background job to EXPORT_FOLDER (default <instance>/exports)
# and deleted after EXPORT_KEEP_HOURS. EXPORT_SYNC runs the job inside the request (tests).
EXPORT_FOLDER = None
EXPORT_KEEP_HOURS = 24
EXPORT_SYNC = False

# 群众认可度: the questionnaire answer that counts a visited household as satisfied.
SATISFACTION_QUESTION = "satisfaction"
SATISFIED_VALUES = ("satisfied",)
