"""The HTTP API: FastAPI app factory, client authentication, FHIR routes, error rendering."""

from ehealth_hub.api.app import create_app

__all__ = ["create_app"]
