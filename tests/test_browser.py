"""The chat page (``python -m orchestrator serve``) in a real headless Chromium, used as a person would.

Needs Debian's browser and driver: ``apt-get install -y chromium chromium-driver`` (and selenium,
from the dev extras). Without them these tests skip, except under CI (``CI`` set), where a
missing browser fails them: see the ``chromium`` fixture. ``SAVE_SCREENSHOTS=1`` writes
docs/screenshots/chat-lookup.png and chat-confirm.png.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from orchestrator import handler, serve

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
INSTALL_HINT = ("install Debian's browser and driver with `apt-get install -y chromium chromium-driver` "
                "and selenium with `pip install -e '.[dev]'`")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,900")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
OFFLINE = "Sorry, I can't reach the assistant right now. Please try again."
WAIT_S = 20  # the longest any step may take: a turn on the embedded planner takes milliseconds


@pytest.fixture(scope="module")
def chromium():
    """The one place that decides: browser present -> run; missing -> skip, or fail under CI."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    if missing:
        reason = f"browser tests need {', '.join(missing)}: {INSTALL_HINT}"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set, so a missing browser is a failure: {reason}", pytrace=False)
        pytest.skip(reason)
    return CHROMIUM, CHROMEDRIVER


@pytest.fixture(scope="module")
def driver(chromium):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    binary, chromedriver = chromium
    profile = tempfile.mkdtemp(prefix="chat-browser-")
    options = Options()
    options.binary_location = binary  # with the driver's path below, Selenium Manager has nothing to fetch
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(chromedriver), options=options)
    browser.set_page_load_timeout(WAIT_S)
    browser.set_script_timeout(WAIT_S)
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def agent():
    """The agent `serve` runs (settings from the environment: the embedded default), built once."""
    from orchestrator.settings import Settings, build_agent

    built = build_agent(Settings.from_env())
    warm_up = getattr(built.planner, "warm_up", None)
    if warm_up:
        warm_up(built.registry)
    return built


@pytest.fixture
def server(agent, local_store, tmp_path, monkeypatch):
    """The page's server, in-process on a free 127.0.0.1 port, over this test's own stores."""
    monkeypatch.setenv("STORE_PATH", str(tmp_path / "tools.sqlite3"))
    monkeypatch.setenv("CONVERSATION_STORE", "sqlite")
    monkeypatch.setenv("CONVERSATION_PATH", str(tmp_path / "conversations.sqlite3"))
    handler.set_agent(agent)
    handler.set_store(None)  # built from the environment above on the first turn
    srv, thread = serve.start_in_thread(0, open(os.devnull, "w"))
    srv.thread = thread
    yield srv
    if thread.is_alive():
        serve.stop(srv, thread)
    handler.set_agent(None)
    handler.set_store(None)


@pytest.fixture
def page(driver, server):
    """The chat page, freshly loaded in a new conversation (a new session id)."""
    from selenium.webdriver.common.by import By

    driver.get(server.url)
    driver.execute_script("window.sessionStorage.clear();")
    driver.get(server.url)
    until(driver, lambda d: d.find_element(By.ID, "message").is_displayed())
    driver.get_log("browser")  # start each test with an empty console
    return driver


# ---------------------------------------------------------------- helpers
def until(driver, condition, timeout=WAIT_S):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)


def entries(driver):
    """Bot replies and error notes in the log, in order."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#log .msg.bot, #log .msg.error'), e => e.textContent);")


def say(driver, text):
    """Type into the message box and press Enter; the new bot text (all of the turn's messages)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    before = len(entries(driver))
    box = driver.find_element(By.ID, "message")
    box.clear()
    box.send_keys(text)
    box.send_keys(Keys.ENTER)
    return reply_after(driver, before)


def reply_after(driver, before):
    until(driver, lambda d: len(entries(d)) > before
          and d.find_element("id", "log").get_attribute("aria-busy") != "true")
    return " ".join(entries(driver)[before:])


def quick_replies(driver):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, "#log .quick-replies button")


