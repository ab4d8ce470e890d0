"""FHIR R4 (4.0.1) on ``fhir.resources.R4B``: Belgian profile URLs, builders, OperationOutcome."""
