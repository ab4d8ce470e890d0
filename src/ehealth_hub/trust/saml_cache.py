"""A bounded memory of SAML assertions whose STS signature already verified.

Every business SOAP call carries the caller's assertion, identical for all calls of one token, and
re-verifying its XML signature was the largest per-call cost of the simulators.
``saml.verify_assertion`` asks the ``VerifiedSignatures`` it is given first and verifies the
signature only on a miss. The memory belongs to whoever verifies (each simulated service owns one:
``fixtures.soap_server.SoapSimulator``); there is no process-wide instance.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

from cryptography import x509
from lxml import etree

SignatureKey: TypeAlias = tuple[bytes, tuple[x509.Certificate, ...], tuple[x509.Certificate, ...]]
"""SHA-256 of the assertion's serialisation, the CA anchors, the pinned STS certificates."""


@dataclass(frozen=True, slots=True)
class VerifiedSigner:
    """The STS certificate path of an assertion whose signature verified."""

    certificate: x509.Certificate
    """The pinned STS certificate whose key the signature verified with."""
    chain: tuple[x509.Certificate, ...]
    """The other certificates the signature carried (the path is re-checked against ``now``)."""


def signature_key(
    assertion: etree._Element,
    trusted: Sequence[x509.Certificate],
    sts: Sequence[x509.Certificate],
) -> SignatureKey:
    """The cache key of ``assertion`` verified under these trust anchors.

    The full serialisation, not exclusive c14n: it keeps in-scope namespace declarations and
    comments that exclusive c14n drops (an ``InclusiveNamespaces`` PrefixList would cover the
    former). ``tostring`` of an element in its document writes every in-scope declaration and the
    tail, so equal keys mean equal input to the verifier. The certificates enter by value
    (``x509.Certificate`` compares and hashes its DER), in the order given.
    """
    digest = hashlib.sha256(etree.tostring(assertion, with_tail=True)).digest()
    return digest, tuple(trusted), tuple(sts)


class VerifiedSignatures:
    """LRU set of assertion signatures that verified: key -> the signer's certificate path.

    Why a hit may skip the signature check: the key covers every byte of the assertion (so every
    byte the enveloped signature covers, the ``ds:Signature`` and its certificates included) plus
    the exact trust inputs (``trusted`` anchors and pinned ``sts`` certificates). A hit therefore
    proves that these exact bytes verified against these exact anchors before, and the signature
    check is a pure function of them. Only certificate validity depends on the clock, so the caller
    re-runs the (cheap) chain check on the remembered path at every hit. Only successes are
    remembered; the validity window, holder key and attributes are checked on every call.

    No awaits inside: safe under asyncio; the lock covers callers on worker threads.
    """

    def __init__(self, max_entries: int = 1024) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries: Final = max_entries
        self._entries: OrderedDict[SignatureKey, VerifiedSigner] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        """Lookups answered from memory (the signature not checked again)."""
        self.misses = 0
        """Lookups that found nothing (the caller verifies the signature)."""

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, key: SignatureKey) -> VerifiedSigner | None:
        """The signer remembered under ``key`` (now the most recently used), or None."""
        with self._lock:
            signer = self._entries.get(key)
            if signer is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return signer

    def remember(self, key: SignatureKey, signer: VerifiedSigner) -> None:
        """Record a signature that has just verified; forgets the least recently used beyond
        the bound."""
        with self._lock:
            self._entries[key] = signer
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
