"""An operation that only takes POST answers any other method 405 Method Not Allowed (an
OperationOutcome, ``Allow: POST``), not a refusal of ``$submit`` as a resource id; operations that
also take GET (``Patient/$summary``) keep answering it. fhirpy over HTTP on a loopback hub."""

from __future__ import annotations

import pytest
from fhirpy.base.exceptions import OperationOutcome

from ehealth_hub.fixtures import sandbox
from tests.api.fhirpy.conftest import Hub

SARAH = sandbox.practitioner("sarah")
POST_ONLY = (
    "Claim/$submit",
    "CoverageEligibilityRequest/$submit",
    "Task/$replay",
    "Task/some-task/$replay",
)


async def test_get_on_a_post_only_operation_is_405_method_not_allowed(hub: Hub) -> None:
    app = await hub.fhir("consult-app", SARAH.nihii)
    for operation in POST_ONLY:
        with pytest.raises(OperationOutcome, match="takes POST only"):
            await app.execute(operation, method="get")
        token = await hub.token("operator")
        for method in ("GET", "PUT", "DELETE"):
            answer = await hub.http.request(
                method, f"/fhir/{operation}", headers={"Authorization": f"Bearer {token}"}
            )
            assert answer.status_code == 405, (method, operation, answer.text)
            assert answer.headers["allow"] == "POST"
            issue = answer.json()["issue"][0]
            assert issue["code"] == "not-supported", operation


async def test_an_operation_that_also_takes_get_still_answers_it(hub: Hub) -> None:
    app = await hub.fhir("consult-app", SARAH.nihii)
    with pytest.raises(OperationOutcome, match="identifier") as refused:  # routed, not 405
        await app.execute("Patient/$summary", method="get", params={"identifier": "nope"})
    assert "405" not in str(refused.value)
    read = await hub.get("operator", "/fhir/Claim/some-claim")
    assert read.status_code != 405  # a Claim id is still read (403/404 here), not an operation
