"""Conditional operations (FHIR R4 http.html: cread, ccreate, concurrency) against the sandbox
hub on a loopback port, as a FHIR client (fhirpy) uses them; raw HTTP (httpx) where fhirpy has
no way to send or show a header (If-Match, Last-Modified)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import pytest
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import MultipleResourcesFound

from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consultation import consultation_consent
from tests.journeys import conftest as journeys

hub = journeys.hub
fhir_for = journeys.fhir_for
Hub = journeys.Hub
FhirFactory = journeys.FhirFactory

SARAH = sandbox.practitioner("sarah")
AN = sandbox.patient("an")
URI = "urn:ietf:rfc:3986"


def _consent(identifier: str | None = None) -> dict[str, Any]:
    body = consultation_consent(AN, SARAH, start=datetime.now(UTC))
    if identifier is not None:
        body["identifier"] = [{"system": URI, "value": identifier}]
    return body


async def _sarah(fhir_for: FhirFactory) -> AsyncFHIRClient:
    return await fhir_for("consult-app", SARAH.nihii)


async def _headers(hub: Hub, **extra: str) -> dict[str, str]:
    token = await hub.app("consult-app", SARAH.nihii).token()
    return {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json", **extra}


async def test_a_consent_read_has_a_weak_etag_and_an_http_date_last_modified(
    fhir_for: FhirFactory, hub: Hub
) -> None:
    consent = await (await _sarah(fhir_for)).resource("Consent", **_consent()).save()
    read = await hub.http.get(f"/fhir/Consent/{consent.id}", headers=await _headers(hub))
    assert read.status_code == 200
    assert read.headers["etag"] == 'W/"1"'
    assert read.headers["content-type"] == "application/fhir+json; charset=utf-8"
    modified = parsedate_to_datetime(read.headers["last-modified"])
    assert read.headers["last-modified"].endswith(" GMT"), "IMF-fixdate (RFC 9110 5.6.7)"
    updated = datetime.fromisoformat(read.json()["meta"]["lastUpdated"])
    assert modified == updated.replace(microsecond=0)


async def test_a_read_with_the_current_etag_is_304_not_modified_and_a_stale_one_is_200(
    fhir_for: FhirFactory, hub: Hub
) -> None:
    consent = await (await _sarah(fhir_for)).resource("Consent", **_consent()).save()
    url = f"/fhir/Consent/{consent.id}"
    current = await hub.http.get(url, headers=await _headers(hub, **{"If-None-Match": 'W/"1"'}))
    assert current.status_code == 304
    assert current.content == b""
    assert current.headers["etag"] == 'W/"1"'
    stale = await hub.http.get(url, headers=await _headers(hub, **{"If-None-Match": 'W/"0"'}))
    assert stale.status_code == 200
    assert stale.json()["id"] == consent.id


async def test_fhirpy_refresh_keeps_an_unchanged_resource_through_304(
    fhir_for: FhirFactory,
) -> None:
    consent = await (await _sarah(fhir_for)).resource("Consent", **_consent()).save()
    before = dict(consent)
    await consent.refresh()  # sends If-None-Match: <versionId>: answered 304, nothing to merge
    assert dict(consent) == before


async def test_if_modified_since_at_the_last_change_is_304_and_before_it_is_200(
    fhir_for: FhirFactory, hub: Hub
) -> None:
    consent = await (await _sarah(fhir_for)).resource("Consent", **_consent()).save()
    url = f"/fhir/Consent/{consent.id}"
    modified = (await hub.http.get(url, headers=await _headers(hub))).headers["last-modified"]
    same = await hub.http.get(url, headers=await _headers(hub, **{"If-Modified-Since": modified}))
    assert same.status_code == 304
    earlier = format_datetime(datetime(2020, 1, 1, tzinfo=UTC), usegmt=True)
    older = await hub.http.get(url, headers=await _headers(hub, **{"If-Modified-Since": earlier}))
    assert older.status_code == 200


async def test_a_stale_if_match_on_delete_is_412_and_revokes_nothing(
    fhir_for: FhirFactory,
) -> None:
    app = await _sarah(fhir_for)
    consent = await app.resource("Consent", **_consent()).save()
    with pytest.raises(MultipleResourcesFound) as refused:  # fhirpy's name for any 412
        await app._do_request(  # fhirpy has no public way to send If-Match
            "delete", f"Consent/{consent.id}", extra_headers={"If-Match": 'W/"7"'}
        )
    assert "if-match-stale" in str(refused.value)
    assert (await app.reference("Consent", consent.id).to_resource())["status"] == "active"


async def test_a_current_if_match_on_delete_revokes_as_a_new_version(
    fhir_for: FhirFactory, hub: Hub
) -> None:
    app = await _sarah(fhir_for)
    consent = await app.resource("Consent", **_consent()).save()
    url = f"/fhir/Consent/{consent.id}"
    deleted = await hub.http.delete(url, headers=await _headers(hub, **{"If-Match": 'W/"1"'}))
    assert deleted.status_code == 200
    assert deleted.headers["etag"] == 'W/"2"'
    assert (await app.reference("Consent", consent.id).to_resource())["status"] == "inactive"


async def test_a_stale_if_match_on_put_is_412_precondition_failed(
    fhir_for: FhirFactory, hub: Hub
) -> None:
    consent = await (await _sarah(fhir_for)).resource("Consent", **_consent()).save()
    body = {**consent, "status": "inactive"}
    url = f"/fhir/Consent/{consent.id}"
    stale = await hub.http.put(url, json=body, headers=await _headers(hub, **{"If-Match": '"9"'}))
    assert stale.status_code == 412
    issue = stale.json()["issue"][0]
    assert (issue["code"], issue["details"]["text"]) == ("conflict", "if-match-stale")
    current = await hub.http.put(url, json=body, headers=await _headers(hub, **{"If-Match": '"1"'}))
    assert current.status_code == 200
    assert current.json()["meta"]["versionId"] == "2"


async def test_conditional_create_with_one_match_answers_the_existing_consent(
    fhir_for: FhirFactory, hub: Hub
) -> None:
    app = await _sarah(fhir_for)
    key = f"urn:uuid:{uuid.uuid4()}"
    first, created = (
        await app.resources("Consent")
        .search(identifier=f"{URI}|{key}")
        .get_or_create(app.resource("Consent", **_consent(key)))
    )
    assert created
    again, created_again = (
        await app.resources("Consent")
        .search(identifier=f"{URI}|{key}")
        .get_or_create(app.resource("Consent", **_consent(key)))
    )
    assert not created_again
    assert again.id == first.id
    header = {"If-None-Exist": f"identifier={URI}|{key}"}
    answered = await hub.http.post(
        "/fhir/Consent", json=_consent(key), headers=await _headers(hub, **header)
    )
    assert answered.status_code == 200
    assert answered.json()["id"] == first.id


async def test_conditional_create_matching_several_consents_is_412(
    fhir_for: FhirFactory,
) -> None:
    app = await _sarah(fhir_for)
    for _ in range(2):
        await app.resource("Consent", **_consent()).save()
    with pytest.raises(MultipleResourcesFound) as refused:
        await (
            app.resources("Consent")
            .search(patient=AN.ssin)
            .get_or_create(app.resource("Consent", **_consent()))
        )
    assert "if-none-exist-multiple" in str(refused.value)


async def test_conditional_create_refuses_criteria_it_cannot_search_by(hub: Hub) -> None:
    header = {"If-None-Exist": "status=active"}
    refused = await hub.http.post(
        "/fhir/Consent", json=_consent(), headers=await _headers(hub, **header)
    )
    assert refused.status_code == 400
    assert refused.json()["issue"][0]["expression"] == ["If-None-Exist"]
