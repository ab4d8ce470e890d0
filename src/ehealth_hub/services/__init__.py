"""The use cases, one module per journey; the only thing ``api/`` and the CLI call.

- :mod:`.records`: ``Patient/$summary``: consent gate -> record sources in parallel -> mappings ->
  one FHIR document Bundle (:mod:`.summary` assembles it);
- :mod:`.notes`: the consultation note to the patient's GP (the GP it names, else the GMD holder
  -> gate -> KMEHR -> AddressBook -> outbox + audit in one transaction; delivered to the
  eHealthBox by the delivery workers);
- :mod:`.gp`: the patient's GP from the GMD (``GET /fhir/Patient``: gate -> MyCareNet
  GlobalMedicalFile -> AddressBook);
- :mod:`.claims`: the teleconsultation claim (MyCareNet; owned by the MyCareNet package), checked
  against the tariff and rules table (:mod:`.billing_rules`, :mod:`.billing_check`).
"""
