"""The MyCareNet envelope: CommonInput, Routing and a Detail sealed for MyCareNet's ETK.

Standard: MyCareNet commons core/protocol v4 (``urn:be:fgov:ehealth:mycarenet:commons:*:v4``):
``CommonInput`` = ``Request/IsTest``, ``Origin/Package/License`` (the vendor package licence
MyCareNet grants), ``Origin/CareProvider/Nihii`` (Quality + Value) and the ``InputReference``;
``Routing`` = ``CareReceiver`` (SSIN, or mutuality + membership number), ``ReferenceDate`` and an
optional ``Period``; ``Detail`` = the business message as a base64 Blob. The Detail is sealed with
eHealth ETEE (:mod:`ehealth_hub.trust.etee`) for MyCareNet's ETK (CBE 0820563481, application
MYCARENET) and the hub's own ETK, signed by the hub's identity; answers are sealed by MyCareNet for
the hub and are unsealed and verified here: signatures, chain to the truststore, and a sender
whose certificate names MyCareNet's CBE (any other trusted party could seal a message for the
hub, but only MyCareNet answers for the mutualities).

XAdES: eAttest v3 (``Xades``) and GenericAsync post (``Xades-t``) carry a XAdES-BES signature by
the care provider's own key over the Detail's decoded content (:mod:`.xades`); the Detail gets an
``Id`` the signature references. MemberData does not ask for one.

Public API::

    Package(name, username, password)                           # the vendor licence
    Sealing(identity, truststore, mycarenet_etk, clock)         # who seals/unseals, and for whom
    Envelope(package, sealing, *, is_test)
    envelope.common_input(actor, reference) -> dict             # zeep-ready
    envelope.routing(ssin=..., mutuality=..., membership=..., reference_date, period=None) -> dict
    await envelope.detail(content, *, content_type, message_name=None) -> dict
    await envelope.open(detail) -> bytes                        # unsealed, verified
    await envelope.xades(detail, signer) -> bytes               # XAdES-BES over the Detail
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from cryptography import x509

from ehealth_hub.core.errors import DownstreamProtocolError, EncryptionError
from ehealth_hub.core.mycarenet_types import MYCARENET_CBE
from ehealth_hub.core.ports import Actor
from ehealth_hub.trust import etee, xades
from ehealth_hub.trust.credentials import Credential, subject_value

ENCRYPTED: Final = "encryptedForKnownRecipient"
"""ContentEncryption of a sealed Detail (MyCareNet: ``encryptedForKnownBED``/known recipient)."""

MCN_QUALITIES: Final = {
    "doctor": "doctor",
    "clinical_psychologist": "clinicalpsychologist",
    "nurse": "nurse",
    "physiotherapist": "physiotherapist",
}


@dataclass(frozen=True, slots=True)
class Package:
    """The software package's MyCareNet licence (granted by the CIN/NIC to the vendor)."""

    name: str
    """Name of the package as registered with MyCareNet."""
    username: str
    """Licence user name."""
    password: str
    """Licence password (a secret: never logged)."""


@dataclass(frozen=True, slots=True)
class Sealing:
    """Who seals and unseals the Detail, and for whom."""

    identity: Credential
    """The hub's ETK identity: signs what it seals and decrypts MyCareNet's answers."""
    truststore: Sequence[x509.Certificate]
    """Anchors the senders of sealed answers must chain to."""
    mycarenet_etk: Callable[[], Awaitable[x509.Certificate]]
    """MyCareNet's ETK (CBE 0820563481, MYCARENET), from the ETK depot (cached there)."""
    clock: Callable[[], datetime]


