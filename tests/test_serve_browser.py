"""`suggest serve` driven in a real Chromium (Debian's `chromium` and `chromium-driver`, which
.ci/run installs) through Selenium, against the app served by uvicorn on 127.0.0.1.

Skipped, with the reason, when Chromium, its driver or Selenium is absent. A narrow-window
screenshot of the draft page is saved in ``$SUGGEST_ARTIFACTS`` (default: ``artifacts/`` at the
repository's root) for CI to keep.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
BALLOTS = ROOT / "examples" / "draft-mail-ballots.txt"
CHROMIUM = os.environ.get("SUGGEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SUGGEST_CHROMEDRIVER", "/usr/bin/chromedriver")
SCRIPT = "<script>alert(1)</script>"

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'suggest[serve]')")
pytest.importorskip("uvicorn", reason="the serve extra is not installed (pip install 'suggest[serve]')")
pytest.importorskip("selenium", reason="selenium is not installed (pip install 'suggest[serve]')")
if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
    pytest.skip(
        f"no Chromium at {CHROMIUM} or no driver at {CHROMEDRIVER}: apt-get install chromium chromium-driver",
        allow_module_level=True,
    )

import uvicorn  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

from suggest.serve.app import LOOPBACK, create_app  # noqa: E402

HOSTILE = {
    "id": SCRIPT,
    "title": "Do 1 < 2 > 0 mail ballots count the same?",
    "checked_on": "2026-02-01",
    "category": "politics",
    "url": "javascript:alert(1)",
    "summary": "Mail ballots are counted the same way as ballots cast in person.",
    "questions": ["Are mail ballots counted later than ballots cast in person?"],
}


SERVED: dict[str, Path] = {}
"""The archive behind each served URL."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on a private copy of the corpus (plus one hostile check), served by uvicorn."""
    archive = tmp_path_factory.mktemp("browser") / "corpus"
    shutil.copytree(CORPUS, archive, ignore=shutil.ignore_patterns(".*"))
    (archive / "hostile.jsonl").write_text(json.dumps(HOSTILE) + "\n")
    with running(create_app(archive, allowed_hosts=[*LOOPBACK, "[::1]"])) as url:
        SERVED[url] = archive
        yield url


@contextmanager
def running(app):
    """``app`` served by uvicorn on a free port of 127.0.0.1: its URL."""
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1200,900"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def listed(driver) -> list[str]:
    return [li.get_attribute("data-question") for li in driver.find_elements(By.CSS_SELECTOR, "li.suggestion")]


def paste(driver, base: str, text: str) -> None:
    driver.get(base + "/")
    box = driver.find_element(By.ID, "text")
    driver.execute_script("arguments[0].value = arguments[1];", box, text)  # send_keys types too slowly
    driver.find_element(By.ID, "suggest").click()
    WebDriverWait(driver, 60).until(ec.presence_of_element_located((By.ID, "title")))


def test_paste_a_draft_reject_one_and_it_stays_gone_after_a_reload(server, browser):
    paste(browser, server, BALLOTS.read_text())
    first = listed(browser)
    assert len(first) == 5 and HOSTILE["questions"][0] in first
    assert "raised by" in browser.find_element(By.ID, "list").text
    item = browser.find_elements(By.CSS_SELECTOR, "li.suggestion")[0]
    item.find_element(By.CSS_SELECTOR, "button[data-action=reject]").click()
    # The list is read while the page reloads after the click: an item read may be gone.
    WebDriverWait(browser, 30, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: listed(d) and listed(d)[0] != first[0]
    )
    browser.refresh()
    after = listed(browser)
    assert first[0] not in after and len(after) == 5 and set(first[1:]) < set(after)


