"""Structured logging (structlog): JSON lines, request ids, personal data masked.

Every event passes through :func:`mask_personal_data` before it is rendered: SSIN-shaped numbers
anywhere in the event are masked, and the values of keys that hold names or raw SSINs are masked
whatever their shape. Logging is configured once, by the composition root.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Final

import structlog

from ehealth_hub.core.identifiers import mask_name, mask_ssin, mask_ssins_in_text

NAME_KEYS: Final = frozenset({"name", "given", "family", "patient_name", "practitioner_name"})
SSIN_KEYS: Final = frozenset({"ssin", "patient", "patient_ssin", "inss"})


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return mask_ssins_in_text(value)
    if isinstance(value, dict):
        return {k: _mask_item(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v) for v in value]
    return value


def _mask_item(key: str, value: Any) -> Any:
    if key in NAME_KEYS and isinstance(value, str):
        return mask_name(value)
    if key in SSIN_KEYS and isinstance(value, str):
        return mask_ssin(value)
    return _mask(value)


def mask_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask SSINs and names in every field of the event."""
    for key in list(event_dict):
        event_dict[key] = _mask_item(key, event_dict[key])
    return event_dict


def configure_logging(level: str = "info", *, json_output: bool = True) -> None:
    """Configure structlog and the standard library's root logger once."""
    renderer: Any = (
        structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer()
    )
    numeric = logging.getLevelName(level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            mask_personal_data,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=numeric, stream=sys.stderr, format="%(message)s")
