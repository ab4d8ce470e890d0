"""FastAPI dependencies: the container of the running app."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ehealth_hub.bootstrap import Container


def get_container(request: Request) -> Container:
    """The container the app was started with."""
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]
