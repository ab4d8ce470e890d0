"""Pure translations between what downstream systems speak and what the hub shows.

KMEHR 1.x (eHealth KMEHR standard, schema 1.38) <-> HL7-BE FHIR R4 (4.0.1):

- :mod:`.xml`: THE hardened XML parser factory of the project (no DTD, no entities, no network,
  size limits) and the namespace constants;
- :mod:`.kmehr_to_fhir`: ``translate_kmehr(data, now=..., new_id=...)`` -> FHIR Bundle dict
  (Sumehr -> document; medication scheme, vaccinations -> collection), built from
  :mod:`.kmehr_read` (tolerant reader), :mod:`.kmehr_parties`, :mod:`.kmehr_items` (with
  :mod:`.kmehr_problems`, :mod:`.kmehr_vaccines`, :mod:`.kmehr_patientwill`),
  :mod:`.kmehr_medication` and :mod:`.kmehr_scheme` (each lists its mapping decisions);
- :mod:`.note_to_kmehr`: ``note_to_kmehr(note, now=..., new_id=...)`` -> KMEHR 1.38 bytes for the
  patient's GP, written with :mod:`.kmehr_write`;
- :mod:`.cli`: the ``ehealth-hub translate`` command.

No network, files, clock or random inside the mappings: ``now`` and id factories are passed in.
"""
