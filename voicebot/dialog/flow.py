"""The dialog as data: flows/help-line.toml (states) and flows/prompts/<lang>.toml (words).

Loading validates everything a staff member could get wrong when editing those files, and
names the file and key in the error, so a typo stops start-up instead of a call. The file
format is documented for district staff in docs/flows.md; tests/test_flow_schema.py keeps
that page in step with the names defined here.
"""

from __future__ import annotations

import difflib
import string
import tomllib
from collections import deque
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, cast, get_args

# What a state does (its `type`); docs/flows.md describes each.
StateType = Literal[
    "ask", "answer", "send_text", "callback", "transfer", "end", "read_back", "call_code"
]
STATE_TYPES: tuple[StateType, ...] = get_args(StateType)
# What an ask state can collect instead of a choice: digits, checked by the engine.
Collect = Literal["student_number", "birth_date", "code"]
COLLECTS: tuple[Collect, ...] = get_args(Collect)
# Targets that are not states but things the engine does in place.
COMMANDS = ("@repeat", "@wait", "@pending", "@spanish", "@english", "@next", "@more")
CHANNELS = ("voice", "sms")
# Placeholders prompts may use; filled from config/ (district facts) at run time.
PLACEHOLDERS = frozenset(
    {
        "district",
        "district_short",
        "portal_name",
        "portal_login_url",
        "lookup_url",
        "lookup_page",
        "support_number",
        "topic",
        "first_name",
        "last4",
        "support_hours",
        "support_status",
        "code",  # code_text and code_call only: the one-time code, put in by the verifier
    }
)

# States the engine goes to by itself, named in [special] of help-line.toml. Always needed:
SPECIAL_HOOKS = (
    "on_home",  # where an answer that fits no question is taken, and where SMS conversations start
    "on_offer_text",  # after a voice answer marked offer_text
    "on_unclear",  # "Did you want help with ...?" when the caller was not clearly understood
    "on_give_up",  # after too many silences or misunderstandings: a person takes over
    "on_dial_failed",  # support did not answer the transfer
    "on_dial_completed",  # the caller talked to support and the call ends
    "on_unanswered",  # support did not answer and the caller then said nothing we understood
)
# Needed only by flows that verify callers (states with collect).
VERIFY_HOOKS = ("on_verify_timeout",)  # where a verification left unanswered too long starts over
# Optional: without them the engine does without.
OPTIONAL_HOOKS = (
    "on_support_closed",  # a call transfer outside support's hours (default: transfer anyway)
    "on_closed_give_up",  # needed with on_support_closed: closed, and still not understood
    "on_no_last4",  # the right code but no last four digits on file (default: the state's fail)
    "on_nothing_more",  # "more" after an answer that has no more (default: not understood)
)
# Optional hooks that name the question a caller answers next: they must be questions.
QUESTION_HOOKS = ("on_after_transfer",)  # by text, after "call support at ...": thanks ends
HOOKS = SPECIAL_HOOKS + VERIFY_HOOKS + OPTIONAL_HOOKS + QUESTION_HOOKS
# Earlier names of the hooks: refused with the name to use instead.
RENAMED_HOOKS = {
    "home": "on_home",
    "offer_text": "on_offer_text",
    "confirm": "on_unclear",
    "give_up": "on_give_up",
    "dial_failed": "on_dial_failed",
    "dial_completed": "on_dial_completed",
    "unanswered": "on_unanswered",
    "support_closed": "on_support_closed",
    "closed_give_up": "on_closed_give_up",
    "verify_restart": "on_verify_timeout",
    "verified_no_number": "on_no_last4",
    "after_transfer": "on_after_transfer",
}

