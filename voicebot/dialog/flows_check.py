"""The checks a flow must pass beyond its own file: intent names that exist, and prompts
that fill in and pass the disclosure guard once the district's facts are in.

Pure, like the rest of the dialog: the guard comes in through the small Findings interface,
and the facts as plain text (voicebot.services.load_checked wires both), so a mistake a
staff member makes in flows/ stops start-up with a message naming the file and key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from voicebot.dialog.flow import PLACEHOLDERS, Flow, FlowError
from voicebot.dialog.intents import KNOWN_INTENTS, UNKNOWN
from voicebot.dialog.languages import Words, foreign_sentences, mark_problem, unmark


class Span(Protocol):
    kind: str


class Findings(Protocol):
    """The disclosure guard, as far as the checks need it."""

    def findings(self, text: str, allow: str | None = None) -> list[Span]: ...


Facts = Mapping[str, Mapping[str, Mapping[str, str]]]  # channel -> language -> placeholder


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
    ranked = [("priority", name) for name in flow.priority]
    for table, entries in (("covers", flow.covers), ("together", flow.together)):
        for intent, others in entries.items():
            ranked += [(f"{table}.{intent}", name) for name in (intent, *others)]
    for where, name in ranked:
        if name not in flow.intents:
            raise FlowError(
                f"help-line.toml: {where}: {name!r} is not a request named in [intents]"
            )


def _blocked(guard: Findings, text: str) -> str:
    kinds = {span.kind for span in guard.findings(text)}
    why = " and ".join(sorted(_WHY.get(kind, kind) for kind in kinds))
    return f"the disclosure guard would block it ({why}), so every caller would hear an apology"


def _check_prompt(
    flow: Flow, key: str, lang: str, channel: str, facts: Mapping[str, str], guard: Findings
) -> None:
    """One prompt as one channel says it: it fills in, and passes the guard once filled."""
    written = "sms" if channel == "sms" and "sms" in flow.prompts[lang][key] else "voice"
    where = f"prompts/{lang}.toml: prompts.{key}.{written}"
    template = unmark(flow.text(key, lang, channel))  # as heard: marks are never spoken
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


_LANGUAGE_NAMES = {"en": "English", "es": "Spanish"}


def _check_languages(flow: Flow, facts: Facts, words: Words) -> None:
    """Every sentence is read by its own language's voice: a sentence in the other language
    must be marked ([es: ...]); marks must be closed and name a language the help line
    speaks. The district's names and addresses are read as they are, whatever the voice."""
    empty = dict.fromkeys(PLACEHOLDERS, "")
    for lang in flow.languages:
        for key, entry in flow.prompts[lang].items():
            for channel, template in entry.items():
                problem = mark_problem(template, flow.languages)
                if problem:
                    raise FlowError(f"prompts/{lang}.toml: prompts.{key}.{channel}: {problem}")
            names = facts["voice"][lang]
            text = entry["voice"].format(**(empty | dict(names)))
            for sentence, voice, other in foreign_sentences(text, lang, words, names.values()):
                said, heard = (_LANGUAGE_NAMES.get(x, x) for x in (other, voice))
                raise FlowError(
                    f'prompts/{lang}.toml: prompts.{key}.voice: "{sentence}" is {said} but '
                    f"would be read by the {heard} voice: mark it [{other}: ...] (docs/flows.md, "
                    '"Another language inside a prompt")'
                )


_ADDRESSES = ("{portal_login_url}", "{lookup_url}")


def _check_addresses(flow: Flow) -> None:
    """An address is long to listen to: a call that can be texted is offered the text first,
    and only a call that cannot (a withheld number) hears it read out (say_no_text)."""
    for spec in flow.states.values():
        if spec.type != "answer" or not spec.offer_text:
            continue
        for lang in flow.languages:
            spoken = flow.prompts[lang][spec.say]["voice"]
            if any(address in spoken for address in _ADDRESSES):
                raise FlowError(
                    f"prompts/{lang}.toml: prompts.{spec.say}.voice: reads an address to a "
                    f"caller it then offers to text (states.{spec.name}): offer the text "
                    "first, and read the address in the prompt named by say_no_text"
                )


def check_flow(flow: Flow, facts: Facts, guard: Findings, words: Words | None = None) -> None:
    """Every prompt, with the district's facts filled in, must pass the disclosure guard: one
    that looks like a date or a long number would be blocked for every caller, each of whom
    would get an apology and a transfer instead. With ``words`` (flows/languages.toml), every
    sentence must be in the language of the voice that reads it."""
    _check_intent_names(flow)
    _check_addresses(flow)
    for lang in flow.languages:
        for key in flow.prompts[lang]:
            for channel in ("voice", "sms"):
                _check_prompt(flow, key, lang, channel, facts[channel][lang], guard)
        for topic, label in flow.labels[lang].items():
            if guard.findings(label):
                raise FlowError(f"prompts/{lang}.toml: labels.{topic}: {_blocked(guard, label)}")
    if words is not None:  # once every prompt is known to fill in
        _check_languages(flow, facts, words)
