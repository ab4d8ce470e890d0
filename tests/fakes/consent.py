"""In-memory Consent, Therapeutic Link and exclusion services (the gate's ports), with faults.

Real behaviour over a dict (put, revoke, query by patient and care provider), seeded from the
sandbox population; ``fail_with`` makes every call raise that error, ``delay`` makes every call
slow (for timeouts), and ``calls`` counts the calls (to see the cache at work).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date

from ehealth_hub.core.errors import HubError
from ehealth_hub.core.ports import Actor, Exclusion, NationalConsent, TherapeuticLink
from ehealth_hub.fixtures.sandbox import PATIENTS, practitioner


class _Faulty:
    def __init__(self) -> None:
        self.fail_with: HubError | None = None
        self.delay = 0.0
        self.calls = 0

    async def _enter(self) -> None:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_with is not None:
            raise self.fail_with


class FakeConsentService(_Faulty):
    """The national Consent service."""

    def __init__(self, consents: dict[str, NationalConsent] | None = None) -> None:
        super().__init__()
        self.consents = dict(consents or {})

    async def get_consent(self, patient_ssin: str, actor: Actor) -> NationalConsent | None:
        await self._enter()
        return self.consents.get(patient_ssin)

    async def put_consent(self, consent: NationalConsent, actor: Actor) -> None:
        await self._enter()
        self.consents[consent.patient_ssin] = consent

    async def revoke_consent(self, patient_ssin: str, actor: Actor) -> None:
        await self._enter()
        current = self.consents.get(patient_ssin)
        if current is not None:
            self.consents[patient_ssin] = replace(current, status="revoked", revoked=date.today())


class FakeTherapeuticLinkService(_Faulty):
    """The Therapeutic Link service."""

    def __init__(self, links: list[TherapeuticLink] | None = None) -> None:
        super().__init__()
        self.links = list(links or [])

    async def get_links(
        self, patient_ssin: str, actor: Actor, *, hcparty_nihii: str | None = None
    ) -> list[TherapeuticLink]:
        await self._enter()
        return [
            link
            for link in self.links
            if link.patient_ssin == patient_ssin
            and (hcparty_nihii is None or link.hcparty_nihii == hcparty_nihii)
        ]

    async def put_link(self, link: TherapeuticLink, actor: Actor) -> None:
        await self._enter()
        self.links.append(link)

    async def revoke_link(self, link: TherapeuticLink, actor: Actor) -> None:
        await self._enter()
        self.links = [
            existing
            for existing in self.links
            if (existing.patient_ssin, existing.hcparty_nihii, existing.link_type)
            != (link.patient_ssin, link.hcparty_nihii, link.link_type)
        ]


class FakeExclusionService(_Faulty):
    """The regional hubs' exclusions."""

    def __init__(self, exclusions: list[Exclusion] | None = None) -> None:
        super().__init__()
        self.exclusions = list(exclusions or [])

    async def get_exclusions(self, patient_ssin: str, actor: Actor) -> list[Exclusion]:
        await self._enter()
        return [e for e in self.exclusions if e.patient_ssin == patient_ssin]


def sandbox_services() -> tuple[
    FakeConsentService, FakeTherapeuticLinkService, FakeExclusionService
]:
    """The three services holding the sandbox population's facts."""
    consents = {
        p.ssin: NationalConsent(p.ssin, "active", signed=date(2020, 1, 6))
        for p in PATIENTS
        if p.national_consent
    }
    links = [
        TherapeuticLink(
            p.ssin, practitioner(key).nihii, "gpconsultation", "eidreading", date(2024, 1, 1)
        )
        for p in PATIENTS
        for key in p.links
    ]
    exclusions = [
        Exclusion(p.ssin, practitioner(key).nihii, date(2023, 5, 1))
        for p in PATIENTS
        for key in p.exclusions
    ]
    return (
        FakeConsentService(consents),
        FakeTherapeuticLinkService(links),
        FakeExclusionService(exclusions),
    )