def test_explain_opens_and_copy_fills_the_clipboard_box(server, browser):
    paste(browser, server, BALLOTS.read_text())
    details = browser.find_elements(By.CSS_SELECTOR, "li.suggestion details")[0]
    assert not details.find_element(By.CSS_SELECTOR, "p").is_displayed()
    details.find_element(By.TAG_NAME, "summary").click()
    assert "matched:" in details.text
    for fmt in ("markdown", "html"):
        button = browser.find_element(By.CSS_SELECTOR, f"button[data-target=copy-{fmt}]")
        button.click()
        WebDriverWait(browser, 10).until(lambda d, b=button: b.text == "Copied")
    assert "<h2>Want to dive deeper?</h2>" in browser.find_element(By.ID, "copy-html").get_attribute("value")


def test_upload_a_docx(server, browser, tmp_path):
    import docx

    d = docx.Document()
    for line in BALLOTS.read_text().splitlines():
        if line.strip():
            d.add_paragraph(line)
    out = io.BytesIO()
    d.save(out)
    path = tmp_path / "draft.docx"
    path.write_bytes(out.getvalue())
    browser.get(server + "/")
    browser.find_element(By.ID, "file").send_keys(str(path))
    browser.find_element(By.ID, "suggest").click()
    WebDriverWait(browser, 60).until(ec.presence_of_element_located((By.ID, "title")))
    assert browser.find_element(By.ID, "title").text == BALLOTS.read_text().splitlines()[0]
    assert len(listed(browser)) >= 3


def test_set_a_backlog_item_to_assigned(server, browser):
    browser.get(server + "/backlog")
    row = browser.find_elements(By.CSS_SELECTOR, "tr.row")[1]
    question = row.get_attribute("data-question")
    Select(row.find_element(By.NAME, "state")).select_by_value("assigned")
    row.find_element(By.CSS_SELECTOR, "button.set-state").click()
    WebDriverWait(browser, 30).until(ec.presence_of_element_located((By.ID, "backlog")))
    browser.get(server + "/backlog?state=assigned")
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.row")
    assert [r.get_attribute("data-question") for r in rows] == [question]
    assert Select(rows[0].find_element(By.NAME, "state")).first_selected_option.text == "assigned"


def test_a_hostile_archive_renders_as_text(server, browser):
    text = BALLOTS.read_text().replace("\n", "\nA line that makes it another article.\n", 1)
    paste(browser, server, text)  # another article: the first test rejected the hostile check's question for its own
    assert HOSTILE["questions"][0] in listed(browser)
    page = browser.find_element(By.TAG_NAME, "main").text
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018
    assert SCRIPT in page and "Do 1 < 2 > 0 mail ballots count the same?" in page
    links = [a.get_attribute("href") or "" for a in browser.find_elements(By.TAG_NAME, "a")]
    assert not [h for h in links if h.startswith("javascript:")]
    assert browser.execute_script("return document.querySelectorAll('main script').length") == 0


def report_rows(driver) -> list[tuple[str, str, bool]]:
    """The checks table of the report: (id, date cell, shown) of each row, in page order."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#checks-table tbody tr')).map("
        "r => [r.id, r.cells[1].getAttribute('data-sort'), !r.hidden && r.offsetParent !== null]);"
    )


def search_and_sort(driver) -> None:
    """Search the report's checks table, then sort it by date both ways (the page loaded)."""
    rows = report_rows(driver)
    assert len(rows) == 65 and all(shown for _, _, shown in rows)
    box = driver.find_element(By.CSS_SELECTOR, "input[data-filter=checks-table]")
    assert box.is_displayed()  # the script runs: the search box is shown only by it
    box.send_keys("Vaccine")
    want = driver.execute_script(
        "return Array.from(document.querySelectorAll('#checks-table tbody tr'))"
        ".filter(r => r.textContent.toLowerCase().includes('vaccine')).map(r => r.id);"
    )
    assert 0 < len(want) < 65
    WebDriverWait(driver, 10).until(lambda d: [i for i, _, shown in report_rows(d) if shown] == want)
    assert driver.find_element(By.ID, "checks-count").text == f"{len(want)} of 65 shown"
    box.clear()
    box.send_keys(" ")  # clear() fires no input event; a blank search shows every row
    WebDriverWait(driver, 10).until(lambda d: all(shown for _, _, shown in report_rows(d)))
    date = driver.find_element(By.XPATH, "//table[@id='checks-table']/thead//button[text()='Date']")
    before = [i for i, _, _ in report_rows(driver)]
    date.click()
    up = report_rows(driver)
    assert [d for _, d, _ in up] == sorted(d for _, d, _ in up) and [i for i, _, _ in up] != before
    date.click()
    down = report_rows(driver)
    assert [d for _, d, _ in down] == sorted((d for _, d, _ in down), reverse=True)
    th = date.find_element(By.XPATH, "..")
    assert th.get_attribute("aria-sort") == "descending"


