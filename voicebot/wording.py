"""District facts as the prompts' placeholders, written for each channel.

On SMS a number or address is written; on a call it is spelled out so text-to-speech reads
it the way a person would.
"""

from __future__ import annotations

from voicebot import phones
from voicebot.config import Settings


def district_facts(settings: Settings) -> dict[str, dict[str, str]]:
    d = settings.district
    common = {
        "district": d.name,
        "district_short": d.short_name,
        "portal_name": d.portal_name,
        "lookup_page": d.activation_lookup_page,
    }
    return {
        "sms": common
        | {
            "portal_login_url": d.portal_login_url,
            "lookup_url": d.activation_lookup_url,
            "support_number": phones.display(d.support_number),
        },
        "voice": common
        | {
            "portal_login_url": d.portal_login_url_spoken,
            "lookup_url": d.activation_lookup_url_spoken,
            "support_number": phones.spoken(d.support_number),
        },
    }
