"""The shared vocabulary below every other package of the hub.

Errors (the ``HubError`` tree), Belgian identifiers, the ports (Protocols and value types the
services and the consent gate use to reach downstream systems), the consent :class:`Permit`, the
MyCareNet value types, the hardened XML parser and atomic file writes. Nothing here imports any
other package of the hub: every other package may import ``core``.
"""
