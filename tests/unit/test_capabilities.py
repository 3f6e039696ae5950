"""The capability table comes from the adapters, and docs/CHANNELS.md says the same."""

from __future__ import annotations

from pathlib import Path

from chalicelib.channels.capabilities import capability_table, channels_markdown
from chalicelib.channels.registry import FACTORIES
from chalicelib.local.env import embedded_environ
from chalicelib.settings import load

SETTINGS = load(embedded_environ(port=8000, ddb_port=8001, data_dir=".data"))


def test_every_registered_kind_declares_what_it_can_do():
    table = capability_table(SETTINGS)
    assert set(table) == set(FACTORIES)
    for kind, row in table.items():
        assert "text" in row["capabilities"], kind


def test_the_channels_page_matches_the_adapters():
    page = Path(__file__).resolve().parents[2] / "docs" / "CHANNELS.md"
    assert page.read_text(encoding="utf-8") == channels_markdown(SETTINGS), (
        "regenerate: python -m chalicelib.channels.capabilities > docs/CHANNELS.md")


def test_hiding_comments_is_offered_where_the_provider_has_it_and_nowhere_else():
    table = capability_table(SETTINGS)
    can_hide = {kind for kind, row in table.items() if "hide_comment" in row["capabilities"]}
    assert can_hide == {"messenger", "instagram"}  # VK wall comments can only be deleted
    assert "delete_comment_admin" in table["vk"]["capabilities"]
