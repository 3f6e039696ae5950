"""The demo workspace of embedded mode: one channel of every kind, each wired to its built-in fake provider.

A channel kind joins the demo with one entry in DEMO_CHANNELS: its id, kind, name, credentials, and a function
that prepares the fake provider (a bot token it accepts, a page it knows, ...).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.auth.keys import create_api_key
from chalicelib.domain.model import Channel
from chalicelib.services import channels, knowledge, tasks, team, templates
from chalicelib.services.deps import Deps
from chalicelib.store import repo

WORKSPACE = "demo"
TELEGRAM_CHANNEL = "ch_demo_telegram"
TELEGRAM_TOKEN = "700000001:demo-token"
TELEGRAM_BOT = "zabota_demo_bot"
DEMO_ADMIN = "admin@demo.example"


@dataclass(frozen=True)
class DemoChannel:
    id: str
    kind: str
    name: str
    credentials: dict[str, str]
    prepare_fake: Callable[[dict[str, Any]], None] = lambda fakes: None
    settings: dict[str, Any] = field(default_factory=dict)


DEMO_CHANNELS: list[DemoChannel] = [
    DemoChannel(TELEGRAM_CHANNEL, "telegram", "Telegram demo bot", {"bot_token": TELEGRAM_TOKEN},
                lambda fakes: fakes["telegram"].add_bot(TELEGRAM_TOKEN, TELEGRAM_BOT)),
    DemoChannel("ch_demo_email", "email", "Demo shop support",
                {"from_address": "support@demo-shop.example", "plus_addressing": "true",
                 "topic_arns": "arn:aws:sns:us-east-1:000000000000:zabota-demo-inbound-mail"}),
    DemoChannel("ch_demo_ok", "ok", "OK demo group", {"access_token": "tkn1demo-ok-group-token"},
                lambda fakes: fakes["ok"].add_group("tkn1demo-ok-group-token", "group:57000000000001", "Demo shop")),
    DemoChannel("ch_demo_widget", "widget", "Site chat", {}, settings={
        "pre_chat": [
            {"name": "name", "label": {"ru": "Имя", "en": "Name"}, "required": True},
            {"name": "email", "label": {"ru": "E-mail", "en": "E-mail"}, "required": False},
            {"name": "topic", "label": {"ru": "Тема", "en": "Topic"}, "required": True, "options": [
                {"value": "delivery", "label": {"ru": "Доставка", "en": "Delivery"}},
                {"value": "payment", "label": {"ru": "Оплата", "en": "Payment"}},
                {"value": "other", "label": {"ru": "Другое", "en": "Other"}}]},
        ],
        "topics": {"delivery": ["delivery"], "payment": ["payment"], "other": []},
        "operator_name": "Zabota",
    }),
    DemoChannel("ch_demo_vk", "vk", "VK demo community", {"access_token": "vk1.a.demo-community-token",
                                                           "group_id": "100000001"},
                lambda fakes: fakes["vk"].add_group(100000001, "vk1.a.demo-community-token", "Demo shop")),
    DemoChannel("ch_demo_whatsapp", "whatsapp", "WhatsApp demo number",
                {"access_token": "demo-wa-token", "phone_number_id": "106540352242922", "waba_id": "102290129340398",
                 "app_secret": "demo-meta-app-secret"},
                lambda fakes: fakes["graph"].add_whatsapp_number("demo-wa-token", "106540352242922",
                                                                 "102290129340398")),
    DemoChannel("ch_demo_messenger", "messenger", "Facebook demo Page",
                {"page_access_token": "demo-page-token", "page_id": "104000000000001",
                 "app_secret": "demo-meta-app-secret"},
                lambda fakes: fakes["graph"].add_page("demo-page-token", "104000000000001", "Demo shop")),
    DemoChannel("ch_demo_instagram", "instagram", "Instagram demo account",
                {"page_access_token": "demo-ig-page-token", "page_id": "104000000000002",
                 "ig_user_id": "17841400000000001", "app_secret": "demo-meta-app-secret"},
                lambda fakes: fakes["graph"].add_page("demo-ig-page-token", "104000000000002", "Demo shop",
                                                      ig_user_id="17841400000000001", ig_username="demo.shop")),
]

# Reply templates of the demo workspace (B7): `/delivery` in the reply box, variables filled in by the console.
DEMO_TEAMS = ("Support", "Engineering")

DEMO_TEMPLATES: list[dict[str, str]] = [
    {"shortcut": "delivery", "title": "Доставка: заказ в пути",
     "text": "{customer_name}, здравствуйте! Ваш заказ уже в пути, курьер позвонит за час до приезда. "
             "Если что-то изменится, напишите нам.\n{workspace_name}\n{operator_name}"},
    {"shortcut": "thanks", "title": "Thank you",
     "text": "Thank you, {customer_name}! Glad we could help. Write any time.\n{operator_name}"},
]


# Knowledge-base articles of the demo workspace (H1): Ctrl+K in the reply box finds them ("доставка", "refund").
DEMO_ARTICLES: list[dict[str, Any]] = [
    {"category": "Доставка", "status": "published", "url": "https://help.demo.example/delivery",
     "versions": {"ru": {"title": "Сроки и стоимость доставки",
                         "body": "Доставляем по Москве **за 1–2 дня**, по России за 3–7 дней.\n\n"
                                 "- курьер звонит за час до приезда\n- бесплатно от 3 000 ₽"},
                  "en": {"title": "Delivery times and prices",
                         "body": "We deliver in Moscow **within 1-2 days**, elsewhere in Russia in 3-7 days.\n\n"
                                 "- the courier calls an hour ahead\n- free from 3,000 ₽"}}},
    {"category": "Возвраты", "status": "published",
     "versions": {"ru": {"title": "Как вернуть товар", "body": "Вернуть товар можно в течение 14 дней: напишите "
                         "номер заказа, и мы пришлём курьера. Деньги вернутся на карту за 3–5 рабочих дней."},
                  "en": {"title": "How to return an item", "body": "Items can be returned within 14 days: send us "
                         "the order number and we send a courier. The refund reaches the card in 3-5 working days."}}},
]


@dataclass(frozen=True)
class Demo:
    workspace_id: str
    channels: dict[str, Channel] = field(default_factory=dict)
    created: bool = False

    @property
    def telegram(self) -> Channel:
        return self.channels[TELEGRAM_CHANNEL]


def seed(d: Deps, fakes: dict[str, Any]) -> Demo:
    """Idempotent: the second run finds everything in place and changes nothing."""
    created = repo.put_workspace(WORKSPACE, "Demo shop", language="ru", now=d.now())
    team.ensure_member(WORKSPACE, DEMO_ADMIN, "admin", now=d.now())  # signs in by e-mailed link (the outbox)
    found: dict[str, Channel] = {}
    for spec in DEMO_CHANNELS:
        spec.prepare_fake(fakes)  # fakes live in memory: prepare them on every start
        channel = repo.get_channel(spec.id, cached=False)
        if channel is None:
            channel = channels.create_channel(d, WORKSPACE, spec.kind, spec.name, dict(spec.credentials),
                                              settings=dict(spec.settings),
                                              channel_id=spec.id)
        found[spec.id] = channel
    templates.ensure_templates(d, WORKSPACE, DEMO_TEMPLATES, created_by="system:demo")  # only if none
    tasks.ensure_teams(d, WORKSPACE, DEMO_TEAMS, created_by="system:demo")  # task queues (F4), only if none
    knowledge.ensure_articles(d, WORKSPACE, DEMO_ARTICLES, by="system:demo")  # the knowledge base, only if none
    return Demo(WORKSPACE, found, created)


def sample_update_json() -> str:
    """A Telegram update as a customer's first message, with a fresh update_id (the webhook dedupes on it)."""
    now = int(time.time())
    return json.dumps({"update_id": now, "message": {
        "message_id": now % 100000, "date": now, "text": "Здравствуйте! Где мой заказ?",
        "from": {"id": 5550001, "is_bot": False, "first_name": "Anna", "language_code": "ru"},
        "chat": {"id": 5550001, "type": "private", "first_name": "Anna"}}}, ensure_ascii=False)


def admin_key(d: Deps) -> str:
    return create_api_key(WORKSPACE, "admin", name="make run", now=d.now())
