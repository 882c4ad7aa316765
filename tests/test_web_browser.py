"""``optscan web`` in a real browser: Debian's headless Chromium driven by Selenium
(``chromium`` and ``chromium-driver``, built together, so their versions match).

The server is the real app under waitress on a free port of 127.0.0.1, in this process.
Without the browser these tests skip saying what to install; with ``CI=true`` they fail
instead (CI installs it: ``.ci/run``). Screenshots of every page are saved under
``test-artifacts/web/`` (git ignores it) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .webapp import LONG_PUT, XSS, HostilePlugin, with_a_long_put
from .webapp import web_settings as _settings

pytestmark = pytest.mark.slow  # a real browser: seconds a test (`just test` and CI run them)

CHROMIUM = os.environ.get("OPTSCAN_CHROMIUM", "/usr/bin/chromium")
DRIVER = os.environ.get("OPTSCAN_CHROMEDRIVER", "/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "web"
MISSING = (
    f"headless Chromium is not installed ({CHROMIUM}, {DRIVER}): "
    "apt-get install -y chromium chromium-driver"
)


def _need_browser() -> None:
    reason = None
    if not (Path(CHROMIUM).exists() and shutil.which(DRIVER)):
        reason = MISSING
    try:
        import selenium  # noqa: F401
    except ImportError:
        reason = "selenium is not installed: pip install -e '.[dev]'"
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " (CI must have it: .ci/run installs it)")
        pytest.skip(reason)


class Server:
    """The app served by waitress on 127.0.0.1:<free port>, in a thread."""

    def __init__(self, app: Any) -> None:
        from waitress.server import create_server

        self.server = create_server(app, host="127.0.0.1", port=0, threads=4)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.close()


def serve(settings: Any = None, **kwargs: Any) -> Server:
    from optscan.web.server import build_app

    return Server(build_app(settings or _settings(), plugins=[HostilePlugin()], **kwargs))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(arg)
    options.add_argument("--disable-dev-shm-usage")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def server() -> Iterator[Server]:
    running = serve()
    yield running
    running.close()


def shot(browser: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    browser.save_screenshot(str(path))
    return path


def console_errors(browser: Any) -> list[dict[str, Any]]:
    return [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


def wait_for(browser: Any, script: str, timeout: float = 60.0) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout, poll_frequency=0.05).until(
        lambda b: b.execute_script(script)
    )


def scan_now(browser: Any, symbols: str, provider: str = "sim") -> list[str]:
    """Press Scan now; the progress texts seen until the results replaced the old."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    before = browser.execute_script("return document.body.dataset.scanId || ''")
    field = browser.find_element(By.ID, "scan-symbols")
    field.clear()
    field.send_keys(symbols)
    Select(browser.find_element(By.ID, "scan-provider")).select_by_value(provider)
    browser.find_element(By.ID, "scan-now").click()
    seen: list[str] = []

    def done(b: Any) -> bool:
        text = b.execute_script("return document.getElementById('progress-text').textContent")
        if text and (not seen or seen[-1] != text):
            seen.append(text)
        current = b.execute_script("return document.body.dataset.scanId || ''")
        return bool(current) and current != before

    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 90, poll_frequency=0.02).until(done)
    return seen


def test_scan_now_runs_a_sim_scan_to_the_end_with_progress(browser, server):
    browser.get_log("browser")  # start from a clean console
    browser.get(server.url + "/")
    wait_for(browser, "return document.body.dataset.ready === '1'")
    shot(browser, "01-empty")
    assert "No scan yet" in browser.page_source
    symbols = ",".join(["AAPL", "MSFT", "AMD", "NVDA", "TSLA", "META", "GOOG", "AMZN"])
    seen = scan_now(browser, symbols)
    assert any("running" in s or "queued" in s for s in seen), seen
    assert (
        any(s.startswith("finished") for s in seen)
        or browser.execute_script("return document.getElementById('progress').dataset.state")
        == "finished"
    )
    shot(browser, "02-results")
    assert console_errors(browser) == []

    # the table's rows are the API's opportunities, in the API's order (best first)
    import json
    import urllib.request

    with urllib.request.urlopen(server.url + "/api/results/latest") as answer:
        doc = json.load(answer)
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element("id", "page-size")).select_by_value("0")  # all rows
    rows = browser.execute_script(
        "return Array.from(document.querySelectorAll('#opportunities tbody tr'))"
        ".map(tr => tr.cells[1].textContent)"
    )
    assert rows == [o["contract_symbol"] for o in doc["opportunities"]]
    assert len(rows) > 10
    # one chart mark per opportunity, at (delta, annualized return)
    marks = browser.execute_script(
        "const u = window.optscan.scatter; return [u.data[0], u.data[1]]"
    )
    assert len(marks[0]) == len(doc["opportunities"])
    assert sorted(zip(*marks, strict=True)) == sorted(
        (o["delta"], o["annualized_return"]) for o in doc["opportunities"]
    )
    assert browser.find_element("id", "scatter").get_attribute("data-marks") == str(len(rows))
    # the banners say the data is synthetic
    banners = browser.find_element("id", "banners").text
    assert "Synthetic data" in banners


