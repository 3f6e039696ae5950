"""The first five minutes of a new user (issue 17): the e-mailed sign-in link's page, the external-account buttons
(the local OpenID provider of embedded mode, end to end), a browser console without errors or warnings on every
page, and the simulator on a wide screen."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.pages import emailed_link, links_for, new_member, new_team, served_page, watch_console

pytestmark = [pytest.mark.browser, pytest.mark.ddblocal]

ACCENT = "rgb(36, 89, 196)"  # --accent of the console (frontend/src/styles/base.css)


@pytest.fixture
def clock_ahead():
    """Move the stack's clock (the same process serves the requests) and put it back."""
    from chalicelib.services.deps import deps

    d = deps()
    original = d.clock

    def ahead(delta: timedelta) -> None:
        d.clock = lambda: original() + delta

    yield ahead
    d.clock = original


def test_the_link_page_says_whom_it_signs_in_and_why_a_click_then_lands_in_the_inbox(page, demo):
    workspace, name = new_team("Shop on the corner")
    address = new_member(workspace)
    link = emailed_link(demo, address)
    page.goto(link)
    card = page.get_by_role("main")
    expect(card.get_by_role("heading", name="Sign in to Zabota")).to_be_visible()
    expect(card).to_contain_text(f"This link signs in {address} to the workspace {name}.")
    expect(card).to_contain_text("mail scanners open links by themselves")
    button = card.get_by_role("button", name="Sign in")
    assert button.evaluate("el => getComputedStyle(el).backgroundColor") == ACCENT  # the console's card, not a
    assert card.locator(".card").evaluate("el => getComputedStyle(el).borderRadius") == "14px"  # default button
    requests_to_link = []
    page.on("request", lambda r: requests_to_link.append(r.method) if "/api/auth/link" in r.url else None)

    card.get_by_role("link", name="RU").click()  # the switch is a GET: the link stays unused
    expect(card.get_by_role("heading", name="Вход в Zabota")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(card).to_contain_text(f"По этой ссылке вы войдёте как {address} в пространство {name}.")
    card.get_by_role("link", name="EN").click()
    expect(card.get_by_role("heading", name="Sign in to Zabota")).to_be_visible()
    card.get_by_role("link", name="RU").click()
    assert requests_to_link == ["GET", "GET", "GET"]

    card.get_by_role("button", name="Войти").click()
    expect(page.get_by_role("tab", name="Новые")).to_be_visible()  # the inbox, in the language chosen, by cookie
    assert page.url == f"{demo.url}/", page.url  # ?lang= was taken out of the address
    expect(page.get_by_label("API-ключ")).to_have_count(0)
    assert page.evaluate("localStorage.getItem('zabota.lang')") == "ru"


def test_a_used_link_says_so_and_a_new_one_can_be_asked_for_on_the_spot(page, demo):
    address = new_member()
    link = emailed_link(demo, address)
    assert requests.post(f"{demo.url}/api/auth/link", json={"token": link.split("token=")[1]},
                         timeout=10).status_code == 200  # used elsewhere (another browser)

    page.goto(link)
    expect(page.get_by_role("heading", name="This link cannot be used")).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text("It was used already")
    expect(page.get_by_role("button", name="Sign in")).to_have_count(0)
    page.get_by_label("Your work e-mail").fill(address)
    page.get_by_role("button", name="E-mail me a new link").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    expect(page.get_by_role("link", name="Open the outbox")).to_have_attribute("href", "/_outbox")

    fresh = links_for(demo, address)
    assert len(fresh) == 2 and fresh[0] != link  # the same API as the console's form sent a second link
    page.goto(fresh[0])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("tab", name="New")).to_be_visible()


def test_a_link_clicked_in_a_second_tab_after_the_first_explains_itself(page, demo):
    link = emailed_link(demo, new_member())
    other = page.context.new_page()
    page.goto(link)
    other.goto(link)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("tab", name="New")).to_be_visible()
    other.get_by_role("button", name="Sign in").click()
    expect(other.get_by_role("heading", name="This link cannot be used")).to_be_visible()
    expect(other.get_by_role("main")).to_contain_text("It was used already")


def test_an_expired_link_says_so_in_the_browsers_language(browser, demo, clock_ahead):
    link = emailed_link(demo, new_member())
    clock_ahead(timedelta(minutes=16))
    context = browser.new_context(locale="ru-RU")
    try:
        page = context.new_page()
        page.goto(link)
        expect(page.get_by_role("heading", name="Этой ссылкой нельзя войти")).to_be_visible()
        expect(page.get_by_role("main")).to_contain_text("Её срок истёк: ссылка действует 15 минут.")
        expect(page.get_by_role("button", name="Прислать новую ссылку")).to_be_visible()
    finally:
        context.close()


def test_names_on_the_link_page_are_text_and_the_page_allows_no_script(page, demo):
    hostile = "<img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>"
    workspace, _ = new_team(hostile)
    address = new_member(workspace)
    link = emailed_link(demo, address)

    answer = requests.get(link, timeout=10)
    policy = answer.headers["Content-Security-Policy"]
    assert "script-src" not in policy and "default-src 'none'" in policy and "'unsafe-inline'" not in policy
    assert "<img" not in answer.text and "<script" not in answer.text
    page.goto(link)
    expect(page.get_by_role("main")).to_contain_text(hostile)  # shown literally
    assert page.title() != "pwned" and page.locator("main img, main script").count() == 0


