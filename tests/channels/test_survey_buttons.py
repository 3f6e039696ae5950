"""Survey answers at the VK and WhatsApp adapters (G4): which pressed buttons count as answers."""

from __future__ import annotations

import json

from chalicelib.channels import vk as vk_module
from chalicelib.channels.whatsapp import _survey_answer
from chalicelib.domain import surveys

SURVEY = "sc0190000000000abcdef0"


def test_vk_payload_and_whatsapp_replies_are_answers_only_when_they_are_ours() -> None:
    ours = json.dumps({"sv": surveys.answer_data(SURVEY, 5)})
    assert vk_module._survey_answer(ours) == (SURVEY, 5)
    for junk in (None, "", "not json", json.dumps({"command": "start"}), json.dumps({"sv": "sv:x"}), "x" * 300):
        assert vk_module._survey_answer(junk) is None
    row = {"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {
        "id": surveys.answer_data(SURVEY, 2), "title": "2"}}}
    assert _survey_answer(row) == (SURVEY, 2)
    assert _survey_answer({"type": "interactive", "interactive": {"type": "nfm_reply"}}) is None
    assert _survey_answer({"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {
        "id": "order-42", "title": "Track"}}}) is None
