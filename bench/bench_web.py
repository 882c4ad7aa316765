"""``optscan web``: the results page ``/`` holding 3,000 opportunities.

* server time: the app answering ``GET /`` (Flask's test client, in process: no network),
  best and median of several requests;
* render time in headless Chromium (Debian's ``chromium`` + ``chromium-driver``): from
  the navigation's start to the first frame after the page's script drew the banners,
  both tables (the opportunities' first page of 200 rows, all 3,000 sorted and
  filtered) and both charts (3,000 marks), served by waitress on 127.0.0.1; best and
  median of several loads. Skipped, saying why, without the browser.
"""

from __future__ import annotations

import shutil
import statistics
import threading
import time
from pathlib import Path
from typing import Any

OPPORTUNITIES = 3000


def _result(count: int) -> Any:
    """A real ``sim`` scan, its screen opened wide, cut to ``count`` opportunities."""
    import datetime as dt

    from optscan.config import load_settings
    from optscan.models import ScanRequest
    from optscan.plugins import PluginHost
    from optscan.scan import perform_scan

    settings = load_settings(
        overrides={
            "scan.provider": "sim",
            "scan.max_dte": 60,
            "strategies.csp.min_annualized_return": 0.0,
            "strategies.csp.min_delta": -1.0,
            "strategies.csp.min_open_interest": 0,
            "strategies.csp.max_spread_pct": 10_000.0,
        },
        use_env=False,
    )
    symbols = [f"S{i:03d}" for i in range(120)]
    as_of = dt.datetime(2026, 11, 18, 11, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    host = PluginHost(load_entrypoints=False)
    result = perform_scan(ScanRequest(symbols=symbols, as_of=as_of), host, settings=settings)
    if len(result.opportunities) < count:
        raise SystemExit(f"the sim scan found only {len(result.opportunities)} opportunities")
    return settings, result.model_copy(update={"opportunities": result.opportunities[:count]})


def _app(count: int) -> Any:
    from optscan.web.server import build_app

    settings, result = _result(count)
    app = build_app(settings)
    app.extensions["optscan"].runner._publish(result)
    return app


def _server_times(app: Any, runs: int) -> list[float]:
    client = app.test_client()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        answer = client.get("/", headers={"Accept": "text/html"})
        times.append(time.perf_counter() - t0)
        assert answer.status_code == 200
    return times


def _render_times(app: Any, runs: int) -> list[float] | str:
    chromium, driver = Path("/usr/bin/chromium"), shutil.which("chromedriver")
    if not chromium.exists() or not driver:
        return "skipped: apt-get install -y chromium chromium-driver"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait
    from waitress.server import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(arg)
    browser = webdriver.Chrome(options=options, service=Service(driver))
    url = f"http://127.0.0.1:{server.effective_port}/"
    times = []
    try:
        for _ in range(runs):
            browser.get("about:blank")
            browser.get(url)
            WebDriverWait(browser, 30, poll_frequency=0.02).until(
                lambda b: b.execute_script("return document.body.dataset.ready === '1'")
            )
            rows = browser.execute_script("return window.optscan.rows.length")
            marks = browser.execute_script("return window.optscan.scatter.data[0].length")
            assert rows == marks == OPPORTUNITIES, (rows, marks)
            times.append(browser.execute_script("return window.optscanRenderedAt / 1000"))
    finally:
        browser.quit()
        server.close()
    return times


def run(quick: bool = False) -> list[tuple[str, str, str]]:
    app = _app(OPPORTUNITIES)
    served = _server_times(app, 5 if quick else 20)
    rows = [
        (
            f"GET / with {OPPORTUNITIES:,} opportunities, server time, median",
            f"{statistics.median(served) * 1000:.0f} ms",
            "< 300 ms",
        ),
        ("the same, best", f"{min(served) * 1000:.0f} ms", ""),
    ]
    rendered = _render_times(app, 3 if quick else 7)
    if isinstance(rendered, str):
        rows.append(("render in headless Chromium", rendered, "< 2 s"))
    else:
        rows.append(
            (
                "render in headless Chromium (navigation start to tables and charts drawn), median",
                f"{statistics.median(rendered):.2f} s",
                "< 2 s",
            )
        )
        rows.append(("the same, best", f"{min(rendered):.2f} s", ""))
    return rows


if __name__ == "__main__":
    for row in run():
        print(*row, sep="\t")