def test_the_sign_in_screen_offers_the_local_provider_which_signs_in_end_to_end(page, demo):
    address = new_member(role="operator")
    problems = watch_console(page)
    page.goto(demo.url)
    provider = page.get_by_role("link", name="Sign in with Local test provider")
    expect(provider).to_be_visible()
    provider.click()
    page.get_by_label("E-mail").fill(address)  # the fake provider's own page: who signs in
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("tab", name="New")).to_be_visible()
    expect(page.get_by_label("API key")).to_have_count(0)
    who = page.evaluate("fetch('/api/auth/session').then(r => r.json())")
    assert who["signed_in"] is True and who["user"]["email"] == address
    assert problems == []


@pytest.fixture
def configured_providers():
    """OIDC_PROVIDERS as a deployment would set it (the presets need only credentials), then back."""
    import dataclasses
    import json

    from chalicelib.services.deps import deps

    d = deps()
    original = d.settings
    d.settings = dataclasses.replace(original, oidc_providers=json.dumps([
        {"id": "google", "client_id": "1.apps.googleusercontent.com", "client_secret": "s"},
        {"id": "yandex", "client_id": "y", "client_secret": "s"}, {"id": "vk", "client_id": "v"}]))
    yield
    d.settings = original


def test_the_sign_in_screen_shows_a_button_per_configured_provider(page, demo, configured_providers):
    page.goto(f"{demo.url}/c/some-conversation")
    buttons = page.get_by_role("navigation", name="Sign in with an account").get_by_role("link")
    expect(buttons).to_have_text(["Sign in with Google", "Sign in with Яндекс ID", "Sign in with VK ID",
                                  "Sign in with Local test provider"])
    hrefs = buttons.evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert hrefs == [f"/api/auth/oidc/{p}/start?next=%2Fc%2Fsome-conversation" for p in ("google", "yandex", "vk",
                                                                                          "local")]
    page.get_by_role("button", name="RU").click()
    expect(page.get_by_role("navigation", name="Вход через учётную запись").get_by_role("link").first) \
        .to_have_text("Войти через Google")


def test_without_providers_the_embedded_sign_in_offers_only_the_local_one(demo):
    listed = requests.get(f"{demo.url}/api/auth/providers", timeout=10).json()["providers"]
    assert [p["id"] for p in listed] == ["local"]  # embedded mode without OIDC_PROVIDERS: only the fake one


def test_no_page_logs_an_error_or_a_warning_from_sign_in_to_inbox_simulator_and_widget(page, demo, live):
    """Nothing is filtered: every console message of level error or warning from any page counts."""
    problems = watch_console(page)

    page.goto(demo.url)  # logged out: not an error
    expect(page.get_by_role("button", name="E-mail me a sign-in link")).to_be_visible()
    expect(page.get_by_role("link", name="Sign in with Local test provider")).to_be_visible()
    page.reload()
    expect(page.get_by_label("API key")).to_be_visible()

    link = emailed_link(demo, new_member())
    page.goto(link)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("tab", name="New")).to_be_visible()
    expect(page.get_by_text("Live", exact=True)).to_be_visible()  # the socket is up too
    page.goto(link)  # the used link's page
    expect(page.get_by_role("heading", name="This link cannot be used")).to_be_visible()

    page.goto(f"{demo.url}/simulator/")
    page.get_by_role("radio", name=re.compile("Telegram demo bot")).check()
    page.get_by_placeholder("Message").fill("Hello from the first five minutes")
    page.get_by_role("button", name="Send as the customer").click()
    expect(page.get_by_role("log")).to_contain_text("Здравствуйте")

    shop = ('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>'
            '<link rel="icon" href="data:,"></head><body><h1>Shop</h1>'
            f'<script src="{demo.url}/widget.js" data-channel="ch_demo_widget" async></script></body></html>')
    with served_page(shop) as url:
        page.goto(url)
        page.get_by_role("button", name="Chat with us").click()
        expect(page.get_by_label("Name")).to_be_visible()
    assert problems == []


def test_the_simulator_uses_a_wide_screen_and_no_channel_name_is_cut_off(browser, demo):
    context = browser.new_context(viewport={"width": 1600, "height": 900}, locale="en-US")
    try:
        page = context.new_page()
        page.goto(f"{demo.url}/simulator/")
        channels = page.get_by_role("group", name="Channel").get_by_role("radio")
        expect(channels.first).to_be_visible()
        sizes = page.eval_on_selector_all(
            ".sim-channel, .sim-channel *, .sim-who *, .sim-chat-head",
            "els => els.map(e => ({text: e.textContent, scroll: e.scrollWidth, client: e.clientWidth}))")
        clipped = [s for s in sizes if s["client"] and s["scroll"] > s["client"]]
        assert clipped == [] and len(sizes) > 10
        assert channels.count() >= 7
        width = page.locator(".sim").evaluate("el => el.getBoundingClientRect().width")
        chat = page.get_by_role("region", name="Telegram demo bot").evaluate("el => el.getBoundingClientRect().width")
        assert width >= 0.9 * 1600 and chat >= 0.6 * 1600, (width, chat)
    finally:
        context.close()