# Prompt keys the engine and the channels use (besides those states name).
REQUIRED_PROMPTS = (
    "sorry_no_input",
    "sorry_no_input_again",
    "sorry_no_match",
    "sorry_no_match_again",
    "sorry_not_a_choice",
    "hello_reply",
    "take_your_time",
    "read_back_once",
    "date_two_ways",
    "date_whole",
    "text_unavailable",
    "text_unavailable_repeat",
    "text_opted_out",
    "text_limit",
    "callback_unavailable",
    "support_open_now",
    "support_closed_now",
    "sms_help",
    "sms_error",
    "voice_error",
)
# ... and those flows that verify callers need.
VERIFY_PROMPTS = (
    "verify_restart",
    "code_text",
    "code_call",
    "call_limit",
    "call_unavailable",
    "code_keep_waiting",
)


class FlowError(ValueError):
    """The flows/ files are inconsistent; the message names the file and key."""


@dataclass(frozen=True)
class StateSpec:
    """One [states.NAME] table of help-line.toml: every field but `name` is written there.

    Each field's note says what it does and which state types take it; docs/flows.md has
    the same as a table for district staff.
    """

    name: str
    """The NAME of [states.NAME], which transitions use to lead here (not a field)."""

    type: StateType
    """Every state, required: what the state does (see StateType, docs/flows.md)."""

    say: str
    """Every state, required: the prompt key (prompts/<lang>.toml) the state says. ask: the
    question; answer: the answer; send_text, callback: the confirmation; transfer: the words
    before connecting (by text, support's number); end: the goodbye; read_back: the prompt
    with the digits read back."""

    reprompt: str = ""
    """ask: the prompt used the second time the caller is not understood, options spelled
    out (default: `say` again)."""

    next: str = ""
    """answer, send_text, callback, read_back, call_code (required), and ask with `collect`
    (required: where a good answer leads): the state or @command that follows."""

    keys: dict[str, str] = field(default_factory=dict)
    """ask: keypad key (or number texted or spoken) -> state or @command, at this question."""

    on: dict[str, str] = field(default_factory=dict)
    """ask: intent -> state or @command, what an understood request leads to at this question
    (e.g. yes / no); it takes precedence over [intents]."""

    hints: tuple[str, ...] = ()
    """ask: words the speech recogniser should expect at this question, besides the top-level
    hints (a `collect` question uses only its own)."""

    offer_text: bool = False
    """answer: on a call, offer to text this answer after saying it (goes to [special]
    on_offer_text); its prompt needs an sms version. Also marks the answer a later send_text
    state without `text` may send."""

    reason: str = ""
    """transfer: the reason support agents see (default: why the help line gave up, or
    caller_asked)."""

    num_digits: int | None = None
    """ask: on a call, how many key presses make a whole answer (1 for a menu, 8 for a birth
    date), so the caller need not press #."""

    topic: str = ""
    """Every type but callback: the topic this state is about, for [labels], "text me" and the
    support agent (default: the state's own name, when it has a label)."""

    collect: Collect | Literal[""] = ""
    """ask: digits the engine checks instead of a choice: student_number, birth_date or code
    (then `next` and `fail` are required, and `retry` for code)."""

    text: str = ""
    """send_text: the prompt key to text (default: the last topic's answer, when that answer
    has offer_text)."""

    retry: str = ""
    """ask with collect = "code", required: where a wrong code leads."""

    fail: str = ""
    """ask with `collect`, required: where a failed check leads (wrong details, tries used up,
    a locked number). call_code, required: where a call that cannot be placed leads."""

    keep_unrecognised: bool = False
    """ask, not with `collect`: what callers ask here that the help line does not understand
    goes on the agents' statistics page (only where callers ask their own questions)."""

    keys_of: str = ""
    """ask, instead of `keys`: another ask state whose `keys` apply here (after an answer, a
    topic's number from the menu)."""

    also: str = ""
    """ask: the question asked instead of this one while the caller has a second request
    not yet answered ("You also mentioned ... Would you like help with that?"): it must
    lead to @pending on yes."""

    first_say: str = ""
    """ask: the short prompt said instead of `say` when this question opens a call (and when
    the caller switches language right then); `say`, the choices spelled out, is for a
    caller who asks for them again, is silent or is not understood."""

    more: str = ""
    """answer: the state with the rest of this answer, for a caller who asks for more
    (@more): the essentials are said first, the details on request."""

    say_no_text: str = ""
    """answer with offer_text: the prompt a call that can get no text (its number withheld)
    hears instead of `say`, with the addresses spoken; `say` offers the text first."""


