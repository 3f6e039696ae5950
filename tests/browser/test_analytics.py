"""Analytics in the console (G1-G5): the Dashboard updates live as a customer writes and links the longest wait;
the heat map and charts download; Reports by tag and operator with KPIs, the review of one operator's dialogs
(each opens) and an export with its progress and link; the pages in Russian, the empty state, and no links for
roles without `analytics:read`."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages import fresh_customer, member_browser, new_team, sign_in, thread

pytestmark = [pytest.mark.browser, pytest.mark.ddblocal]


def card(page: Any, name: str) -> Any:
    return page.locator(f'[data-kpi="{name}"] .kpi-value')


def test_the_dashboard_updates_live_and_opens_the_longest_wait(page, demo, live):
    sign_in(page, demo)
    page.get_by_role("link", name="Dashboard").click()
    expect(page).to_have_url(re.compile(r"/analytics$"))
    region = page.get_by_role("region", name="Dashboard")
    expect(region.get_by_role("heading", name="Dashboard")).to_be_visible()
    before = int(card(page, "new").inner_text())
    user_id, customer = fresh_customer("Dina")
    demo.customer_writes(user_id, customer, "Is anyone there?")
    expect(card(page, "new")).to_have_text(str(before + 1), timeout=15_000)  # the push, no reload
    expect(page.locator("#chart-heat rect[data-count]")).to_have_count(7 * 24)
    with page.expect_download() as download:
        region.get_by_role("heading", name=re.compile("Workload")).get_by_role("button", name="SVG").click()
    assert download.value.suggested_filename == "zabota-heatmap.svg"
    with page.expect_download() as download:
        region.get_by_role("heading", name=re.compile("last 24 h")).get_by_role("button", name="PNG").click()
    assert download.value.suggested_filename == "zabota-24h.png"
    oldest = page.get_by_test_id("oldest-waiting").get_by_role("link")
    name = oldest.inner_text()
    oldest.click()
    expect(page).to_have_url(re.compile(r"/c/"))
    page.get_by_role("region", name="Conversation").get_by_role("heading", name=name).wait_for()


def test_reports_kpis_the_review_of_one_operator_and_an_export(page, demo, live):
    from chalicelib.local import demo as demo_seed
    from tests.e2e.test_team_support import add_user

    user = add_user(demo.stack, demo_seed.WORKSPACE, "operator", name="Rita Reports")
    user_id, customer = fresh_customer("Karl")
    demo.customer_writes(user_id, customer, "my parcel is late")
    conv = demo.conversation_named(customer)
    changed = demo.api("PATCH", f"/conversations/{conv['id']}", json={"assignee_id": user.user_id,
                                                                      "tags": ["late-parcel"]})
    assert changed.status_code == 200, changed.text
    assert user.api("POST", f"/conversations/{conv['id']}/replies", json={"text": "on its way"}).status_code == 202
    live.pump.drain(timeout=30)

    page.goto(f"{demo.url}/reports")  # a link to the page signs in and lands there
    page.get_by_label("API key").fill(demo.key)
    page.get_by_role("button", name="Sign in").click()
    region = page.get_by_role("region", name="Reports")
    region.get_by_label("By").select_option("tag")
    expect(region.get_by_test_id("report-table")).to_contain_text("late-parcel")
    expect(page.locator("#chart-report")).to_be_visible()
    with page.expect_download() as download:
        region.get_by_role("button", name="SVG").first.click()
    assert download.value.suggested_filename.endswith(".svg")
    row = region.get_by_test_id("kpi-table").locator(f'tr[data-user="{user.user_id}"]')
    expect(row).to_contain_text("Rita Reports")
    row.get_by_role("button", name="Dialogs").click()
    review = page.get_by_role("region", name="Dialogs of Rita Reports")
    review.get_by_role("link", name=customer).click()
    page.get_by_role("region", name="Conversation").get_by_role("heading", name=customer).wait_for()
    expect(thread(page)).to_contain_text("on its way")

    page.get_by_role("link", name="Reports").click()
    region.get_by_role("button", name="Conversations, CSV").click()
    link = region.get_by_test_id("export-link")
    expect(link).to_be_visible(timeout=20_000)
    expect(link).to_have_text(re.compile(r"Download \(\d+ rows\)"))
    body = page.request.get(link.get_attribute("href")).text()
    assert customer in body and body.splitlines()[0].lstrip("\ufeff").startswith("conversation_id")


def test_russian_pages_the_empty_state_and_no_links_without_analytics_read(browser, demo):
    from chalicelib.local import demo as demo_seed
    from tests.e2e.test_team_support import add_user

    workspace, _ = new_team()
    analyst = add_user(demo.stack, workspace, "analyst", name="Anya Analyst")
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ru-RU")
    context.add_cookies([{"name": c.name, "value": c.value or "", "url": demo.url} for c in analyst.http.cookies])
    page = context.new_page()
    page.goto(f"{demo.url}/?workspace={workspace}&lang=ru")
    page.get_by_role("link", name="Дашборд").click()
    expect(page.get_by_test_id("anx-empty")).to_contain_text("Данных пока нет")
    expect(page.locator('[data-kpi="waiting"] .kpi-value')).to_have_text("0")
    page.get_by_role("link", name="Отчёты").click()
    expect(page.get_by_role("region", name="Отчёты").get_by_test_id("anx-empty")).to_be_visible()
    page.get_by_role("link", name="Входящие").click()
    expect(page).to_have_url(re.compile(r"/\?|/$"))
    context.close()

    operator, _ = member_browser(browser, demo, "Oleg NoStats", role="operator")
    expect(operator.get_by_role("link", name="Tasks")).to_be_visible()
    expect(operator.get_by_role("link", name="Dashboard")).to_have_count(0)
    operator.goto(f"{demo.url}/analytics?workspace={demo_seed.WORKSPACE}")
    operator.get_by_role("tab", name="New").wait_for()  # the inbox: no analytics page for this role
    expect(operator.get_by_role("region", name="Dashboard")).to_have_count(0)
    operator.context.close()
