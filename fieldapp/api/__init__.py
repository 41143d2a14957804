"""The JSON API under ``/api/v1`` that phones sync with; ``openapi.json`` describes it."""
