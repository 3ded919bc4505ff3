"""flows/ as the help line will use it, loaded and checked in one place.

`voicebot flows check`, `voicebot serve` and the app itself load the state machine, the
intents and the prompts through here, so a mistake a staff member makes in flows/ (or in the
support-hours wording in config/) stops start-up with a message naming the file and key,
instead of surfacing in a call.
"""

from __future__ import annotations

from pathlib import Path

from voicebot.config import Settings
from voicebot.dialog.flow import PLACEHOLDERS, Flow, FlowError, load_flow
from voicebot.dialog.intents import IntentDataError, IntentMatcher
from voicebot.guard import Guard
from voicebot.wording import district_facts

_WHY = {
    "date": "it has what looks like a date",
    "digits": "it has a number of more than 4 digits that is not one of the district's",
}


def public_guard(settings: Settings) -> Guard:
    """The disclosure guard, with the district's own public numbers allowed."""
    return Guard([settings.district.support_number, settings.district.helpline_number])


def load_checked(
    settings: Settings, directory: Path | None = None, guard: Guard | None = None
) -> tuple[Flow, IntentMatcher]:
    """The flow and the intent matcher from `directory` (default: the configured one).

    Every prompt, with the district's facts filled in, must pass the disclosure guard: one
    that looks like a date or a long number would be blocked for every caller, each of whom
    would get an apology and a transfer instead.
    """
    directory = directory or settings.flows_dir
    flow = load_flow(directory, settings.languages)
    try:
        matcher = IntentMatcher.from_directory(directory / "intents")
    except IntentDataError as exc:
        raise FlowError(str(exc)) from exc
    guard = guard or public_guard(settings)
    facts = district_facts(settings)
    for lang in flow.languages:
        for key, entry in flow.prompts[lang].items():
            for channel in ("voice", "sms"):
                fill = dict.fromkeys(PLACEHOLDERS, "") | facts[channel][lang]
                text = flow.text(key, lang, channel).format(**fill)
                found = guard.findings(text)
                if found:
                    why = " and ".join(sorted({_WHY.get(span.kind, span.kind) for span in found}))
                    written = channel if channel in entry else "voice"
                    raise FlowError(
                        f"prompts/{lang}.toml: prompts.{key}.{written}: the disclosure guard "
                        f"would block it ({why}), so every caller would hear an apology "
                        f"instead. Its placeholders come from config/ (e.g. support.hours_text)."
                    )
    return flow, matcher
