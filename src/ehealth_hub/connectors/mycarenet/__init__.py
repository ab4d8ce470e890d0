"""MyCareNet adapters: MemberData (insurability), eAttest v3, eFact through GenericAsync, and
GlobalMedicalFile (who holds the GMD).

Each adapter takes its :class:`~ehealth_hub.transport.soap.SoapClient` (messages from the WSDL,
WS-Security SAML holder-of-key signer), the :class:`envelope.Envelope` (CommonInput,
Routing, sealed Detail) and a token source (the STS client) as constructor arguments. Files:
``envelope.py``, ``memberdata.py``, ``attest.py``, ``efact.py``, ``gmd.py``,
``wsdl/mycarenet_v1.wsdl`` (the project's own WSDL of the four services; see its header for what
it simplifies).
"""

from __future__ import annotations

import importlib.resources

WSDL_NAME = "mycarenet_v1.wsdl"
NS = "urn:ehealth-hub:mycarenet:wsdl"
MEMBERDATA_BINDING = f"{{{NS}}}MemberDataBinding"
ATTEST_BINDING = f"{{{NS}}}AttestBinding"
GENASYNC_BINDING = f"{{{NS}}}GenAsyncBinding"
GMD_BINDING = f"{{{NS}}}GlobalMedicalFileBinding"


def wsdl_file() -> str:
    """Filesystem path of the packaged MyCareNet WSDL."""
    return str(importlib.resources.files("ehealth_hub.connectors.mycarenet") / "wsdl" / WSDL_NAME)
