"""Trust layer throughput: WS-Security sign/verify, ETEE seal/unseal, cached STS token cost.

Floor, measured in the same run: raw RSA-2048 PKCS#1 v1.5 SHA-256 signatures with
``cryptography`` on a 1 KiB message (one core). Target (issue 4): signing envelopes at >= 50% of
the raw rate; a cached token < 0.1 ms. Runs in ~20 s: ``python -m benchmarks.wsse``.
"""

from __future__ import annotations

import asyncio
import base64
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree

from ehealth_hub.fixtures.pki import SandboxPki
from ehealth_hub.fixtures.sim_sts import StsSimulator, in_process_client
from ehealth_hub.trust import saml, xades
from ehealth_hub.trust.etee import EtkId, seal, unseal
from ehealth_hub.trust.saml_cache import VerifiedSignatures
from ehealth_hub.trust.wsse import sign_envelope, verify_envelope

SECONDS = 2.0
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ENVELOPE = (
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
    b'<m:GetTransactionListRequest xmlns:m="urn:x">'
    + b"<m:item>kmehr</m:item>"
    * 40
    + b"</m:GetTransactionListRequest>"
    b"</soapenv:Body></soapenv:Envelope>"
)


def rate(action: Callable[[], object], seconds: float = SECONDS) -> float:
    """Operations per second of this process's CPU time, over ``seconds`` of it (after one
    warm-up call): on a shared machine, time spent waiting for a core is not counted, so the
    ratios to the floor do not depend on what the neighbours run (every operation here runs on
    the calling thread)."""
    action()
    count, start = 0, time.process_time()
    while (elapsed := time.process_time() - start) < seconds:
        action()
        count += 1
    return count / elapsed


async def cached_token_us(pki: SandboxPki) -> float:
    clock = lambda: NOW  # noqa: E731  # a fixed clock keeps the token fresh
    async with in_process_client(StsSimulator(pki, clock=clock), pki, clock=clock) as sts:
        sarah = pki.practitioner("sarah")
        await sts.token(sarah, "doctor")
        rounds = 20_000
        start = time.perf_counter()
        for _ in range(rounds):
            await sts.token(sarah, "doctor")
        return (time.perf_counter() - start) / rounds * 1e6


def hok_assertion(pki: SandboxPki) -> bytes:
    """A signed STS assertion held by sarah, serialised as the STS client caches it."""
    unsigned = saml.build_assertion(
        assertion_id="_bench",
        issuer="urn:be:fgov:ehealth:sts:1_0",
        holder=pki.practitioner("sarah").certificate,
        attributes=[(saml.CERTIFIED_NS, "urn:be:fgov:person:ssin:doctor:boolean", "true")],
        now=NOW,
        lifetime=timedelta(hours=1),
    )
    return etree.tostring(saml.sign_assertion(unsigned, pki.sts))


def other_verifications(pki: SandboxPki, assertion: bytes) -> list[tuple[str, float]]:
    """The one XML signature verifier's other policies: an STS assertion checked with no
    memory of it (a fresh ``VerifiedSignatures`` each time), and a XAdES over an 8 KB Detail."""
    parsed = etree.fromstring(assertion)
    sts = [pki.sts.certificate]
    content = b"x" * 8000
    signature = xades.sign_detail(content, "Detail-1", pki.practitioner("sarah"), now=NOW)
    detail = etree.Element(f"{{{xades.DETAIL_NS}}}Detail", Id="Detail-1")
    detail.text = base64.b64encode(content).decode()
    signer = pki.practitioner("sarah").certificate

    def assertion_verify() -> object:
        memory = VerifiedSignatures()  # empty: the signature is checked every time
        return saml.verify_assertion(
            parsed, trusted=pki.truststore, sts=sts, now=NOW, signatures=memory
        )

    return [
        ("STS assertion verify (no memory)", rate(assertion_verify)),
        (
            "XAdES over a Detail, verify",
            rate(lambda: xades.signed_properties(etree.fromstring(signature), detail, signer)),
        ),
    ]


def main() -> None:
    pki = SandboxPki.load_or_create(Path(tempfile.gettempdir()) / "ehealth-hub-bench-pki")
    sarah = pki.practitioner("sarah")
    message = b"x" * 1024
    raw = rate(lambda: sarah.private_key.sign(message, padding.PKCS1v15(), hashes.SHA256()))
    sign = rate(lambda: sign_envelope(etree.fromstring(ENVELOPE), sarah, now=NOW))
    assertion = hok_assertion(pki)
    sign_hok = rate(
        lambda: sign_envelope(etree.fromstring(ENVELOPE), sarah, assertion=assertion, now=NOW)
    )
    signed = etree.tostring(sign_envelope(etree.fromstring(ENVELOPE), sarah, now=NOW))
    verify = rate(lambda: verify_envelope(signed, trusted=pki.truststore, now=NOW))
    jan = pki.etk(EtkId("SSIN", "65050511172"))
    own = pki.etk(EtkId("SSIN", "80021512354")).certificate
    note = b"<kmehrmessage>" + b"x" * 8000 + b"</kmehrmessage>"
    sealed = seal(note, sarah, [jan.certificate], sender_etk=own)
    seal_rate = rate(lambda: seal(note, sarah, [jan.certificate], sender_etk=own))
    unseal_rate = rate(lambda: unseal(sealed, jan, truststore=pki.truststore, now=NOW))
    others = other_verifications(pki, assertion)
    token_us = asyncio.run(cached_token_us(pki))
    print(f"floor: raw RSA-2048 sign (cryptography)    {raw:9.0f} /s")
    for label, value in (
        ("WS-Security sign_envelope (X.509 mode)", sign),
        ("WS-Security sign_envelope (SAML HoK mode)", sign_hok),
        ("WS-Security verify_envelope", verify),
        ("ETEE seal (8 KB, 2 recipients, 2 sigs)", seal_rate),
        ("ETEE unseal (decrypt + 2 verifications)", unseal_rate),
        *others,
    ):
        print(f"{label:<43}{value:9.0f} /s  {value / raw:5.0%} of floor")
    print(f"cached STS token                           {token_us:9.2f} µs (target < 100 µs)")


if __name__ == "__main__":
    main()