# The fields a [states.NAME] table may have.
STATE_FIELDS = tuple(f.name for f in fields(StateSpec) if f.name != "name")


@dataclass(frozen=True)
class Flow:
    start: str
    states: dict[str, StateSpec]
    intents: dict[str, str]  # intent -> target, at every prompt
    keys: dict[str, str]  # keypad key -> target, at every prompt
    hints: tuple[str, ...]
    special: dict[str, str]  # engine hook -> state, see HOOKS
    prompts: dict[str, dict[str, dict[str, str]]]  # lang -> key -> channel -> text
    labels: dict[str, dict[str, str]]  # lang -> topic -> short label
    languages: tuple[str, ...]
    # Intents in the order they are answered when a caller names several at once.
    priority: tuple[str, ...] = ()
    # intent -> the intents its answer already covers (not offered again after it)
    covers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # intent -> requests that, made together, are that one request ("username and password")
    together: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def text(self, key: str, lang: str, channel: str) -> str:
        """The template for a prompt; SMS falls back to the voice wording when it has none."""
        entry = self.prompts[lang][key]
        return entry.get(channel) or entry["voice"]

    def label(self, topic: str, lang: str) -> str:
        return self.labels[lang].get(topic, "")


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise FlowError(f"{path}: file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise FlowError(f"{path}: not valid TOML ({exc})") from exc


def _str_map(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise FlowError(f"{where}: must be a table of names")
    return {str(k): v for k, v in value.items()}


# ---- one state ------------------------------------------------------------------------------


def _state(name: str, raw: dict[str, Any], where: str) -> StateSpec:
    kind = _state_type(raw, where)
    _check_next(kind, raw, where)
    _check_ask_fields(kind, raw, where)
    _check_collect(raw, where)
    return StateSpec(
        name=name,
        type=kind,
        say=raw["say"],
        reprompt=raw.get("reprompt", ""),
        next=raw.get("next", ""),
        keys=_str_map(raw.get("keys"), f"{where}.keys"),
        on=_str_map(raw.get("on"), f"{where}.on"),
        hints=tuple(raw.get("hints", ())),
        offer_text=bool(raw.get("offer_text", False)),
        reason=raw.get("reason", ""),
        num_digits=raw.get("num_digits"),
        topic=raw.get("topic", ""),
        collect=raw.get("collect", ""),
        text=raw.get("text", ""),
        retry=raw.get("retry", ""),
        fail=raw.get("fail", ""),
        keep_unrecognised=bool(raw.get("keep_unrecognised", False)),
        keys_of=raw.get("keys_of", ""),
        also=raw.get("also", ""),
        first_say=raw.get("first_say", ""),
        more=raw.get("more", ""),
        say_no_text=raw.get("say_no_text", ""),
    )


def _state_type(raw: dict[str, Any], where: str) -> StateType:
    """The fields are known, the type is one of STATE_TYPES, and there is something to say."""
    unknown = sorted(set(raw) - set(STATE_FIELDS))
    if unknown:
        raise FlowError(f"{where}: unknown field(s) {', '.join(unknown)}")
    kind = raw.get("type")
    if kind not in STATE_TYPES:
        raise FlowError(f"{where}.type: must be one of {', '.join(STATE_TYPES)}, got {kind!r}")
    if not isinstance(raw.get("say"), str) or not raw["say"]:
        raise FlowError(f"{where}.say: missing (the prompt key this state says)")
    return cast(StateType, kind)


def _check_next(kind: StateType, raw: dict[str, Any], where: str) -> None:
    """States that say something and go on must say where."""
    if kind in ("answer", "send_text", "callback") and not raw.get("next"):
        raise FlowError(f"{where}.next: an {kind} state must say which state follows it")
    if kind == "read_back" and not raw.get("next"):
        raise FlowError(f"{where}.next: a read_back state must say which state follows it")
    if kind == "call_code" and not (raw.get("next") and raw.get("fail")):
        raise FlowError(
            f"{where}: a call_code state must say where the code question goes on (next) and "
            "where a call that cannot be placed leads (fail)"
        )


def _check_ask_fields(kind: StateType, raw: dict[str, Any], where: str) -> None:
    """Only a question has answers to map."""
    if kind != "ask" and (raw.get("keys") or raw.get("on") or raw.get("collect")):
        raise FlowError(f"{where}: only ask states take keys, on or collect")
    if kind != "ask" and raw.get("first_say"):
        raise FlowError(f"{where}.first_say: only ask states take it")
    if kind != "answer" and (raw.get("more") or raw.get("say_no_text")):
        raise FlowError(f"{where}: only answer states take more or say_no_text")


def _check_collect(raw: dict[str, Any], where: str) -> None:
    """A question that collects digits says where each outcome of the check leads."""
    collect = raw.get("collect", "")
    if collect and collect not in COLLECTS:
        raise FlowError(f"{where}.collect: must be one of {', '.join(COLLECTS)}, got {collect!r}")
    if collect and not raw.get("next"):
        raise FlowError(f"{where}.next: a collect state must say where a good answer leads")
    if collect and not raw.get("fail"):
        raise FlowError(f"{where}.fail: a collect state must say where a failed check leads")
    if collect == "code" and not raw.get("retry"):
        raise FlowError(f"{where}.retry: a code question must say where a wrong code leads")


# ---- the files --------------------------------------------------------------------------------


def _prompts(path: Path) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    raw = _read(path)
    prompts: dict[str, dict[str, str]] = {}
    for key, entry in raw.get("prompts", {}).items():
        where = f"{path.name}: prompts.{key}"
        if isinstance(entry, str):
            entry = {"voice": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("voice"), str):
            raise FlowError(f'{where}: needs voice = "..." (and optionally sms = "...")')
        extra = sorted(set(entry) - set(CHANNELS))
        if extra:
            raise FlowError(f"{where}: unknown channel(s) {', '.join(extra)}")
        for channel, text in entry.items():
            try:
                names = {name for _, name, _, _ in string.Formatter().parse(text) if name}
            except ValueError as exc:
                raise FlowError(f"{where}.{channel}: bad braces ({exc})") from exc
            unknown = sorted(names - PLACEHOLDERS)
            if unknown:
                raise FlowError(
                    f"{where}.{channel}: unknown placeholder(s) {', '.join(unknown)}; "
                    f"known: {', '.join(sorted(PLACEHOLDERS))}"
                )
        prompts[key] = dict(entry)
    labels = _str_map(raw.get("labels"), f"{path.name}: labels")
    return prompts, labels


def load_flow(directory: Path, languages: tuple[str, ...] = ("en",)) -> Flow:
    """Read and validate flows/; raise FlowError naming the file and key of the first problem."""
    main_path = directory / "help-line.toml"
    raw = _read(main_path)
    name = main_path.name
    states = {
        key: _state(key, value, f"{name}: states.{key}")
        for key, value in raw.get("states", {}).items()
    }
    if not states:
        raise FlowError(f"{name}: no [states]")
    intents = _str_map(raw.get("intents"), f"{name}: intents")
    prompts: dict[str, dict[str, dict[str, str]]] = {}
    labels: dict[str, dict[str, str]] = {}
    for lang in languages:
        prompts[lang], labels[lang] = _prompts(directory / "prompts" / f"{lang}.toml")
    flow = Flow(
        start=raw.get("start", ""),
        states=states,
        intents=intents,
        keys=_str_map(raw.get("keys"), f"{name}: keys"),
        hints=tuple(raw.get("hints", ())),
        special=_special(raw.get("special"), f"{name}: special"),
        prompts=prompts,
        labels=labels,
        languages=languages,
        priority=_priority(raw.get("priority"), name),
        covers=_covers(raw.get("covers"), f"{name}: covers"),
        together=_covers(raw.get("together"), f"{name}: together"),
    )
    _check(flow, name)
    return flow


def _priority(value: Any, name: str) -> tuple[str, ...]:
    """`priority`: intents, in the order several requests are answered (their names are
    checked with the other intent names, voicebot.dialog.flows_check)."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise FlowError(f"{name}: priority: must be a list of intent names")
    return tuple(value)


def _covers(value: Any, where: str) -> dict[str, tuple[str, ...]]:
    """[covers] and [together]: intent -> intents (names checked like priority's)."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(v, list) and all(isinstance(i, str) for i in v) for v in value.values()
    ):
        raise FlowError(f"{where}: must be a table of intent = [other intents]")
    return {str(k): tuple(v) for k, v in value.items()}


def _special(value: Any, where: str) -> dict[str, str]:
    """[special]: hook -> state, every key one of HOOKS (a misspelt hook would be ignored)."""
    special = _str_map(value, where)
    for key in special:
        if key in HOOKS:
            continue
        if key in RENAMED_HOOKS:
            raise FlowError(
                f"{where}.{key}: renamed {RENAMED_HOOKS[key]} "
                "(the [special] hooks are named on_<event>)"
            )
        close = difflib.get_close_matches(key, HOOKS, n=1)
        maybe = f"did you mean {close[0]}? " if close else ""
        raise FlowError(
            f"{where}.{key}: not a hook the engine knows ({maybe}hooks: {', '.join(HOOKS)})"
        )
    return special


# ---- the whole flow ---------------------------------------------------------------------------


def _targets(flow: Flow, spec: StateSpec) -> list[tuple[str, str]]:
    """(where, target) for every transition out of a state."""
    out = []
    if spec.next:
        out.append((f"states.{spec.name}.next", spec.next))
    for field_name in ("retry", "fail"):
        if getattr(spec, field_name):
            out.append((f"states.{spec.name}.{field_name}", getattr(spec, field_name)))
    out += [(f"states.{spec.name}.keys.{k}", v) for k, v in spec.keys.items()]
    out += [(f"states.{spec.name}.on.{k}", v) for k, v in spec.on.items()]
    if spec.also:
        out.append((f"states.{spec.name}.also", spec.also))
    if spec.more:
        out.append((f"states.{spec.name}.more", spec.more))
    if spec.keys_of:
        out.append((f"states.{spec.name}.keys_of", spec.keys_of))
        keys = getattr(flow.states.get(spec.keys_of), "keys", {})
        out += [(f"states.{spec.keys_of}.keys.{k}", v) for k, v in keys.items()]
    return out


def _check(flow: Flow, name: str) -> None:
    """What no single state can check alone: that names between states, hooks, prompts,
    labels and languages agree, and that every state can be reached."""
    if flow.start not in flow.states:
        raise FlowError(f"{name}: start: unknown state {flow.start!r}")
    _check_keys_of(flow, name)
    _check_targets(flow, name)
    _check_hooks(flow, name)
    for lang in flow.languages:
        _check_prompts_used(flow, name, lang)
        _check_labels(flow, name, lang)
    _check_languages_agree(flow)
    unreachable = sorted(set(flow.states) - reachable(flow))
    if unreachable:
        raise FlowError(f"{name}: states.{unreachable[0]}: unreachable from start")
    _check_read_back_needs_verification(flow, name)
    _check_call_code(flow, name)


def _check_call_code(flow: Flow, name: str) -> None:
    """The code said in a call is entered at a code question: a call_code state goes on to
    one (the same code is pending there)."""
    for spec in flow.states.values():
        after = flow.states.get(spec.next)
        if spec.type == "call_code" and (after is None or after.collect != "code"):
            raise FlowError(
                f"{name}: states.{spec.name}.next: a call_code state must lead to a question "
                "that collects the code"
            )


def _check_keys_of(flow: Flow, name: str) -> None:
    """keys_of borrows the keys of a state that has keys of its own, and replaces keys."""
    for spec in flow.states.values():
        if spec.keys_of and spec.keys:
            raise FlowError(f"{name}: states.{spec.name}: keys and keys_of: choose one")
        owner = flow.states.get(spec.keys_of)
        if spec.keys_of and (owner is None or owner.keys_of):
            raise FlowError(
                f"{name}: states.{spec.name}.keys_of: {spec.keys_of!r} must be a state "
                "with keys of its own"
            )


def _check_targets(flow: Flow, name: str) -> None:
    """Every transition, in states and at top level, leads to a state or an @command."""
    edges: list[tuple[str, str]] = []
    for spec in flow.states.values():
        edges += _targets(flow, spec)
    edges += [(f"intents.{k}", v) for k, v in flow.intents.items()]
    edges += [(f"keys.{k}", v) for k, v in flow.keys.items()]
    edges += [(f"special.{k}", v) for k, v in flow.special.items()]
    for where, target in edges:
        if target not in flow.states and target not in COMMANDS:
            raise FlowError(f"{name}: {where}: unknown state {target!r}")


def _check_hooks(flow: Flow, name: str) -> None:
    """[special] names every hook the engine needs, and question hooks name questions."""
    hooks = SPECIAL_HOOKS + (VERIFY_HOOKS if _verifies(flow) else ())
    if "on_support_closed" in flow.special:
        hooks += ("on_closed_give_up",)
    for hook in hooks:
        if hook not in flow.special:
            raise FlowError(f"{name}: special.{hook}: missing (the engine needs it)")
    for hook in QUESTION_HOOKS:
        target = flow.states.get(flow.special.get(hook, ""))
        if target is not None and target.type != "ask":
            raise FlowError(
                f"{name}: special.{hook}: {target.name!r} must be a question (type ask)"
            )


def _check_prompts_used(flow: Flow, name: str, lang: str) -> None:
    """Every prompt key a state or the engine uses exists in this language, with a text
    version where a state offers to text it."""
    keys_used = {f"states.{s.name}.say": s.say for s in flow.states.values()}
    keys_used |= {f"states.{s.name}.reprompt": s.reprompt for s in flow.states.values()}
    keys_used |= {f"states.{s.name}.first_say": s.first_say for s in flow.states.values()}
    keys_used |= {f"states.{s.name}.say_no_text": s.say_no_text for s in flow.states.values()}
    keys_used |= {f"engine.{k}": k for k in REQUIRED_PROMPTS}
    if _verifies(flow):
        keys_used |= {f"engine.{k}": k for k in VERIFY_PROMPTS}
    file = f"prompts/{lang}.toml"
    for where, key in keys_used.items():
        if key and key not in flow.prompts[lang]:
            raise FlowError(f"{file}: prompts.{key}: missing (used by {name} {where})")
    for spec in flow.states.values():
        if spec.text and spec.text not in flow.prompts[lang]:
            raise FlowError(f"{file}: prompts.{spec.text}: missing (states.{spec.name}.text)")
        if spec.offer_text and "sms" not in flow.prompts[lang][spec.say]:
            raise FlowError(
                f"{file}: prompts.{spec.say}.sms: missing (states.{spec.name} offers "
                f"to text it, so it needs a text version)"
            )


def _check_labels(flow: Flow, name: str, lang: str) -> None:
    """Every answer an intent leads to has a short label in this language."""
    for intent, target in flow.intents.items():
        spec = flow.states.get(target)
        if spec and spec.type == "answer" and target not in flow.labels[lang]:
            raise FlowError(
                f"prompts/{lang}.toml: labels.{target}: missing (intents.{intent} leads "
                f"there; the label names the topic when confirming and for the support agent)"
            )


def _check_languages_agree(flow: Flow) -> None:
    """Every language has the same prompt keys as the first."""
    for other in flow.languages[1:]:
        missing = sorted(set(flow.prompts[flow.languages[0]]) - set(flow.prompts[other]))
        if missing:
            raise FlowError(f"prompts/{other}.toml: prompts.{missing[0]}: missing")
        extra = sorted(set(flow.prompts[other]) - set(flow.prompts[flow.languages[0]]))
        if extra:
            raise FlowError(
                f"prompts/{other}.toml: prompts.{extra[0]}: not in prompts/{flow.languages[0]}.toml"
            )


def _check_read_back_needs_verification(flow: Flow, name: str) -> None:
    """Prove over the graph that digits are only read back after a code was checked.

    Every edge into a read_back state must be the success edge of a code question; remove
    those edges and no read_back state may remain reachable by any other way.
    """
    verified_edges = {
        (spec.name, spec.next) for spec in flow.states.values() if spec.collect == "code"
    }
    for spec in flow.states.values():
        if spec.type == "read_back" and (spec.collect or spec.offer_text):
            raise FlowError(f"{name}: states.{spec.name}: a read_back state cannot collect or text")
        if spec.keep_unrecognised and (spec.collect or spec.type == "read_back"):
            raise FlowError(
                f"{name}: states.{spec.name}: keep_unrecognised where callers give their "
                f"child's details: what they say there must never be kept"
            )
    read_backs = {n for n, spec in flow.states.items() if spec.type == "read_back"}
    if not read_backs:
        return
    bad_targets = read_backs & (
        set(flow.intents.values()) | set(flow.keys.values()) | set(flow.special.values())
    )
    if bad_targets:
        raise FlowError(
            f"{name}: states.{sorted(bad_targets)[0]}: a read_back state can only be reached "
            f"through a verified code, not from [intents], [keys] or [special]"
        )
    seen, queue = {flow.start}, deque([flow.start])
    while queue:
        here = queue.popleft()
        for target in successors(flow, here):
            if (here, target) in verified_edges or target in seen:
                continue
            if target in read_backs:
                raise FlowError(
                    f"{name}: states.{here}: leads to read_back state {target!r} without "
                    f"a verified code (only a code question's next may lead there)"
                )
            seen.add(target)
            queue.append(target)


def successors(flow: Flow, state: str) -> set[str]:
    """Every state the dialog can move to from `state` in one turn."""
    spec = flow.states[state]
    out = {target for _, target in _targets(flow, spec)}
    if spec.type == "ask":
        out |= set(flow.intents.values()) | set(flow.keys.values()) | set(flow.special.values())
    if spec.type == "transfer":
        out |= {flow.special["on_dial_failed"], flow.special["on_dial_completed"]}
    if state == flow.special["on_dial_failed"]:
        out.add(flow.special["on_unanswered"])
        out.add(flow.special.get("on_support_closed", spec.name))
        out.add(flow.special.get("on_closed_give_up", spec.name))
    if spec.collect:
        out.add(flow.special.get("on_verify_timeout", spec.name))
        if spec.collect == "code":
            out.add(flow.special.get("on_no_last4", spec.name))
    return {target for target in out if target in flow.states}


def reachable(flow: Flow) -> set[str]:
    seen = {flow.start}
    queue = deque([flow.start])
    while queue:
        for target in successors(flow, queue.popleft()):
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


def mermaid(flow: Flow) -> str:
    """The state machine as a Mermaid diagram, for `voicebot flows graph`."""
    lines = ["stateDiagram-v2", f"    [*] --> {flow.start}"]
    for spec in flow.states.values():
        for where, target in _targets(flow, spec):
            if target in flow.states:
                label = where.rsplit(".", 2)
                how = label[-1] if label[-2] != spec.name else ""
                lines.append(f"    {spec.name} --> {target}" + (f": {how}" if how else ""))
    # Transitions open at every question hang off one pseudo-state, to keep the drawing legible.
    lines.append("    state any_question <<choice>>")
    for intent, target in sorted(flow.intents.items()):
        if target in flow.states:
            lines.append(f"    any_question --> {target}: says {intent}")
    for key, target in sorted(flow.keys.items()):
        if target in flow.states:
            lines.append(f"    any_question --> {target}: presses {key}")
    for spec in flow.states.values():
        if spec.type == "end":
            lines.append(f"    {spec.name} --> [*]")
    return "\n".join(lines) + "\n"


def _verifies(flow: Flow) -> bool:
    return any(spec.collect for spec in flow.states.values())