class Envelope:
    """Builds CommonInput/Routing/Detail and opens answers; see the module docstring."""

    def __init__(self, package: Package, sealing: Sealing, *, is_test: bool) -> None:
        self.package, self.sealing, self.is_test = package, sealing, is_test

    def common_input(self, actor: Actor, reference: str) -> dict[str, Any]:
        """CommonInput for a call on behalf of ``actor``; ``reference`` is the InputReference."""
        return {
            "Request": {"IsTest": self.is_test},
            "Origin": self.origin(actor),
            "InputReference": reference,
        }

    def origin(self, actor: Actor) -> dict[str, Any]:
        """The Origin: package licence and the care provider (NIHII + MyCareNet quality)."""
        care_provider: dict[str, Any] = {
            "Nihii": {
                "Quality": MCN_QUALITIES.get(actor.quality, actor.quality),
                "Value": actor.nihii,
            }
        }
        if actor.ssin:
            care_provider["PhysicalPerson"] = {"Ssin": actor.ssin}
        return {
            "Package": {
                "Name": self.package.name,
                "License": {"Username": self.package.username, "Password": self.package.password},
            },
            "CareProvider": care_provider,
        }

    @staticmethod
    def routing(
        *,
        reference_date: date,
        ssin: str | None = None,
        mutuality: str | None = None,
        membership: str | None = None,
        period: tuple[date, date] | None = None,
    ) -> dict[str, Any]:
        """Routing to the care receiver's mutuality (SSIN, or mutuality + membership number)."""
        receiver = {
            k: v
            for k, v in (("Ssin", ssin), ("RegNrWithMut", membership), ("Mutuality", mutuality))
            if v
        }
        out: dict[str, Any] = {"CareReceiver": receiver, "ReferenceDate": reference_date}
        if period:
            out["Period"] = {"Start": period[0], "End": period[1]}
        return out

    async def detail(
        self, content: bytes, *, content_type: str, message_name: str | None = None
    ) -> dict[str, Any]:
        """The Detail Blob: ``content`` sealed for MyCareNet and the hub, with its SHA-256."""
        recipient = await self.sealing.mycarenet_etk()
        identity = self.sealing.identity
        sealed = await asyncio.to_thread(
            etee.seal, content, identity, [recipient], sender_etk=identity.certificate
        )
        blob: dict[str, Any] = {
            "_value_1": sealed,
            "Id": "Detail-" + hashlib.sha256(sealed).hexdigest()[:32],
            "ContentType": content_type,
            "ContentEncoding": "none",
            "ContentEncryption": ENCRYPTED,
            "HashValue": hashlib.sha256(content).digest(),
        }
        if message_name:
            blob["MessageName"] = message_name
        return blob

    async def xades(self, detail: dict[str, Any], signer: Credential) -> bytes:
        """The XAdES-BES of ``signer`` (the care provider) over a Detail built by :meth:`detail`."""
        return await asyncio.to_thread(
            xades.sign_detail,
            detail["_value_1"],
            detail["Id"],
            signer,
            now=self.sealing.clock(),
        )

    async def open(self, detail: Any) -> bytes:
        """The content of an answer's Detail: unsealed, signatures and hash verified."""
        raw = getattr(detail, "_value_1", None)
        if not isinstance(raw, bytes | bytearray):
            raise DownstreamProtocolError(
                "answer without a Detail", system="mycarenet", operation="open"
            )
        if getattr(detail, "ContentEncryption", None) != ENCRYPTED:
            raise EncryptionError(
                "MyCareNet answer Detail is not sealed", system="mycarenet", operation="open"
            )
        opened = await asyncio.to_thread(
            etee.unseal,
            bytes(raw),
            self.sealing.identity,
            truststore=self.sealing.truststore,
            now=self.sealing.clock(),
        )
        sender = subject_value(opened.sender, "CBE")
        if sender != MYCARENET_CBE:
            raise EncryptionError(
                f"MyCareNet answer sealed by {'CBE ' + sender if sender else 'a party'} other "
                f"than MyCareNet (CBE {MYCARENET_CBE})",
                system="mycarenet",
                operation="open",
            )
        expected = getattr(detail, "HashValue", None)
        if expected is not None and hashlib.sha256(opened.payload).digest() != bytes(expected):
            raise EncryptionError(
                "Detail HashValue does not match its content", system="mycarenet", operation="open"
            )
        return opened.payload


def reference_of(*parts: str) -> str:
    """A deterministic InputReference (max 30 characters) from the call's identity."""
    return base64.b32encode(hashlib.sha256("|".join(parts).encode()).digest()).decode()[:30]
