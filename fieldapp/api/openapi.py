"""The OpenAPI 3.1 document of the sync API, served at ``/api/v1/openapi.json``."""

from flask import current_app

VERSION = "1.0.0"


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(description: str, schema_name: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}},
    }


UUID_PARAMETER = {"type": "string", "format": "uuid"}

SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {
                "type": "string",
                "description": "Machine-readable kind, e.g. invalid, conflict, damaged.",
            },
            "message": {
                "type": "string",
                "description": "What failed and what to do, in the user's language.",
            },
            "errors": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "For 422 on a visit: message per form field key.",
            },
        },
    },
    "User": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "username": {"type": "string"},
            "display_name": {"type": "string"},
        },
    },
    "Session": {
        "type": "object",
        "properties": {"user": {"$ref": "#/components/schemas/User"}, "csrf_token": {"type": "string"}},
    },
    "Token": {
        "type": "object",
        "properties": {
            "token": {"type": "string", "description": "Send as 'Authorization: Bearer <token>'."},
            "expires_at": {"type": "string", "format": "date-time"},
            "renew_after": {
                "type": "string",
                "format": "date-time",
                "description": "Ask for a new token after this time while logged in.",
            },
            "user": {"$ref": "#/components/schemas/User"},
        },
    },
    "Assignment": {
        "type": "object",
        "properties": {
            "sampled_household_id": {"type": "integer"},
            "round": {"type": "string"},
            "household_no": {"type": "string"},
            "head_name": {"type": "string"},
            "head_id_number": {"type": "string", "description": "Masked: first 6 and last 4 characters."},
            "township": {"type": "string"},
            "village": {"type": "string"},
            "visits_received": {"type": "integer"},
            "pages": {
                "type": "object",
                "properties": {"household": {"type": "string"}, "visit_form": {"type": "string"}},
                "description": "Pages the phone keeps for offline use.",
            },
        },
    },
    "Questionnaire": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "code": {"type": "string"},
            "version": {"type": "integer"},
            "title": {"type": "string"},
            "definition": {
                "type": "object",
                "description": "Sections and questions; see fieldapp.visits.questionnaires.",
            },
        },
    },
    "DeclaredPhoto": {
        "type": "object",
        "required": ["client_uuid", "sha256", "field"],
        "properties": {
            "client_uuid": {"type": "string", "format": "uuid"},
            "sha256": {
                "type": "string",
                "pattern": "^[0-9a-f]{64}$",
                "description": "SHA-256 of the exact bytes the phone will upload.",
            },
            "field": {
                "type": "string",
                "description": "The form field: a photo question's key, or 'photos' for other photos.",
            },
            "taken_at": {
                "type": ["string", "null"],
                "description": "EXIF capture time, ISO 8601; without a zone it is Asia/Shanghai time.",
            },
            "latitude": {"type": ["number", "null"], "description": "EXIF GPS latitude, WGS-84."},
            "longitude": {"type": ["number", "null"], "description": "EXIF GPS longitude, WGS-84."},
        },
    },
    "VisitUpload": {
        "type": "object",
        "required": ["client_uuid", "sampled_household_id", "fields"],
        "properties": {
            "client_uuid": {
                "type": "string",
                "format": "uuid",
                "description": "Made on the phone; a repeat with the same UUID stores nothing.",
            },
            "sampled_household_id": {"type": "integer"},
            "questionnaire_id": {
                "type": "integer",
                "description": "The version the form showed; default current.",
            },
            "fields": {
                "type": "object",
                "additionalProperties": {
                    "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
                },
                "description": (
                    "The fields the visit form posts: question keys (member_checks.<member id>.<key> in "
                    "repeat sections), problem_ids, outcome_<id>, note_<id>, onsite_category_<n>, "
                    "onsite_description_<n>, latitude, longitude, accuracy_m, fixed_at, started_at, "
                    "submitted_at (ISO 8601)."
                ),
            },
            "photos": {"type": "array", "items": {"$ref": "#/components/schemas/DeclaredPhoto"}},
        },
    },
    "VisitStatus": {
        "type": "object",
        "properties": {
            "client_uuid": {"type": "string", "format": "uuid"},
            "visit_id": {"type": "integer"},
            "complete": {"type": "boolean", "description": "Every declared photo arrived with its SHA-256."},
            "photos_expected": {"type": "integer"},
            "photos_received": {"type": "array", "items": {"type": "string", "format": "uuid"}},
            "photos_missing": {"type": "array", "items": {"type": "string", "format": "uuid"}},
            "created": {"type": "boolean"},
            "url": {"type": "string"},
        },
    },
    "PhotoReceipt": {
        "type": "object",
        "properties": {
            "client_uuid": {"type": "string", "format": "uuid"},
            "photo_id": {"type": "integer"},
            "created": {"type": "boolean"},
            "visit": {"$ref": "#/components/schemas/VisitStatus"},
        },
    },
}

TOKEN = [{"syncToken": []}]
SESSION = [{"session": []}]
UNAUTHORIZED = _error("No valid sync token: log in again and ask for a new one.")
NOT_FOUND = _error("Not found, or not assigned to this user.")


