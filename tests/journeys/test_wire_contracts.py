"""Every SOAP message of the three journeys, both ways, against the official contracts.

The demo's journeys are played against the hub (plus a claim that goes by eAttest); then each
request a simulator received and each answer it sent is validated with the official schema of its
body's namespace (GenericAsync with the CIN types it imports left open), and each XAdES a
MyCareNet message carries with XAdES 1.3.2
(``tests/official_schemas.py`` says which contracts the reference set holds whole). So the hub's
connectors (zeep, the hand-built IntraHub messages) and the simulators' answers are held to the
same contract.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ehealth_hub.demo import play
from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.consultation import teleconsultation_claim
from tests.journeys.conftest import Hub
from tests.mycarenet.conftest import FEDERATION_ROUTE_RULES
from tests.official_schemas import kinds, wire_violations

pytestmark = pytest.mark.corpus


async def _bill_by_eattest(hub: Hub) -> None:
    """The demo bills An by eFact (third-party payment); Sofie's consultation goes by eAttest
    (under a tariff table that leaves the video codes to the federation's route: the packaged one
    makes eFact mandatory for them)."""
    sofie, sarah = sandbox.patient("sofie"), sandbox.practitioner("sarah")
    app = hub.app("consult-app", sarah.nihii)
    today = datetime.now(UTC).date().isoformat()
    answer = await app.post(
        "/fhir/Claim/$submit", teleconsultation_claim("wire-1", sofie, sarah, serviced=today)
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "complete", answer.text


@pytest.mark.parametrize(
    "hub", [{"mycarenet": {"billing_rules_file": FEDERATION_ROUTE_RULES}}], indirect=True
)
async def test_every_soap_message_of_the_journeys_follows_the_official_contract(
    hub: Hub, shared_dir: Path
) -> None:
    report = await play(hub.http, hub.container, hub.settings)
    assert report.failures == 0, report.rows
    await _bill_by_eattest(hub)
    assert hub.container.connectors is not None
    sims = hub.container.connectors.simulators
    assert sims is not None
    checked = wire_violations(shared_dir, sims.soap())
    assert not {label: errors for label, errors in checked.items() if errors}
    assert {
        "request GetTransactionListRequest",
        "answer GetTransactionListRequest",
        "request GetTransactionRequest",
        "answer GetTransactionRequest",
        "request GetTherapeuticLinkRequest",
        "request GetPatientConsentRequest",
        "request Request",
        "answer Request",
        "request SendAttestationRequest",
        "request SendAttestationRequest Xades",
        "answer SendAttestationRequest",
        "request post",
        "request post Xades-t",
        "answer post",
        "request get",
        "answer get",
        "answer get Xades-t",
        "request confirm",
        "request SendMessageRequest attributes",
        "request SendMessageRequest ContentContext",
    } <= kinds(checked), sorted(kinds(checked))
