"""signxml, imported in one place, without cryptography's DSA deprecation notice.

The hub signs with it (STS assertions in the simulator, XAdES); it verifies with
:mod:`.dsig_verify` only.

cryptography >= 48 warns (``CryptographyDeprecationWarning``) whenever ``dsa.DSAPrivateKey`` is
looked up, and signxml 4 looks it up in a type annotation of ``XMLSigner``, at import. The hub
never signs with DSA, so the notice is noise for the hub's users. It is
silenced for that one import, attributed to signxml's modules only, and the warning filters are
restored on the way out: nothing process-wide changes.
"""

import warnings

from cryptography.utils import CryptographyDeprecationWarning

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning, module=r"signxml\.")
    from signxml import (  # type: ignore[attr-defined]  # re-exported names without stubs
        XMLSigner,
    )
    from signxml.algorithms import SignatureConstructionMethod
    from signxml.exceptions import SignXMLException
    from signxml.xades.xades import (
        XAdESDataObjectFormat,
        XAdESSigner,
    )

__all__ = [
    "SignXMLException",
    "SignatureConstructionMethod",
    "XAdESDataObjectFormat",
    "XAdESSigner",
    "XMLSigner",
]
