"""Screenshots of the console, the simulator and the widget for docs/ (run: `python -m tests.browser.screenshots`).

Starts its own embedded stack in memory on free ports, lets a few demo customers write through the simulator's
backend, answers some of them, and photographs the pages with Debian's Chromium. Not collected by pytest.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.browser.pages import CHROMIUM_FLAGS, Demo, chromium_path, open_conversation, reply_box, sign_in, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCS = REPO_ROOT / "docs"

CUSTOMERS = [
    ("7100001", "Мария Соколова", ["Здравствуйте! Заказ №4821 должен был прийти вчера, но его всё нет.",
                                   "Трек-номер не обновляется с понедельника."]),
    ("7100002", "Иван Петров", ["Можно поменять размер кроссовок на 43?"]),
    ("7100003", "Olga Smirnova", ["Hi! Do you ship to Kazakhstan?"]),
    ("7100004", "Дмитрий", ["Спасибо, всё получил!"]),
]


def populate(demo: Demo) -> str:
    """Customers write; the first one gets a tag, a note and an answer. Returns the first conversation's name."""
    for user_id, name, texts in CUSTOMERS:
        for text in texts:
            demo.customer_writes(user_id, name, text)
            time.sleep(0.3)
    first = demo.conversation_named(CUSTOMERS[0][1])
    wait_until(lambda: demo.conversation_named(CUSTOMERS[0][1])["message_count"] >= 2, what="both messages")
    demo.api("PATCH", f"/conversations/{first['id']}", json={"tags": ["доставка", "VIP"], "emotion": "negative"})
    card = demo.api("GET", f"/contacts/{first['contact_id']}").json()["contact"]
    demo.api("PATCH", f"/contacts/{first['contact_id']}", json={
        "revision": card["revision"], "email": "m.sokolova@example.ru", "phone": "+7 912 345-67-89",
        "custom_fields": {"Заказ": "4821", "Город": "Казань"}})
    second = demo.conversation_named(CUSTOMERS[1][1])
    demo.api("PATCH", f"/conversations/{second['id']}", json={"tags": ["обмен"]})
    demo.api("POST", f"/conversations/{first['id']}/notes", json={"text": "Проверить у курьерской службы СДЭК."})
    return CUSTOMERS[0][1]


def shoot(browser: Any, demo: Demo, name: str) -> list[Path]:
    shots = []
    for lang, locale in (("en", "en-US"), ("ru", "ru-RU")):
        context = browser.new_context(viewport={"width": 1440, "height": 860}, locale=locale, device_scale_factor=1)
        page = context.new_page()
        page.goto(demo.url)
        page.evaluate(f"localStorage.setItem('zabota.lang', '{lang}')")
        if lang == "en":
            sign_in(page, demo)
            open_conversation(page, name)
            reply_box(page).fill("Good afternoon, Maria! The parcel is at the sorting centre, delivery tomorrow.")
            reply_box(page).press("Enter")
            page.locator("[data-status='sent']").last.wait_for()
            page.get_by_role("tab", name="In progress").click()  # where the answered conversation went
            page.get_by_role("link", name=name).wait_for()
        else:
            page.evaluate(f"localStorage.setItem('zabota.apiKey', {demo.key!r})")
            page.goto(demo.url)
            page.get_by_role("tab", name="В работе").click()
            page.get_by_role("link", name=name).click()
            page.get_by_role("region", name="Диалог").get_by_role("heading", name=name).wait_for()
        page.wait_for_timeout(500)
        path = DOCS / f"screenshot-console{'' if lang == 'en' else '-ru'}.png"
        page.screenshot(path=str(path))
        shots.append(path)
        context.close()
    context = browser.new_context(viewport={"width": 1100, "height": 720}, locale="en-US")
    page = context.new_page()
    page.goto(f"{demo.url}/simulator/")
    page.get_by_label("Customer id").fill(CUSTOMERS[0][0])
    page.get_by_label("Customer id").press("Tab")
    page.get_by_label("Customer name").fill(CUSTOMERS[0][1])
    page.get_by_placeholder("Message").fill("Thank you!")
    page.get_by_role("button", name="Send as the customer").click()
    page.get_by_role("log").get_by_text("sorting centre").wait_for()
    page.wait_for_timeout(300)
    shots.append(DOCS / "screenshot-simulator.png")
    page.screenshot(path=str(shots[-1]))
    context.close()
    return shots


def main() -> int:
    from playwright.sync_api import sync_playwright

    from chalicelib.auth.keys import create_api_key
    from chalicelib.local import demo as demo_seed
    from chalicelib.local.dynamodb import free_port
    from chalicelib.local.runner import EmbeddedStack, StackConfig
    from chalicelib.services.deps import deps

    config = StackConfig(port=free_port(), data_dir=tempfile.mkdtemp(prefix="zabota-shots-"), in_memory=True,
                         tick_seconds=3600)
    with EmbeddedStack(config) as stack, sync_playwright() as playwright:
        key = create_api_key(demo_seed.WORKSPACE, "admin", name="Maria (support)", now=deps().now())
        demo = Demo(stack=stack, key=key, telegram=demo_seed.TELEGRAM_CHANNEL)
        name = populate(demo)
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True)
        try:
            for path in shoot(browser, demo, name):
                print(path.relative_to(REPO_ROOT))
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    sys.exit(main())
