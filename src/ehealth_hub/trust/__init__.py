"""The trust layer: who the hub is, who answered, and what may be believed.

* identities: :mod:`.credentials` (X.509 credentials, chain checks), :mod:`.keystores` (the
  production keystore registry);
* tokens: :mod:`.sts` (the eHealth STS client), :mod:`.saml` (SAML 1.1 holder-of-key assertions)
  and :mod:`.saml_cache` (assertions already verified);
* messages: :mod:`.wsse` (WS-Security facade over :mod:`.wsse_sign`, :mod:`.wsse_verify`,
  :mod:`.wsse_dsig`, :mod:`.wsse_dsig_verify`, :mod:`.wsse_envelope`, :mod:`.wsse_calls`),
  :mod:`.xades` (MyCareNet's XAdES-BES over a Detail), :mod:`.etee` (end-to-end sealing, ETK
  depot), :mod:`.signxml_api` (signxml, imported in one place);
* :mod:`.layer`: the trust layer assembled from settings for the composition root.
"""
