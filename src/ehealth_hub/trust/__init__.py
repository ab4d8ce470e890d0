"""The trust layer: who the hub is, who answered, and what may be believed.

* identities: :mod:`.credentials` (X.509 credentials, chain checks), :mod:`.keystores` (the
  production keystore registry);
* tokens: :mod:`.sts` (the eHealth STS client), :mod:`.saml` (SAML 1.1 holder-of-key assertions)
  and :mod:`.saml_cache` (a verifier's memory of assertions already verified);
* signatures: :mod:`.dsig_verify` (the one XML signature verifier for untrusted input, one policy
  per use), :mod:`.wsse_dsig` (the WS-Security signature core) and :mod:`.signxml_api` (signxml,
  imported in one place, for signing STS assertions and XAdES only);
* messages: :mod:`.wsse` (WS-Security facade over :mod:`.wsse_sign`, :mod:`.wsse_verify`,
  :mod:`.wsse_envelope`, :mod:`.wsse_calls`), :mod:`.xades` (MyCareNet's XAdES-BES over a
  Detail), :mod:`.etee` (end-to-end sealing, ETK depot);
* :mod:`.layer`: the trust layer assembled from settings for the composition root.
"""
