"""The served sandbox hub and its fhirpy clients, as the journeys use them (one definition)."""

from tests.journeys.conftest import fhir_for, hub  # noqa: F401  (pytest fixtures, re-exported)
