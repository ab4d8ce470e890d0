"""Every WSDL the simulators serve loads in an independent SOAP client over HTTP: a fresh zeep
client (the hub's own connectors read their WSDLs from disk, so only this proves that the served
ones, and the schemas they import, are complete where a client looks for them)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
import zeep

from ehealth_hub.fixtures import sandbox
from ehealth_hub.fixtures.simulate import Simulators

SOAP_SERVICES = 12
"""sts, etkdepot, consent, therlink, addressbook, ehbox, mycarenet, intrahub + one per hub."""


@pytest.fixture
def served(sims: Simulators) -> Iterator[str]:
    """The simulators on a loopback port (uvicorn in a thread); yields the base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(sims.app, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            thread.join(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_every_served_wsdl_loads_in_a_fresh_zeep_client_over_http(served: str) -> None:
    index = httpx.get(f"{served}/", timeout=10).json()
    wsdls = {name: url for name, url in index.items() if url.endswith("?wsdl")}
    assert len(wsdls) == SOAP_SERVICES == 8 + len(sandbox.HUBS)
    failed = {}
    for name, url in sorted(wsdls.items()):
        try:
            client = zeep.Client(url)  # type: ignore[no-untyped-call]  # zeep is untyped
        except Exception as exc:  # collected: the assertion names every failure
            failed[name] = f"{type(exc).__name__}: {exc}"
            continue
        assert client.wsdl.services, name
    assert failed == {}
