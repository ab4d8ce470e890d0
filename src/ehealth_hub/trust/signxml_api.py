"""signxml, imported in one place, without cryptography's DSA deprecation notice.

cryptography >= 48 warns (``CryptographyDeprecationWarning``) whenever ``dsa.DSAPrivateKey`` is
looked up, and signxml 4 looks it up in a type annotation of ``XMLSigner``, at import. The hub
never signs or verifies with DSA (``XMLVerifier`` reaches the DSA classes only for DSA algorithms,
which ``SignatureConfiguration`` refuses here), so the notice is noise for the hub's users. It is
silenced for that one import, attributed to signxml's modules only, and the warning filters are
restored on the way out: nothing process-wide changes.
"""

import warnings

from cryptography.utils import CryptographyDeprecationWarning

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning, module=r"signxml\.")
    from signxml import (  # type: ignore[attr-defined]  # re-exported names without stubs
        DigestAlgorithm,
        SignatureConfiguration,
        SignatureMethod,
        XMLSigner,
        XMLVerifier,
    )
    from signxml.algorithms import CanonicalizationMethod, SignatureConstructionMethod
    from signxml.exceptions import InvalidInput, InvalidSignature, SignXMLException
    from signxml.xades.xades import (
        XAdESDataObjectFormat,
        XAdESSignatureConfiguration,
        XAdESSigner,
        XAdESVerifier,
    )

__all__ = [
    "CanonicalizationMethod",
    "DigestAlgorithm",
    "InvalidInput",
    "InvalidSignature",
    "SignXMLException",
    "SignatureConfiguration",
    "SignatureConstructionMethod",
    "SignatureMethod",
    "XAdESDataObjectFormat",
    "XAdESSignatureConfiguration",
    "XAdESSigner",
    "XAdESVerifier",
    "XMLSigner",
    "XMLVerifier",
]
