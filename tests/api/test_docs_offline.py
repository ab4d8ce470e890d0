"""``/docs`` works offline: Swagger UI's assets come from the hub itself, never from a CDN.

The page and its assets are checked over HTTP, then opened in a real headless Chromium (Debian's
``chromium`` + ``chromium-driver``, Selenium) whose network is cut to loopback: every host name
but 127.0.0.1 resolves nowhere and every non-loopback connection goes to a dead proxy. Swagger
UI must render one operation block per operation of ``/openapi.json``, and no request may have
left loopback. The browser test skips, saying why, without chromium (``make system-deps``).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn

from ehealth_hub.api import create_app
from ehealth_hub.settings import load_settings

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")
OFFLINE = (
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",  # the discard port: nothing listens, nothing leaves
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    """The hub app on a loopback port (no lifespan: /docs and /openapi.json need no container)."""
    app = create_app(load_settings())
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="docs-hub", daemon=True)
    thread.start()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    serving = asyncio.run_coroutine_threadsafe(server.serve(), loop)
    while not server.started:
        if serving.done():
            serving.result()
        threading.Event().wait(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    serving.result(timeout=60)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()


def test_the_docs_page_names_only_the_hubs_own_assets_and_they_are_served(served: str) -> None:
    page = httpx.get(f"{served}/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", page.text)
    urls += re.findall(r"""url:\s*['"]([^'"]+)['"]""", page.text)
    assert urls, page.text[:500]
    assert all(not urlsplit(u).netloc for u in urls), urls  # no host: the hub's own paths
    for url in urls:
        assert httpx.get(f"{served}{url}").status_code == 200, url


def test_the_docs_need_no_token(served: str) -> None:
    for path in ("/docs", "/docs/static/swagger-ui.css", "/openapi.json"):
        assert httpx.get(f"{served}{path}").status_code == 200, path


@pytest.mark.slow
@pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="chromium and chromium-driver are not installed (make system-deps)",
)
def test_swagger_ui_renders_every_operation_with_the_network_off(served: str) -> None:
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    document = httpx.get(f"{served}/openapi.json").json()
    operations = sum(len(item) for item in document["paths"].values())
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in OFFLINE:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(DRIVER)), options=options)
    try:
        driver.get(f"{served}/docs")
        blocks = WebDriverWait(driver, 30).until(
            lambda d: (found := d.find_elements(By.CSS_SELECTOR, ".opblock")) and found
        )
        WebDriverWait(driver, 10).until(
            lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) == operations
        )
        assert len(blocks) <= operations
        assert not driver.find_elements(By.CSS_SELECTOR, ".errors-wrapper .error-wrapper")
        requested = _requested_urls(driver.get_log("performance"))
    finally:
        driver.quit()
    assert requested, "the performance log recorded no request"
    outside = sorted(u for u in requested if urlsplit(u).hostname not in ("127.0.0.1", None))
    assert not outside, outside


def _requested_urls(entries: list[dict[str, str]]) -> set[str]:
    """Every URL the page asked for (Chromium's DevTools Network.requestWillBeSent events)."""
    urls = set()
    for entry in entries:
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            if url.startswith(("http:", "https:")):
                urls.add(url)
    return urls
