"""``/docs``: Swagger UI over ``/openapi.json``, its assets served by the hub (works offline).

The assets are the built Swagger UI that the ``swagger-ui-py`` package ships in its ``static``
folder (a locked dependency); only that folder is used, the package's framework adapters are
never imported. They are served under :data:`ASSETS`, public like ``/docs`` itself, so the page
loads nothing from any other host.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path
from typing import Final

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse

from ehealth_hub.core.errors import ConfigurationError

DOCS: Final = "/docs"
ASSETS: Final = "/docs/static"
REDIRECT: Final = "/docs/oauth2-redirect"


def swagger_ui_assets() -> Path:
    """The folder of Swagger UI's built assets (swagger-ui-bundle.js, swagger-ui.css, ...)."""
    spec = find_spec("swagger_ui")  # located, not imported: only its data is used
    folders = list(spec.submodule_search_locations or ()) if spec is not None else []
    for folder in folders:
        if (Path(folder) / "static" / "swagger-ui-bundle.js").is_file():
            return Path(folder) / "static"
    raise ConfigurationError("Swagger UI assets not found: is swagger-ui-py installed?")


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs`` (create the app with ``docs_url=None``: this replaces FastAPI's page)."""
    app.mount(ASSETS, StaticFiles(directory=swagger_ui_assets()), name="swagger-ui")

    async def page(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon-32x32.png",
            oauth2_redirect_url=f"{root}{REDIRECT}",
        )

    async def redirect(request: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    app.add_route(DOCS, page, include_in_schema=False)
    app.add_route(REDIRECT, redirect, include_in_schema=False)