def _paths() -> dict:
    visit_uuid = {"name": "visit_uuid", "in": "path", "required": True, "schema": UUID_PARAMETER}
    return {
        "/api/v1/session": {
            "get": {
                "summary": "Who is logged in, and a CSRF token for POST /tokens",
                "security": SESSION,
                "responses": {
                    "200": _json("The logged-in inspector", "Session"),
                    "401": _error("Not logged in"),
                    "404": _error("Not an inspector"),
                },
            }
        },
        "/api/v1/tokens": {
            "post": {
                "summary": "Issue a sync token to the logged-in inspector",
                "description": "Needs the session cookie and the CSRF token in the X-CSRFToken header.",
                "security": SESSION,
                "parameters": [
                    {"name": "X-CSRFToken", "in": "header", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "201": _json("A new token", "Token"),
                    "400": _error("Missing or wrong CSRF token"),
                    "401": _error("Not logged in"),
                    "404": _error("Not an inspector"),
                },
            }
        },
        "/api/v1/tokens/current": {
            "delete": {
                "summary": "Revoke the token that authenticates this request",
                "security": TOKEN,
                "responses": {"204": {"description": "Revoked"}, "401": UNAUTHORIZED},
            }
        },
        "/api/v1/assignments": {
            "get": {
                "summary": "The sampled households assigned to the user",
                "security": TOKEN,
                "responses": {
                    "200": {
                        "description": "Assignments",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "assignments": {
                                            "type": "array",
                                            "items": {"$ref": "#/components/schemas/Assignment"},
                                        },
                                        "pages": {
                                            "type": "array",
                                            "items": {"type": "string"},
                                            "description": "Other pages the phone keeps for offline use: "
                                            "the assignments page and the forms of open re-inspection tasks.",
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "401": UNAUTHORIZED,
                },
            }
        },
        "/api/v1/questionnaires/{code}": {
            "get": {
                "summary": "The current version of a questionnaire definition",
                "security": TOKEN,
                "parameters": [
                    {
                        "name": "code",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                        "example": "household_visit",
                    }
                ],
                "responses": {
                    "200": _json("The definition", "Questionnaire"),
                    "401": UNAUTHORIZED,
                    "404": NOT_FOUND,
                },
            }
        },
        "/api/v1/visits": {
            "post": {
                "summary": "Upload a visit; its photos follow one by one",
                "description": (
                    "Idempotent by client_uuid: the same content again returns the stored visit (200) and "
                    "creates nothing; other content under the same UUID returns 409 and changes nothing."
                ),
                "security": TOKEN,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/VisitUpload"}}},
                },
                "responses": {
                    "201": _json("Stored", "VisitStatus"),
                    "200": _json("Stored before under this UUID; nothing new was stored", "VisitStatus"),
                    "400": _error("Malformed body"),
                    "401": UNAUTHORIZED,
                    "404": NOT_FOUND,
                    "409": _error("This UUID was used for different content"),
                    "413": _error("Body too large"),
                    "422": _error("Invalid answers; errors per field"),
                },
            }
        },
        "/api/v1/visits/{visit_uuid}": {
            "get": {
                "summary": "Which declared photos of a visit have arrived",
                "security": TOKEN,
                "parameters": [visit_uuid],
                "responses": {
                    "200": _json("The visit's state", "VisitStatus"),
                    "401": UNAUTHORIZED,
                    "404": NOT_FOUND,
                },
            }
        },
        "/api/v1/visits/{visit_uuid}/photos/{photo_uuid}": {
            "put": {
                "summary": "Upload one declared photo",
                "description": (
                    "Idempotent by photo UUID: the same bytes again return the stored photo (200); other "
                    "bytes under the UUID, or a SHA-256 other than the declared one, return 409."
                ),
                "security": TOKEN,
                "parameters": [
                    visit_uuid,
                    {"name": "photo_uuid", "in": "path", "required": True, "schema": UUID_PARAMETER},
                    {
                        "name": "X-Content-SHA256",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {"image/*": {"schema": {"type": "string", "contentMediaType": "image/jpeg"}}},
                },
                "responses": {
                    "201": _json("Stored", "PhotoReceipt"),
                    "200": _json("Stored before; nothing new was stored", "PhotoReceipt"),
                    "400": _error("Missing SHA-256 header or empty body"),
                    "401": UNAUTHORIZED,
                    "404": _error("Unknown visit, or a photo the visit did not declare"),
                    "409": _error("Other content under this photo UUID"),
                    "413": _error("Body too large"),
                    "422": _error(
                        "Damaged in transit (SHA-256 mismatch: send again) or not a readable image"
                    ),
                },
            }
        },
    }


def document() -> dict:
    """Return the OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "FieldApp sync API",
            "version": VERSION,
            "description": (
                "Phones download their assignments and questionnaires, then upload visits and their "
                "photos. Every visit and photo carries a UUID made on the phone, so retries never store "
                "anything twice."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": _paths(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "syncToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Issued by POST /api/v1/tokens; lives API_TOKEN_LIFETIME.",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": current_app.config["SESSION_COOKIE_NAME"],
                },
            },
        },
    }
