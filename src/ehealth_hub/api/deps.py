"""FastAPI dependencies: the container of the running app."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ehealth_hub.bootstrap import Container


async def get_container(request: Request) -> Container:
    """The container the app was started with (``async``: FastAPI would run a plain function in
    its thread pool, a thread hand-off on every request for an attribute read)."""
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]
