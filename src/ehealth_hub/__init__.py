"""ehealth-hub: the interoperability hub for Belgian eHealth (FHIR R4 in front, eHealth behind)."""

__version__ = "0.1.0"
