"""The use cases, one module per journey; the only door for ``api/`` and ``console/`` (they import
no store, delivery, mapping or connector module themselves).

- :mod:`.records`: ``Patient/$summary``: consent gate -> record sources in parallel -> mappings ->
  one FHIR document Bundle (:mod:`.summary` assembles it);
- :mod:`.notes`: the consultation note to the patient's GP (the GP it names, else the GMD holder
  -> gate -> KMEHR -> AddressBook -> outbox + audit in one transaction; delivered to the
  eHealthBox by the delivery workers);
- :mod:`.gp`: the patient's GP from the GMD (``GET /fhir/Patient``: gate -> MyCareNet
  GlobalMedicalFile -> AddressBook);
- :mod:`.claims`: the teleconsultation claim (MyCareNet; owned by the MyCareNet package), checked
  against the tariff and rules table (:mod:`.billing_rules`, :mod:`.billing_check`);
  :mod:`.eligibility`: ``CoverageEligibilityRequest/$submit`` on the claims service;
- :mod:`.consents`: per-consultation consents recorded through the hub, and ``$explain``;
- :mod:`.tasks`: follow and replay deliveries (``/fhir/Task``, within :mod:`.task_access`'s
  compartments); :mod:`.idempotency`: the records behind ``Idempotency-Key``;
- :mod:`.audit_trail`: a patient's audit trail for auditors;
- :mod:`.console` and ``operations*``: the operations console's services.

The composition root (:mod:`ehealth_hub.bootstrap`) builds them once; the ports they reach
downstream systems through are :mod:`ehealth_hub.core.ports`.
"""
