"""The console in a real headless Chromium (Debian's ``chromium`` + ``chromium-driver``, Selenium):
sign in, find a dead delivery, replay it, see it delivered; a consent explanation; audit verify;
an operator refused an auditor-only page; a form without its CSRF token refused; and axe-core on
every page (0 serious or critical violations). Skips, saying why, without chromium or axe-core
(``make system-deps`` installs both)."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn

from ehealth_hub.api import create_app
from ehealth_hub.bootstrap import Container
from ehealth_hub.delivery import store
from ehealth_hub.delivery.outbox import Status
from ehealth_hub.fixtures import sandbox
from tests.console._support import LOGINS, PATIENT, Lab, console_settings, lab_delivery

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
from selenium.webdriver.chrome.options import Options  # noqa: E402  # after the skip above
from selenium.webdriver.chrome.service import Service  # noqa: E402  # idem
from selenium.webdriver.common.by import By  # noqa: E402  # idem
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402  # idem
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402  # idem

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")
REPO = Path(__file__).resolve().parents[2]
AXE = next(iter(sorted((REPO / ".cache").glob("axe-core-*/axe.min.js"))), None)
FLAGS = (
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
T = TypeVar("T")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None or DRIVER is None,
        reason="chromium and chromium-driver are not installed (make system-deps)",
    ),
]


@dataclass
class Served:
    """The sandbox hub on a loopback port, its event loop in a thread of its own."""

    url: str
    container: Container
    lab: Lab
    loop: asyncio.AbstractEventLoop

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, pki_dir: Path) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("console-browser")
    settings = console_settings(
        tmp,
        pki_dir,
        f"sqlite:///{tmp / 'hub.db'}",
        delivery={"in_process_worker": True, "poll_interval_seconds": 0.1},
    )
    app = create_app(settings)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="console-hub", daemon=True)
    thread.start()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    serving = asyncio.run_coroutine_threadsafe(server.serve(), loop)
    while not server.started:
        if serving.done():
            serving.result()
        threading.Event().wait(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    container: Container = app.state.container
    lab = Lab()
    assert container.delivery is not None
    container.delivery.register("lab", lab)
    yield Served(f"http://127.0.0.1:{port}", container, lab, loop)
    server.should_exit = True
    serving.result(timeout=60)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(DRIVER)), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def wait(driver: WebDriver, css: str, timeout: float = 15) -> Any:
    return WebDriverWait(driver, timeout).until(lambda d: d.find_element(By.CSS_SELECTOR, css))


def sign_in(driver: WebDriver, hub: Served, user: str) -> None:
    driver.get(f"{hub.url}/console/login")
    wait(driver, "#username").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(LOGINS[user])
    driver.find_element(By.ID, "sign-in").click()
    WebDriverWait(driver, 15).until(lambda d: d.current_url.endswith("/console/deliveries"))
    wait(driver, "#search")


def accessibility(driver: WebDriver) -> list[str]:
    """The serious and critical axe-core violations of the page shown."""
    if AXE is None:
        pytest.skip("axe-core is not installed (make system-deps fetches it into .cache/)")
    driver.execute_script(AXE.read_text("utf-8"))
    found = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'best-practice']})"
        ".then(r => done(r.violations.filter(v => ['serious', 'critical'].includes(v.impact))"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))))"
    )
    return list(found)


def dead_delivery(hub: Served) -> str:
    item = hub.run(lab_delivery(hub.container, "browser"))
    for _ in range(200):
        stored = hub.run(_get(hub.container, item.id))
        if stored is Status.DEAD:
            return item.id
        threading.Event().wait(0.05)
    raise AssertionError("the lab delivery did not become a dead letter")


async def _get(container: Container, item_id: str) -> Status | None:
    async with container.engine.connect() as conn:
        item = await store.get(conn, item_id)
    return item.status if item else None


def test_an_operator_finds_a_dead_delivery_replays_it_and_sees_it_delivered(
    served: Served, browser: WebDriver
) -> None:
    served.lab.fixed = False
    item_id = dead_delivery(served)
    sign_in(browser, served, "operator")
    assert accessibility(browser) == []
    browser.find_element(By.ID, "patient").send_keys(PATIENT.ssin)
    Select(browser.find_element(By.ID, "status")).select_by_visible_text("dead")
    browser.find_element(By.ID, "find").click()
    link = WebDriverWait(browser, 15).until(lambda d: d.find_element(By.LINK_TEXT, item_id[:12]))
    assert PATIENT.ssin not in browser.current_url
    link.click()
    assert wait(browser, "#delivery-status").text == "dead"
    assert accessibility(browser) == []
    served.lab.fixed = True
    browser.find_element(By.ID, "replay").click()
    for _ in range(100):
        browser.refresh()
        if wait(browser, "#delivery-status").text == "completed":
            break
        threading.Event().wait(0.1)
    assert wait(browser, "#delivery-status").text == "completed"
    assert "replayed" in browser.find_element(By.CSS_SELECTOR, ".timeline").text
    browser.get(f"{served.url}/console/replays")
    assert item_id[:8] in wait(browser, "table").text
    assert accessibility(browser) == []
    if os.environ.get("EHEALTH_HUB_CONSOLE_SCREENSHOT"):
        browser.get(f"{served.url}/console/deliveries")
        wait(browser, "#search")
        browser.save_screenshot(os.environ["EHEALTH_HUB_CONSOLE_SCREENSHOT"])


def test_a_consent_explanation_in_the_browser(served: Served, browser: WebDriver) -> None:
    sign_in(browser, served, "operator")
    browser.find_element(By.LINK_TEXT, "Consent").click()
    wait(browser, "#explain")
    assert accessibility(browser) == []
    browser.find_element(By.ID, "patient").send_keys(sandbox.patient("sofie").ssin)
    browser.find_element(By.ID, "practitioner").send_keys(sandbox.practitioner("sarah").nihii)
    browser.find_element(By.ID, "explain").click()
    assert wait(browser, "#decision").text == "deny"
    assert browser.find_elements(By.CSS_SELECTOR, "#reasons li")
    assert accessibility(browser) == []


def test_audit_verify_in_the_browser(served: Served, browser: WebDriver) -> None:
    sign_in(browser, served, "auditor")
    browser.find_element(By.LINK_TEXT, "Audit").click()
    wait(browser, "#verify").click()
    assert "intact" in wait(browser, "#verify-result").text
    assert accessibility(browser) == []


def test_an_operator_is_refused_the_auditor_only_audit_page(
    served: Served, browser: WebDriver
) -> None:
    sign_in(browser, served, "operator")
    assert not browser.find_elements(By.LINK_TEXT, "Audit")
    browser.get(f"{served.url}/console/audit")
    assert "auditors only" in wait(browser, "#error").text
    assert not browser.find_elements(By.ID, "verify")
    assert accessibility(browser) == []


def test_a_form_sent_without_its_csrf_token_is_refused(served: Served, browser: WebDriver) -> None:
    sign_in(browser, served, "operator")
    browser.execute_script("document.querySelector('#search input[name=csrf_token]').remove()")
    browser.find_element(By.ID, "find").click()
    assert "CSRF" in wait(browser, "#error").text


def test_the_downstreams_and_sign_in_pages_are_accessible(
    served: Served, browser: WebDriver
) -> None:
    browser.get(f"{served.url}/console/login")
    wait(browser, "#username")
    assert accessibility(browser) == []
    sign_in(browser, served, "operator")
    browser.find_element(By.LINK_TEXT, "Downstreams").click()
    wait(browser, "#health")
    assert accessibility(browser) == []
