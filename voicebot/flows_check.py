"""flows/ as the help line will use it, loaded and checked in one place.

`voicebot flows check`, `voicebot serve` and the app itself load the state machine, the
intents and the prompts through here, so a mistake a staff member makes in flows/ (or in the
support-hours wording in config/) stops start-up with a message naming the file and key,
instead of surfacing in a call.
"""

from __future__ import annotations

from pathlib import Path

from voicebot.channels.segments import plain
from voicebot.config import Settings
from voicebot.dialog.flow import PLACEHOLDERS, Flow, FlowError, load_flow
from voicebot.dialog.intents import KNOWN_INTENTS, UNKNOWN, IntentDataError, IntentMatcher
from voicebot.guard import Guard
from voicebot.wording import district_facts

_WHY = {
    "date": "it has what looks like a date",
    "digits": "it has a number of more than 4 digits that is not one of the district's",
}
# Where each placeholder's words come from, to name the setting to change.
CONFIG_KEYS = {
    "support_hours": "[support.hours_text]",
    "district": "[district] name",
    "district_short": "[district] short_name",
    "portal_name": "[district] portal_name",
    "portal_login_url": "[district] portal_login_url",
    "lookup_url": "[district] activation_lookup_url",
    "lookup_page": "[district] activation_lookup_page",
}


# The longest hours wording (in plain SMS characters) that still lets "AGENT" while support
# is closed, and "what are your hours?", be answered in one text of at most two segments.
HOURS_TEXT_MAX = 80


def _check_hours_text(settings: Settings) -> None:
    for lang, text in settings.support_hours_text.items():
        length = len(plain(text))  # as texted
        if length > HOURS_TEXT_MAX:
            raise FlowError(
                f"[support.hours_text] {lang}: {length} characters, at most "
                f"{HOURS_TEXT_MAX}: the texts that tell parents the hours would not fit in "
                "one message"
            )


def _check_intent_names(flow: Flow) -> None:
    """A misspelt intent in [intents] or a state's `on` would never match: that topic would
    silently stop working, every caller hearing "Sorry, I didn't catch that"."""
    named = [(f"intents.{name}", name) for name in flow.intents]
    for spec in flow.states.values():
        named += [(f"states.{spec.name}.on.{name}", name) for name in spec.on]
    for where, name in named:
        if name not in KNOWN_INTENTS or name == UNKNOWN:
            known = ", ".join(sorted(KNOWN_INTENTS - {UNKNOWN}))
            raise FlowError(f"help-line.toml: {where}: not an intent (known: {known})")


def _blocked(guard: Guard, text: str) -> str:
    kinds = {span.kind for span in guard.findings(text)}
    why = " and ".join(sorted(_WHY.get(kind, kind) for kind in kinds))
    return f"the disclosure guard would block it ({why}), so every caller would hear an apology"


def _check_prompt(
    flow: Flow, key: str, lang: str, channel: str, facts: dict[str, str], guard: Guard
) -> None:
    """One prompt as one channel says it: it fills in, and passes the guard once filled."""
    written = "sms" if channel == "sms" and "sms" in flow.prompts[lang][key] else "voice"
    where = f"prompts/{lang}.toml: prompts.{key}.{written}"
    template = flow.text(key, lang, channel)
    empty = dict.fromkeys(PLACEHOLDERS, "")
    try:
        bare, text = template.format(**empty), template.format(**(empty | facts))
    except (ValueError, KeyError, IndexError) as exc:
        raise FlowError(f"{where}: not a prompt the help line can fill in ({exc})") from exc
    if guard.findings(bare):
        raise FlowError(f"{where}: {_blocked(guard, bare)}")
    if guard.findings(text):  # then the words come from a setting
        culprits = [CONFIG_KEYS.get(name, name) for name, v in facts.items() if guard.findings(v)]
        named = ", ".join(culprits) or "a placeholder"
        raise FlowError(f"{where}: {_blocked(guard, text)}, once {named} in config/ is filled in")


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
    _check_hours_text(settings)
    flow = load_flow(directory, settings.languages)
    try:
        matcher = IntentMatcher.from_directory(directory / "intents")
    except IntentDataError as exc:
        raise FlowError(str(exc)) from exc
    _check_intent_names(flow)
    guard = guard or public_guard(settings)
    facts = district_facts(settings)
    for lang in flow.languages:
        for key in flow.prompts[lang]:
            for channel in ("voice", "sms"):
                _check_prompt(flow, key, lang, channel, facts[channel][lang], guard)
        for topic, label in flow.labels[lang].items():
            if guard.findings(label):
                raise FlowError(f"prompts/{lang}.toml: labels.{topic}: {_blocked(guard, label)}")
    return flow, matcher
