"""The triage notebook in a real browser: JupyterLab on loopback, Debian's chromium via Playwright.

Runs the notebook with "Run All Cells", checks that the TriageView renders (menu, diagnosis
card, ladder image) and responds: choosing another connection changes the card and the ladder.
Screenshots go to $TLSKIT_SCREENSHOTS (default: the test's tmp folder) for a person to look at.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason="chromium not installed"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """JupyterLab serving a folder holding the triage notebook, pointed at the bundled sample."""
    import papermill

    work = tmp_path_factory.mktemp("lab")
    sample = ROOT / "data" / "sample"
    # A copy with absolute paths, so the browser run never writes outputs into notebooks/.
    papermill.execute_notebook(str(ROOT / "notebooks" / "01_triage.ipynb"), str(work / "triage.ipynb"),
                               parameters={"capture": str(sample / "capture.pcap"), "keylog": str(sample / "keys.log"),
                                           "truststore": str(sample / "truststore.pem")}, prepare_only=True)
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JUPYTER_CONFIG_DIR": str(work / ".jupyter"),
           "JUPYTER_RUNTIME_DIR": str(work / ".runtime")}
    logfile = tmp_path_factory.mktemp("log") / "jupyter.log"
    log = open(logfile, "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}", "--ServerApp.open_browser=False",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         *(["--allow-root"] if os.geteuid() == 0 else [])],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=work)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):  # the server is up once its API answers (no wall-clock assertion)
            if server.poll() is not None:
                pytest.fail(f"jupyter lab exited: {logfile.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        yield f"{base}/lab/tree/triage.ipynb?token={token}", work
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def test_triage_widgets_render_and_respond(lab: tuple[str, Path], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    url, _ = lab
    shots = Path(os.environ.get("TLSKIT_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(120_000)
        try:
            _run_and_choose(page, url, shots)
        except Exception:
            page.screenshot(path=str(shots / "triage-failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    assert (shots / "triage-first.png").stat().st_size > 10_000
    assert not (ROOT / "notebooks" / ".ipynb_checkpoints").exists()


def _run_and_choose(page: Any, url: str, shots: Path) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect

    from tlskit.schema import CAUSES

    page.goto(url)
    page.locator(".jp-Notebook").first.wait_for()
    select = page.locator(".jp-Dialog").get_by_role("button", name="Select", exact=True)
    try:  # JupyterLab may ask which kernel to start for a notebook it has not opened before
        select.wait_for(timeout=20_000)
        select.click()
    except PlaywrightTimeout:
        pass
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

    view = page.locator(".tlskit-triage")
    view.wait_for()
    menu, card, image = view.locator("select"), view.locator(".tlskit-card"), view.locator("img")
    image.wait_for()
    view.scroll_into_view_if_needed()
    first_src, first_card = image.get_attribute("src"), card.inner_text()
    assert first_src and first_src.startswith(("blob:", "data:"))
    failures = tuple(f": {c}" for c in CAUSES if c != "ok")
    options: list[str] = []
    for _ in range(120):  # the front end fills the <select> after the view appears: poll, don't race
        options = [t.replace("\xa0", " ").strip() for t in menu.locator("option").all_inner_texts()]  # nbsp
        if len(options) >= 10 and options[0].endswith(failures):
            break
        page.wait_for_timeout(500)
    assert len(options) >= 10 and options[0].endswith(failures), options  # failures listed first
    page.screenshot(path=str(shots / "triage-first.png"))

    ok = next(i for i, text in enumerate(options) if text.endswith(": ok"))
    menu.select_option(index=ok)
    # the kernel redraws; on a busy machine that takes a while, hence the generous timeouts
    expect(card).to_contain_text("handshake OK (ok)", timeout=120_000)
    expect(image).not_to_have_attribute("src", first_src, timeout=120_000)
    assert card.inner_text() != first_card
    view.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "triage-ok.png"))
