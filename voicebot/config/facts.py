"""District facts as the prompts' placeholders, written for each channel and language.

On SMS a number or address is written, in plain SMS characters (an accent from a settings
file must not turn every text that carries it into the 70-character kind); on a call it is
spelled out so text-to-speech reads it the way a person would, in the caller's language.
"""

from __future__ import annotations

from voicebot import phones
from voicebot.channels.segments import plain
from voicebot.config import Settings

Facts = dict[str, dict[str, dict[str, str]]]  # channel -> language -> placeholder -> text


def district_facts(settings: Settings) -> Facts:
    d = settings.district
    common = {
        "district": d.name,
        "district_short": d.short_name,
        "portal_name": d.portal_name,
        "lookup_page": d.activation_lookup_page,
    }
    hours = settings.support_hours_text
    sms = common | {
        "portal_login_url": d.portal_login_url,
        "lookup_url": d.activation_lookup_url,
        "support_number": phones.display(d.support_number),
    }
    return {
        "sms": {
            lang: {k: plain(v) for k, v in (sms | {"support_hours": hours.get(lang, "")}).items()}
            for lang in settings.languages
        },
        "voice": {
            lang: common
            | {
                "portal_login_url": d.spoken[lang]["portal_login_url"],
                "lookup_url": d.spoken[lang]["activation_lookup_url"],
                "support_number": phones.spoken(d.support_number),
                "support_hours": hours.get(lang, ""),
            }
            for lang in settings.languages
        },
    }