def open_report(driver, base: str) -> None:
    """Open /report and wait (two minutes at most) until it is made: while it is being
    prepared the page says so and reloads itself every 5 seconds."""
    driver.get(base + "/report")
    WebDriverWait(driver, 120).until(lambda d: d.find_elements(By.ID, "checks-table"))


def test_report_search_filters_and_sort_reorders_served_and_from_a_file(server, browser, tmp_path):
    open_report(browser, server)
    assert browser.title == "Research report: corpus"
    search_and_sort(browser)
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018  (the hostile id shows as text)
    assert SCRIPT in browser.find_element(By.ID, "checks-table").text
    # The file `suggest report --out` writes works the same from disk, offline.
    from typer.testing import CliRunner

    from suggest.cli import app

    archive = SERVED[server]
    out = tmp_path / "report.html"
    r = CliRunner().invoke(app, ["report", "--archive", str(archive), "--out", str(out), "-q"])
    assert r.exit_code == 0, r.output
    browser.get(out.as_uri())
    search_and_sort(browser)


def test_the_report_being_prepared_reloads_itself_into_the_report(browser, tmp_path, monkeypatch):
    import suggest.report

    archive = tmp_path / "corpus"
    shutil.copytree(CORPUS, archive, ignore=shutil.ignore_patterns(".*"))
    release = threading.Event()
    real = suggest.report.build_report

    def slow(*args, **kwargs):
        release.wait(120)
        return real(*args, **kwargs)

    monkeypatch.setattr(suggest.report, "build_report", slow)
    try:
        with running(create_app(archive, allowed_hosts=[*LOOPBACK, "[::1]"])) as url:
            browser.get(url + "/report")
            assert "The report is being prepared" in browser.find_element(By.TAG_NAME, "h1").text
            assert browser.find_elements(By.ID, "checks-table") == []
            release.set()
            # Nothing but the page's own <meta> refresh (every 5 s) brings the report.
            WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.ID, "checks-table"))
            assert browser.title == "Research report: corpus"
    finally:
        release.set()


def test_narrow_window_screenshot_without_sideways_scrolling(server, browser):
    paste(browser, server, BALLOTS.read_text())
    browser.set_window_size(390, 900)
    try:
        wide = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        out = Path(os.environ.get("SUGGEST_ARTIFACTS") or ROOT / "artifacts")
        out.mkdir(parents=True, exist_ok=True)
        shot = out / "serve-draft-narrow.png"
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 1000
        assert wide <= 0, f"the draft page scrolls sideways by {wide}px at 390px"
        browser.get(server + "/backlog")
        wide = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        browser.save_screenshot(str(out / "serve-backlog-narrow.png"))
        assert wide <= 0, f"the backlog scrolls sideways by {wide}px at 390px"
        open_report(browser, server)
        wide = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        browser.save_screenshot(str(out / "serve-report-narrow.png"))
        assert wide <= 0, f"the report scrolls sideways by {wide}px at 390px"
    finally:
        browser.set_window_size(1200, 900)
