"""The AddressBook connector against its simulator, through zeep and httpx."""

from __future__ import annotations

import pytest

from ehealth_hub.connectors.addressbook import AddressBookClient
from ehealth_hub.core.errors import BusinessRejection, NotFound
from ehealth_hub.core.ports import ProviderEntry
from ehealth_hub.fixtures import sandbox
from tests.connectors.conftest import actor


async def test_finds_a_gp_with_their_ehealthbox(addressbook_client: AddressBookClient) -> None:
    jan = sandbox.practitioner("jan")
    entry = await addressbook_client.find_provider(jan.nihii, actor("sarah"))
    assert entry == ProviderEntry(jan.nihii, "Jan", "Janssens", "doctor", "NIHII", jan.nihii, True)


async def test_finds_a_psychologist_with_their_quality(
    addressbook_client: AddressBookClient,
) -> None:
    entry = await addressbook_client.find_provider(
        sandbox.practitioner("koen").nihii, actor("sarah")
    )
    assert entry.quality == "clinical_psychologist"


async def test_reports_an_unknown_care_provider_as_not_found(
    addressbook_client: AddressBookClient,
) -> None:
    with pytest.raises(NotFound):
        await addressbook_client.find_provider("10000007003", actor("sarah"))


async def test_relays_the_refusal_of_a_malformed_nihii(
    addressbook_client: AddressBookClient,
) -> None:
    with pytest.raises(BusinessRejection) as refused:
        await addressbook_client.find_provider("12345678901", actor("sarah"))
    assert refused.value.code == "Requester"