def test_progress_shows_while_the_scan_runs(browser, server):
    """A scan held half-way (SLOW waits): the page shows "running: 2 of 3 symbols",
    then the results when it ends, without a reload."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from .webapp import HostileProvider

    HostileProvider.gate.clear()
    try:
        browser.get(server.url + "/")
        wait_for(browser, "return document.body.dataset.ready === '1'")
        browser.find_element(By.ID, "scan-symbols").send_keys("AAPL,SLOW,MSFT")
        Select(browser.find_element(By.ID, "scan-provider")).select_by_value("hostile")
        browser.find_element(By.ID, "scan-now").click()
        wait_for(
            browser,
            "return document.getElementById('progress-text').textContent"
            ".startsWith('running: 2 of 3 symbols')",
        )
        assert browser.find_element(By.ID, "scan-now").get_attribute("disabled")
        bar = browser.execute_script(
            "const p = document.getElementById('progress-bar'); return [p.value, p.max]"
        )
        assert bar == [2, 3]
        shot(browser, "02b-progress")
    finally:
        HostileProvider.gate.set()
    wait_for(browser, "return document.body.dataset.scanId !== ''")
    wait_for(browser, "return document.getElementById('progress').dataset.state === 'finished'")
    assert browser.execute_script("return window.optscan.scan.symbols.length") == 3
    assert console_errors(browser) == []


def test_sorting_filtering_and_selecting(browser, server):
    from selenium.webdriver.common.by import By

    browser.get(server.url + "/")
    wait_for(browser, "return document.body.dataset.ready === '1'")
    scan_now(browser, "AAPL,MSFT,AMD")
    header = browser.find_element(By.CSS_SELECTOR, '#opportunities th[data-key="strike"] button')
    header.click()
    strikes = browser.execute_script("return window.optscan.rows.map(o => o.strike)")
    assert strikes == sorted(strikes, reverse=True)
    browser.find_element(By.CSS_SELECTOR, '#opportunities th[data-key="strike"] button').click()
    strikes = browser.execute_script("return window.optscan.rows.map(o => o.strike)")
    assert strikes == sorted(strikes)
    browser.find_element(By.ID, "filter-text").send_keys("MSFT")
    symbols = browser.execute_script("return window.optscan.rows.map(o => o.symbol)")
    assert symbols and set(symbols) == {"MSFT"}
    shown = browser.execute_script(
        "return document.querySelectorAll('#opportunities tbody tr').length"
    )
    assert shown == len(symbols)
    # a click on a row selects it: the payoff chart shows that trade
    rows = browser.find_elements(By.CSS_SELECTOR, "#opportunities tbody tr")
    rows[-1].click()
    chosen = browser.execute_script("return window.optscan.selected.contract_symbol")
    assert chosen == rows[-1].find_elements(By.TAG_NAME, "td")[1].text
    assert chosen in browser.find_element(By.ID, "selected").text
    # a click on a chart mark selects that mark's trade
    browser.execute_script(
        "const f = document.getElementById('filter-text'); f.value = '';"
        "f.dispatchEvent(new Event('input'))"
    )
    assert browser.execute_script("return window.optscan.rows.length") > len(symbols)
    browser.execute_script("window.optscan.scatter.setCursor({left: -10, top: -10})")
    target = browser.execute_script(
        "const u = window.optscan.scatter; const i = 0;"
        "return [u.valToPos(u.data[0][i], 'x'), u.valToPos(u.data[1][i], 'y'),"
        " window.optscan.scatterPoints[i].contract_symbol]"
    )
    over = browser.find_element(By.CSS_SELECTOR, "#scatter .u-over")
    from selenium.webdriver.common.action_chains import ActionChains

    width = over.size["width"]
    height = over.size["height"]
    ActionChains(browser).move_to_element_with_offset(
        over, int(target[0] - width / 2), int(target[1] - height / 2)
    ).click().perform()
    tip = browser.find_element(By.ID, "scatter-tip").text
    assert browser.execute_script("return window.optscan.selected.contract_symbol") in tip
    shot(browser, "03-selected")
    # the payoff: a put keeps its credit above the strike and is zero at breakeven;
    # a covered call (100 shares from today's price and the call): zero at S0 - bid,
    # capped at K - S0 + bid from the strike up
    put = browser.execute_script(
        "const o = window.optscan.selected, f = window.optscan.payoffAt;"
        "return [f(o, o.strike * 2), f(o, o.breakeven), o.premium, f(o, o.strike - 10)]"
    )
    assert put[0] == pytest.approx(put[2]) and put[1] == pytest.approx(0, abs=0.01)
    assert put[3] == pytest.approx(put[2] - 1000)
    call = browser.execute_script(
        "const o = {kind: 'call', strike: 110, bid: 2, underlying_price: 100};"
        "const f = window.optscan.payoffAt; return [f(o, 98), f(o, 110), f(o, 112), f(o, 150)]"
    )
    assert call == pytest.approx([0, 1200, 1200, 1200])
    assert browser.execute_script(
        "return window.optscan.payoffBreakeven({kind: 'call', strike: 110, bid: 2,"
        " underlying_price: 100, breakeven: 112})"
    ) == pytest.approx(98)
    assert console_errors(browser) == []


def test_a_provider_error_that_is_html_shows_as_text(browser, server):
    from selenium.webdriver.common.by import By

    browser.get(server.url + "/")
    wait_for(browser, "return document.body.dataset.ready === '1'")
    scan_now(browser, "FAIL,AAPL", provider="hostile")
    cells = browser.find_elements(By.CSS_SELECTOR, "#symbols tbody tr td:last-child")
    assert any(XSS in c.text for c in cells), [c.text for c in cells]
    assert browser.execute_script("return document.querySelectorAll('main img').length") == 0
    assert "Partial scan" in browser.find_element(By.ID, "banners").text
    shot(browser, "04-provider-error-as-text")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.find_element(By.ID, "symbols").screenshot(str(ARTIFACTS / "04b-symbols-table.png"))
    # and after a reload, from the page's own embedded JSON
    browser.refresh()
    wait_for(browser, "return document.body.dataset.ready === '1'")
    assert XSS in browser.find_element(By.ID, "symbols").text
    assert browser.execute_script("return document.querySelectorAll('main img').length") == 0
    assert console_errors(browser) == []


def test_a_cross_origin_post_is_refused(browser, server):
    """A page of another origin (another port) posts to the API: 403, nothing runs."""
    other = serve()
    try:
        browser.get(other.url + "/")
        wait_for(browser, "return document.body.dataset.ready === '1'")
        status = browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "const token = document.querySelector('meta[name=csrf-token]').content;"
            f"fetch('{server.url}/api/scans', {{method: 'POST', mode: 'no-cors',"
            " headers: {'Content-Type': 'text/plain'}, body: 'csrf_token=' + token})"
            ".then(() => done('sent')).catch(e => done('error: ' + e));"
        )
        assert status in ("sent",) or status.startswith("error")
        form_status = browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "const f = new FormData(); f.append('symbols', 'AAPL');"
            f"fetch('{server.url}/api/scans', {{method: 'POST', body: f}})"
            ".then(r => done(r.status)).catch(e => done('blocked: ' + e));"
        )
        assert form_status == 403 or str(form_status).startswith("blocked")
        import urllib.error
        import urllib.request

        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(server.url + "/api/results/latest")
        assert missing.value.code == 404  # no scan ran
        # and seen from the server: a cross-origin POST answers 403
        request = urllib.request.Request(
            server.url + "/api/scans",
            data=b"{}",
            method="POST",
            headers={"Origin": other.url, "Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request)
        assert refused.value.code == 403
    finally:
        other.close()


def test_every_page_loads_without_console_errors(browser, server):
    for path, name in (("/schedules", "05-schedules"), ("/nope", "06-not-found")):
        browser.get_log("browser")
        browser.get(server.url + path)
        shot(browser, name)
        errors = console_errors(browser)
        if path == "/nope":  # the 404 itself is logged by Chromium, nothing else
            errors = [e for e in errors if "404" not in e["message"]]
        assert errors == []
    token = "browser-test-access-token-0001"
    guarded = serve(_settings(**{"web.access_token": token}))
    try:
        browser.get(guarded.url + "/")
        assert "/login" in browser.current_url
        shot(browser, "07-login")
        from selenium.webdriver.common.by import By

        browser.find_element(By.NAME, "access_token").send_keys(token)
        browser.find_element(By.CSS_SELECTOR, "form.login button").click()
        wait_for(browser, "return document.body.dataset.ready === '1'")
        assert browser.find_element(By.ID, "scan-now")
        assert console_errors(browser) == []
    finally:
        guarded.close()


def test_queue_mode_says_no_worker_listens_then_shows_the_results(browser, redis_url):
    """`optscan web --queue` on a real redis-server: Scan now queues the scan, the page
    says no worker listens; a worker runs it and the results replace the old ones;
    rq-dashboard answers at /rq in the same app."""
    import redis as redis_py
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from .helpers import run_jobs

    connection = redis_py.Redis.from_url(redis_url)
    running = serve(_settings(**{"redis.url": redis_url}), redis=connection)
    try:
        browser.get(running.url + "/")
        wait_for(browser, "return document.body.dataset.ready === '1'")
        assert "queued on RQ workers" in browser.find_element(By.CSS_SELECTOR, "header").text
        browser.find_element(By.ID, "scan-symbols").send_keys("AAPL,MSFT")
        Select(browser.find_element(By.ID, "scan-provider")).select_by_value("sim")
        browser.find_element(By.ID, "scan-force").click()
        browser.find_element(By.ID, "scan-now").click()
        wait_for(
            browser,
            "return document.getElementById('progress-text').textContent"
            ".includes('No worker is listening')",
        )
        text = browser.find_element(By.ID, "progress-text").text
        assert text.startswith("queued") and "optscan worker" in text
        shot(browser, "08-queue-no-worker")
        run_jobs(connection)
        wait_for(browser, "return document.body.dataset.scanId !== ''")
        wait_for(browser, "return document.getElementById('progress').dataset.state === 'finished'")
        assert browser.execute_script("return window.optscan.scan.symbols.length") == 2
        shot(browser, "09-queue-results")
        assert console_errors(browser) == []
        browser.get(running.url + "/rq/")
        wait_for(browser, "return document.readyState === 'complete'")
        assert "optscan" in browser.page_source
        shot(browser, "10-rq-dashboard")
        browser.get(running.url + "/schedules")
        shot(browser, "11-queue-schedules")
        assert "No scheduled scans" in browser.page_source
    finally:
        running.close()


def test_positions_rolls_and_valuation_badges(browser, tmp_path):
    """The Positions page shows the configured export's reading; the Rolls page finds
    its short call's rolls and names its long put, not rolled; with the valuation plugin
    enabled the opportunities table gains its Value badge column."""
    pytest.importorskip("optscan_valuation", reason="optscan-valuation is not installed")
    from selenium.webdriver.common.by import By

    schwab = with_a_long_put(tmp_path)  # the fixture's export and a long put
    running = serve(_settings(**{"holdings.file": str(schwab), "enrichers.enabled": ["valuation"]}))
    try:
        browser.get_log("browser")
        browser.get(running.url + "/positions")
        rows = browser.find_elements(By.CSS_SELECTOR, "#positions-stocks tbody tr")
        cells = {r.find_elements(By.TAG_NAME, "td")[0].text: r for r in rows}
        assert cells["AAPL"].find_elements(By.TAG_NAME, "td")[3].text == "2"
        shot(browser, "08-positions")
        assert console_errors(browser) == []
        browser.get(running.url + "/rolls")
        browser.find_element(By.ID, "rolls-find").click()
        wait_for(browser, "return document.body.dataset.rolls || ''")
        assert browser.execute_script("return document.body.dataset.rolls") == "1"
        sections = browser.find_elements(By.CSS_SELECTOR, "#rolls-positions section.position")
        assert [s.get_attribute("data-contract") for s in sections] == ["AAPL261218C00240000"]
        assert sections[0].find_elements(By.CSS_SELECTOR, "table.rolls tbody tr")
        note = browser.find_element(By.ID, "rolls-not-rolled")
        assert note.is_displayed() and note.text == (
            f"1 long option(s) not rolled (rolls are for short ones): {LONG_PUT}"
        )
        shot(browser, "10-rolls")
        assert console_errors(browser) == []
        browser.get(running.url + "/")
        wait_for(browser, "return document.body.dataset.ready === '1'")
        scan_now(browser, "AAPL,MSFT,INTC")
        headers = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#opportunities th")]
        assert "Value" in headers
        badges = browser.execute_script(
            "return window.optscan.scan.opportunities.map(function (o) {"
            " return o.extras.valuation.value_badge; })"
        )
        column = headers.index("Value")
        shown = [
            r.find_elements(By.TAG_NAME, "td")[column].text
            for r in browser.find_elements(By.CSS_SELECTOR, "#opportunities tbody tr")
        ]
        assert 0 < len(badges) <= 200  # one page: every row is shown
        assert sorted(shown) == sorted(badges)
        assert set(shown) <= {"good", "high", "low", "n/a"}
        shot(browser, "09-valuation-badges")
        assert console_errors(browser) == []
    finally:
        running.close()
