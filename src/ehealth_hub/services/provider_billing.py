"""Who may bill a tariff row: the provider type of the acting care provider must be the row's.

The tariff table's ``provider`` column names physicians' codes (``gp``, ``specialist``,
``gp-acquired-rights``) and psychologists' sessions (``clinical-psychologist``); the acting
provider's type comes from the eHealth quality the STS certified (``data/provider_types.csv``,
:class:`~ehealth_hub.services.access_matrix.AccessMatrix`). A clinical psychologist billing a GP
video code was sent to MyCareNet and came back refused (``EFACT_QUALIT``); it is now refused here,
before anything is sent (422 ``billing.provider-type``), as is a physician billing a
psychologist's session.
"""

from __future__ import annotations

from datetime import date
from typing import Final

from ehealth_hub.core.ports import Actor
from ehealth_hub.services.access_matrix import AccessMatrix
from ehealth_hub.services.billing_check import refuse
from ehealth_hub.services.billing_rules import TariffRow

TARIFF_PROVIDER_TYPES: Final = {
    "gp": "physician",
    "specialist": "physician",
    "gp-acquired-rights": "physician",
    "clinical-psychologist": "clinical-psychologist",
}
"""The tariff table's ``provider`` values -> the provider type (``data/provider_types.csv``)
that may bill such a row (what the column means, not a fact that changes)."""


def check_provider(row: TariffRow, actor: Actor, on: date, types: AccessMatrix) -> None:
    """BusinessRejection ``billing.provider-type`` when the acting provider may not bill ``row``."""
    wanted = TARIFF_PROVIDER_TYPES.get(row.provider)
    kind = types.provider_type(actor.quality, on)
    if wanted is None or kind != wanted:
        raise refuse(
            "billing.provider-type",
            f"code {row.code} ({row.label}) is billed by a {wanted or row.provider}; the acting "
            f"care provider is a {kind or 'provider of unknown type'} "
            f"(eHealth quality {actor.quality!r})",
        )