def console_errors(driver):
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def screenshot(driver, name):
    if os.environ.get("SAVE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(SCREENSHOTS / name))


# ---------------------------------------------------------------- tests
@pytest.mark.parametrize("question, expected", [
    ("Could you tell me if order 123456 has shipped?", ("Herbal Handsoap", "shipped")),
    ("Is my return rtn003 processed?", ("rtn003", "refunded")),
    ("What is the weather like in Scotland today?", ("only help with orders and returns",)),
])
def test_the_blogs_cases(page, question, expected):
    reply = say(page, question)
    for words in expected:
        assert words in reply
    assert page.find_element("id", "message").get_attribute("value") == ""  # sent: the box is cleared
    assert question in page.find_element("id", "log").text
    assert console_errors(page) == []  # no CSP violation, no script error, nothing failed to load
    if "123456" in question:
        screenshot(page, "chat-lookup.png")


def test_a_clarifying_question_then_the_id_across_a_reload(page):
    reply = say(page, "Where is my order?")
    assert "order number" in reply
    page.refresh()  # the same tab keeps its session id: the server remembers the question
    until(page, lambda d: "Where is my order?" in d.find_element("id", "log").text)
    reply = say(page, "123456")
    assert "Herbal Handsoap" in reply


def test_a_cancellation_is_confirmed_with_the_yes_button(page):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    reply = say(page, "I want to cancel order 37129")
    assert "email" in reply  # who is asking: two details from the account
    reply = say(page, "My email is mary_major@example.com and my username is mary_major")
    assert "Cancel order 37129: 2 x Sunglasses, $99.98? Say yes to confirm." in reply
    buttons = quick_replies(page)
    assert [b.text for b in buttons] == ["Yes", "No"]
    assert all(b.tag_name == "button" and b.is_displayed() and b.is_enabled() for b in buttons)
    screenshot(page, "chat-confirm.png")
    # Reachable by keyboard: from the message box, Shift+Tab goes back to No, then Yes.
    page.find_element("id", "message").click()
    ActionChains(page).key_down(Keys.SHIFT).send_keys(Keys.TAB).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
    assert page.switch_to.active_element.text == "Yes"
    before = len(entries(page))
    buttons[0].click()
    assert "Order 37129 has been cancelled." in reply_after(page, before)
    assert quick_replies(page) == []  # a question's buttons go once it is answered
    assert "yes" in page.find_element("id", "log").text


def test_when_the_server_is_down_the_log_says_so_and_the_text_stays(page, server):
    serve.stop(server, server.thread)
    text = "Is my return rtn003 processed?"
    reply = say(page, text)
    assert OFFLINE in reply
    assert page.find_element("id", "message").get_attribute("value") == text
    assert page.find_element("id", "send").is_enabled()


def test_a_phone_wide_screen_needs_no_horizontal_scrolling(page):
    page.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                         {"width": 375, "height": 800, "deviceScaleFactor": 1, "mobile": True})
    try:
        until(page, lambda d: d.execute_script("return window.innerWidth") == 375)
        say(page, "Could you tell me if order 123456 has shipped?")
        say(page, "x" * 300)  # a long word wraps instead of widening the page
        assert page.execute_script("return document.documentElement.scrollWidth") <= 375
        for element_id in ("message", "send", "details-toggle"):
            element = page.find_element("id", element_id)
            rect = page.execute_script("return arguments[0].getBoundingClientRect().toJSON()", element)
            assert element.is_displayed() and rect["left"] >= 0 and rect["right"] <= 375, element_id
            assert rect["top"] >= 0 and rect["bottom"] <= 800, element_id
    finally:
        page.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_the_toggle_shows_each_replys_turn_record(page):
    from selenium.webdriver.common.keys import Keys

    say(page, "Could you tell me if order 123456 has shipped?")
    record = page.find_elements("css selector", "#log .record")[-1]
    assert not record.is_displayed()
    toggle = page.find_element("id", "details-toggle")
    assert toggle.get_attribute("aria-pressed") == "false"
    toggle.send_keys(Keys.SPACE)  # by keyboard
    assert toggle.get_attribute("aria-pressed") == "true"
    assert record.is_displayed()
    text = record.text
    assert "order_inquiry" in text and "123456" in text and "found" in text and " ms" in text
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "false" and not record.is_displayed()
