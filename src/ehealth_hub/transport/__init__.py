"""How the hub talks to other systems over HTTP: one client path, one resilience mechanism.

* :mod:`.network`: the HTTP client (httpx's API over aiohttp's connection pool) and
  :class:`~.network.DirectClient`, the way calls go out, timed for ``Server-Timing``
  (:mod:`.timing`);
* :mod:`.resilience`: the one :class:`~.resilience.RetryPolicy` (backoff schedule) and the one
  :class:`~.resilience.CircuitBreaker`, used by the connectors (per call) and by the delivery
  workers (per destination);
* :mod:`.http_errors`: aiohttp's exceptions as httpx's, httpx's as HubErrors;
* :mod:`.soap`: the one SOAP 1.1 client (every service), and :mod:`.wsdl`, which builds and reads
  the messages of WSDL-described services with zeep, as a codec.

Nothing here knows who signs a message or why a call is made: WS-Security and tokens live in
:mod:`ehealth_hub.trust`, which hands its signers and verifiers to the SOAP client.
"""
