"""The dialog engine: (state, event) -> (actions, new state), driven by the flow data.

Pure on purpose: no Flask, Twilio, Redis or SQL here, so every conversation can be tested
as a plain function call and the channels stay thin translators.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from voicebot.dialog.dates import date_readings, date_within, is_keyed_date, mentions_month
from voicebot.dialog.flow import Flow, StateSpec
from voicebot.dialog.model import (
    Action,
    Ask,
    End,
    Event,
    RequestCallback,
    Say,
    SendText,
    State,
    Transfer,
    Turn,
)
from voicebot.dialog.normalize import (
    is_greeting,
    is_unsure,
    number_within,
    plain_words,
    several_numbers,
    spoken_digits,
)

MAX_CHAIN = 12  # states entered in one turn; flows check guarantees chains end sooner


class Match(Protocol):
    intent: str
    score: float
    language: str | None


class Classifier(Protocol):
    def classify(
        self, text: str, expected: Collection[str] = (), allowed: Collection[str] | None = None
    ) -> Match: ...

    def knows(self, word: str) -> bool: ...


class Disclosed(Protocol):
    first_name: str
    last4: str


class Verifier(Protocol):
    """Student records and one-time codes, behind the smallest interface the dialog needs."""

    def request_code(
        self,
        conversation: str,
        student_number: str,
        birth_date: str,
        caller: str | None,
        channel: str,
        stir: str | None,
        message: str | None = None,
    ) -> None: ...

    def check_code(
        self,
        conversation: str,
        code: str,
        caller: str | None,
        channel: str,
        call_id: str,
        stir: str | None,
    ) -> tuple[Any, Disclosed | None]: ...

    def is_locked(self, caller: str | None) -> bool: ...


# How long a collected answer may be, by what is collected.
DIGIT_LENGTHS = {"student_number": (4, 12), "birth_date": (8, 8), "code": (6, 6)}


@dataclass
class _Reply:
    """Collects one turn's actions and remembers what was said, for "repeat"."""

    actions: list[Action] = field(default_factory=list)
    said: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Dialog:
    flow: Flow
    classifier: Classifier
    facts: dict[str, dict[str, dict[str, str]]]  # channel -> language -> placeholder -> text
    max_retries: int = 2
    confirm_below: float = 0.5
    speech_confidence_floor: float = 0.3
    transcript_limit: int = 8
    verifier: Verifier | None = None
    verify_timeout: float = 120.0  # a verification question unanswered this long starts over

    # ---- entry point -------------------------------------------------------------------

    def step(self, state: State | None, event: Event) -> Turn:
        first = state is None
        if state is None or event.kind == "start":
            state = State(step=self.flow.start, lang=self.flow.languages[0])
            if event.kind == "start" or event.channel == "voice":
                return self.enter(state, event, self.flow.start, intent="start")
            # A first text is both the start and a question: answer it when we understand it.
            state.step = self.flow.special["on_home"]
        state = replace(state, topics=list(state.topics), replay=list(state.replay))
        state.turn += 1
        if event.kind == "silence":
            return self._retry(state, event, "no_input")
        if event.kind == "dial_result":
            return self._dial_result(state, event)
        return self._answer(state, event, first)

    # ---- the caller said or pressed something -----------------------------------------

    def _answer(self, state: State, event: Event, first: bool) -> Turn:
        current = self._question(state, event.channel)
        if current.collect and state.step == current.name:
            collected = self._collect(current, state, event)
            if collected is not None:
                return collected
        target, intent, weak = self._resolve(current, state, event, first)
        if target is None:
            if first:  # "hi": greet and show the menu rather than apologise
                return self.enter(state, event, self.flow.start, intent=intent)
            return self._retry(state, event, "no_match", intent=intent)
        if (
            target == state.step == current.name
            and current.type == "ask"
            and target != self.flow.special["on_home"]
        ):
            # "I can't log in" again at "username, password or locked?": not an answer, so
            # it escalates like one (options spelled out, then a person) instead of looping.
            return self._retry(state, event, "no_match", intent=intent)
        state.no_input = state.no_match = 0
        if target == "@repeat":
            return self._repeat(state, event, intent)
        if target == "@wait":
            return self._wait(state, event, intent)
        if target in ("@spanish", "@english"):
            return self._switch_language(state, event, target, intent)
        if target == "@pending":
            target, state.pending = state.pending or self.flow.special["on_home"], ""
        elif weak and self.flow.label(target, state.lang):
            state.pending = target
            return self.enter(state, event, self.flow.special["on_unclear"], intent=intent)
        state.pending = ""
        return self.enter(state, event, target, intent=intent)

    def _resolve(
        self, current: StateSpec, state: State, event: Event, first: bool = False
    ) -> tuple[str | None, str, bool]:
        """What the caller chose: (target state or command, intent name, weakly understood).

        A request in Spanish switches the conversation to Spanish when it is understood, or
        when it is a first text that says hello ("hola" is greeted in Spanish)."""
        digits = event.digits.strip()
        text = event.text.strip()
        if not digits and text:
            spoken = spoken_digits(text)
            if spoken and len(spoken) == 1:
                digits = spoken
        if digits:
            # After an answer a caller who remembers the menu presses a topic's number
            # (and a texter replies with one from the list just read).
            keys = self.flow.states[current.keys_of].keys if current.keys_of else current.keys
            target = keys.get(digits) or self.flow.keys.get(digits)
            # Long digit strings may be secrets (student numbers, codes): never name them.
            return target, f"key {digits}" if len(digits) <= 2 else "digits", False
        if not text:
            return None, "unknown", False
        home = self.flow.special["on_home"]
        if is_unsure(text):
            # "I don't know": the menu to choose from, except where it answers the question
            # itself ("the birth date?" "I don't know"): not understood, so the options,
            # with a person among them, and then a person.
            return (None if state.step == home or current.collect else home), "unsure", False
        # At a verification question what is said is about it ("the code didn't come" is
        # the texted code there); elsewhere a "no thanks, and ..." must keep its request.
        match = self.classifier.classify(
            text, expected=tuple(current.on) if current.collect else ()
        )
        target = self._target(current, match.intent)
        if target == "@next":
            # A reading that means something only where a question expects it ("the code
            # didn't come" away from the code question): the best request that means
            # something here. This question's own answers only when clear: a weak "yes"
            # or "no" read into "I didn't get the text" would hang up or send a text.
            allowed = {i for i, t in self.flow.intents.items() if t != "@next"} | set(current.on)
            match = self.classifier.classify(text, expected=tuple(current.on), allowed=allowed)
            target = self._target(current, match.intent)
            if match.intent in current.on and match.score < self.confirm_below:
                target = None
        greeting = (first or state.step == home) and is_greeting(text)
        if (
            (target or (first and greeting))
            and match.intent not in current.on
            and match.language in self.flow.languages
            and (
                state.lang == self.flow.languages[0] or (event.channel == "sms" and state.turn <= 2)
            )
        ):
            # A request in Spanish, said or texted, is answered in Spanish from now on (the
            # agent hears "Language: Spanish" too); the second text may still change it
            # ("hola", then a question in English), but a caller who chose Spanish keeps
            # it. A bare answer to the question asked ("sí" to "Would you like a text?")
            # is no request and changes nothing.
            state.lang = match.language
        if greeting:  # "good evening" on its own is a hello, not a topic to guess
            # A first text is greeted; "hola" at the menu switches to Spanish; any other
            # hello is not an answer, so the menu is asked again and a caller who keeps
            # saying "hello?" (a bad line) still reaches a person.
            spanish = match.language == "es" != state.lang and "es" in self.flow.languages
            return ("@spanish" if spanish and not first else None), "greeting", False
        weak = match.score < self.confirm_below or (
            event.confidence is not None and event.confidence < self.speech_confidence_floor
        )
        return target, match.intent, weak

    def _target(self, current: StateSpec, intent: str) -> str | None:
        """Where an intent leads at this question: its own answers first, then the flow's."""
        return current.on.get(intent) or self.flow.intents.get(intent)

    # ---- verification -----------------------------------------------------------------

    def _collect(self, spec: StateSpec, state: State, event: Event) -> Turn | None:
        """A number the caller keyed or said at a verification question.

        None means "not a number": the caller may still ask for a person, repeat, and so on.
        Wrong, unknown and locked all look the same to the caller.
        """
        if state.asked_at and event.now - state.asked_at > self.verify_timeout:
            state.student = ""
            reply = _Reply()
            self._say(reply, "verify_restart", state, event)
            self._enter(state, event, self.flow.special["on_verify_timeout"], reply)
            return Turn(tuple(reply.actions), state, intent="verify_timeout")
        number = event.digits.strip() or (spoken_digits(event.text) or "")
        if spec.collect == "birth_date" and event.text and not event.digits.strip():
            # "March 14th, 2015", "3/14/2015", "14 de marzo": a misread date would cost the
            # parent one of their few tries, so a date that reads two ways is asked again,
            # saying why and how to say it so it reads one way.
            readings = date_readings(event.text, month_first=state.lang == "en")
            if len(readings) > 1:
                return self._retry(state, event, "no_match", "digits", sorry="date_two_ways")
            if not readings and not number:  # "DOB 03142015": the keypad's eight digits
                number = number_within(event.text, 8, 8) or ""
            written = any(c.isdigit() for c in event.text) and not number
            if not readings and (mentions_month(event.text) or written):
                # "march 14", "3/14/15": a date, most often without its four-digit year
                return self._retry(state, event, "no_match", "digits", sorry="date_whole")
            number = readings.pop() if readings else number
        low, high = DIGIT_LENGTHS[spec.collect]
        one_answer = bool(number) and low <= len(number) <= high
        if event.text and spec.collect == "student_number":
            both = (
                None if one_answer else _student_and_date(event.text, state.lang == "en", low, high)
            )
            after = self.flow.states.get(spec.next)
            if both and after is not None and after.collect == "birth_date":
                state.student = both[0]
                state.no_input = state.no_match = 0
                return self._collect(after, state, replace(event, text="", digits=both[1]))
            if several_numbers(plain_words(event.text)):
                # "678-555-1212", "1234567 and 2345678": a phone number, or which one?
                return self._retry(state, event, "no_match", intent="digits")
        if not number and event.text and spec.collect != "birth_date":
            if date_readings(event.text, month_first=True) or date_readings(
                event.text, month_first=False
            ):
                # A birth date said one question early ("march 14 2015", "DOB 3/14/2015"
                # for the student number): not this answer, never kept as one, and no
                # topic ("march" is not a request).
                return self._retry(state, event, "no_match", intent="digits")
            number = number_within(event.text, low, high) or ""
        if not number or (len(number) == 1 and number in self.flow.keys):
            return None  # "0", "*", or words: handled like at any other question
        if spec.collect == "birth_date" and 5 <= len(number) <= 7:
            # "3/14/15", "031415": most often the year in two digits
            return self._retry(state, event, "no_match", "digits", sorry="date_whole")
        if not (number.isdigit() and low <= len(number) <= high):
            return self._retry(state, event, "no_match", intent="digits")
        if spec.collect == "birth_date" and not is_keyed_date(number):
            return self._retry(state, event, "no_match", intent="digits")
        state.no_input = state.no_match = 0
        verifier = self._verifier()
        if spec.collect == "student_number":
            state.student = number
            return self.enter(state, event, spec.next, intent="digits")
        if spec.collect == "birth_date":
            verifier.request_code(
                event.conversation,
                state.student,
                number,
                event.caller,
                event.channel,
                event.stir,
                message=self.prompt("code_text", state.lang, "sms", code="{code}"),
            )
            state.student = ""
            state.verification = "code_texted"
            return self.enter(state, event, spec.next, intent="digits")
        result, disclosed = verifier.check_code(
            event.conversation, number, event.caller, event.channel, event.request_id, event.stir
        )
        if getattr(result, "name", "") == "OK" and disclosed is not None:
            state.verified = True
            state.verification = "read_back"
            return self.enter(state, event, spec.next, intent="verified", disclosed=disclosed)
        if getattr(result, "name", "") == "OK":  # verified, but no last four on file
            state.verified = True
            state.verification = "no_number"
            target = self.flow.special.get("on_no_last4", spec.fail)
            return self.enter(state, event, target, intent="verified")
        wrong = getattr(result, "name", "") == "WRONG"
        state.verification = "code_wrong" if wrong else "refused"
        target = spec.retry if wrong else spec.fail
        return self.enter(
            state, event, target, intent="code_" + getattr(result, "name", "").lower()
        )

    def _verifier(self) -> Verifier:
        if self.verifier is None:
            raise RuntimeError("this flow verifies callers but no verifier was configured")
        return self.verifier

    def _texted_transfer(self, state: State, channel: str) -> StateSpec | None:
        """The transfer the last turn texted ("call support at ..."), if it was one."""
        spec = self.flow.states.get(state.step)
        return spec if spec is not None and spec.type == "transfer" and channel == "sms" else None

    def _question(self, state: State, channel: str) -> StateSpec:
        """The question the caller is answering: home when the last turn asked none, and
        after a transfer by text ("call support at ...") the after-transfer question when
        the flow names one, so "thanks" there says goodbye rather than listing topics. (A
        call's transfer is followed by the dial's result, never by a question.)"""
        after = self.flow.special.get("on_after_transfer")
        if after and self._texted_transfer(state, channel):
            return self.flow.states[after]
        spec = self.flow.states.get(state.step)
        if spec is None or spec.type != "ask":
            spec = self.flow.states[self.flow.special["on_home"]]
        return spec

    # ---- recovery ---------------------------------------------------------------------

    def _retry(
        self, state: State, event: Event, why: str, intent: str = "", sorry: str = ""
    ) -> Turn:
        """Re-ask, worded differently the second time; then a person takes over. ``sorry``:
        an apology that says what was wrong (a date without its year), instead of the
        plain "I didn't catch that"."""
        count = (state.no_input if why == "no_input" else state.no_match) + 1
        if why == "no_input":
            state.no_input = count
        else:
            state.no_match = count
        if count > self.max_retries:
            state.transfer_reason = "no_input" if why == "no_input" else "not_understood"
            if state.step == self.flow.special["on_dial_failed"]:
                # Support just did not answer: ringing again would loop; say goodbye instead.
                return self.enter(state, event, self.flow.special["on_unanswered"], intent=intent)
            return self.enter(state, event, self.flow.special["on_give_up"], intent=intent)
        question = self._question(state, event.channel)
        reply = _Reply()
        sorry = sorry or (f"sorry_{why}" if count == 1 else f"sorry_{why}_again")
        reply.actions.append(Say(self._text(sorry, state, event), key=sorry))
        prompt = question.say if count == 1 else (question.reprompt or question.say)
        reply.actions.append(self._ask(question, prompt, state, event))
        state.step = question.name
        return Turn(tuple(reply.actions), state, intent=intent or why)

    def _repeat(self, state: State, event: Event, intent: str) -> Turn:
        question = self._question(state, event.channel)
        replay = list(state.replay)
        topic = self.flow.states.get(state.topic)
        if (
            not replay
            and topic is not None
            and topic.type == "answer"
            and topic.next == question.name
        ):
            # The question after an answer ("Anything else?"), asked on its own once the
            # caller declined the text: "repeat" there means the answer they just heard.
            replay = [topic.say]
        actions: list[Action] = [Say(self._text(key, state, event), key=key) for key in replay]
        actions.append(self._ask(question, question.say, state, event))
        state.step = question.name
        return Turn(tuple(actions), state, intent=intent)

    def _wait(self, state: State, event: Event, intent: str) -> Turn:
        """ "Hang on, let me find it": the same question, with time to find the answer; not
        a miss, so a parent fetching a student number is not led towards a person."""
        question = self._question(state, event.channel)
        reply: list[Action] = [
            Say(self._text("take_your_time", state, event), key="take_your_time")
        ]
        reply.append(replace(self._ask(question, question.say, state, event), patient=True))
        state.step = question.name
        if question.collect:
            state.asked_at = event.now  # the two minutes to answer start again
        return Turn(tuple(reply), state, intent=intent)

    def _switch_language(self, state: State, event: Event, command: str, intent: str) -> Turn:
        lang = "es" if command == "@spanish" else "en"
        if lang not in self.flow.languages:
            return self._retry(state, event, "no_match", intent=intent)
        state.lang = lang
        actions: list[Action] = []
        spec = self._texted_transfer(state, event.channel)
        if spec is not None:
            # "español" right after AGENT: how to reach a person again, in Spanish (said,
            # not a second transfer: the agents already have this conversation's handoff)
            actions.append(Say(self._text(spec.say, state, event), key=spec.say))
        question = self._question(state, event.channel)
        state.step = question.name
        actions.append(self._ask(question, question.say, state, event))
        return Turn(tuple(actions), state, intent=intent)

    def _dial_result(self, state: State, event: Event) -> Turn:
        spec = self.flow.states.get(state.step)
        if spec is None or spec.type != "transfer":
            return self._repeat(state, event, "dial_result")  # a result with no dial: ignore it
        ok = event.dial_status in ("completed", "answered")
        # A withheld number can have no call back and no text: support's number, goodbye.
        failed = "on_dial_failed" if event.caller is not None else "on_unanswered"
        hook = "on_dial_completed" if ok else failed
        return self.enter(state, event, self.flow.special[hook], intent=f"dial {event.dial_status}")

    # ---- entering states --------------------------------------------------------------

    def enter(
        self,
        state: State,
        event: Event,
        target: str,
        intent: str = "",
        disclosed: Disclosed | None = None,
    ) -> Turn:
        """Go to a state and say what it says (also how tests reach every reply)."""
        reply = _Reply()
        self._enter(state, event, target, reply, disclosed=disclosed)
        state.replay = reply.said[-self.transcript_limit :]
        return Turn(tuple(reply.actions), state, intent=intent)

    def _enter(
        self,
        state: State,
        event: Event,
        name: str,
        reply: _Reply,
        disclosed: Disclosed | None = None,
    ) -> None:
        came_from = state.step
        for _ in range(MAX_CHAIN):
            spec = self.flow.states[name]
            if spec.collect == "student_number" and self._verifier().is_locked(event.caller):
                name = spec.fail  # this number is locked out: offer a person straight away
                state.verification = "refused"
                continue
            state.step = name
            if spec.type != "callback" and (self.flow.label(name, state.lang) or spec.topic):
                # (a callback keeps the topic it is about, for the agent who calls back)
                state.topic = spec.topic or name
                if not state.topics or state.topics[-1] != state.topic:
                    state.topics = (state.topics + [state.topic])[-self.transcript_limit :]
            if spec.type == "ask":
                state.asked_at = event.now if spec.collect else 0.0
                reply.actions.append(self._ask(spec, spec.say, state, event))
                return
            if spec.type == "read_back":
                if disclosed is None:  # flows check makes this unreachable; fail closed anyway
                    raise RuntimeError(f"{name}: read back without a verified code")
                text = self.prompt(
                    spec.say, state.lang, event.channel, **_disclosure(disclosed, event.channel)
                )
                reply.actions.append(Say(text, key=spec.say))
                # Never kept for "repeat": that says why instead (a new code, a new reading).
                reply.said.append("read_back_once")
                name = spec.next
                continue
            closed = self.flow.special.get("on_support_closed")
            if (
                spec.type == "transfer"
                and event.support_open is False
                and event.channel == "voice"
                and closed
            ):
                # Nobody would answer: say when support is open instead; a caller already
                # told that (and still not understood) is wished goodbye, not looped.
                told = came_from == closed or event.caller is None  # (no call back to offer)
                name = self.flow.special["on_closed_give_up"] if told else closed
                continue
            if spec.type == "transfer":
                state.no_input = state.no_match = 0  # a fresh start after the transfer
                reason = spec.reason or state.transfer_reason or "caller_asked"
                state.transfer_reason = reason
                text = self._text(spec.say, state, event)
                reply.actions.append(Transfer(text, reason=reason, topic=state.topic))
                return
            if spec.type == "end":
                reply.actions.append(End(self._text(spec.say, state, event)))
                return
            if spec.type == "send_text":
                topic = self.flow.states.get(state.topic)
                key = spec.text or (topic.say if topic and topic.offer_text else "")
                if not key:  # "text me that" before any answer worth texting: which topic?
                    name = self.flow.special["on_home"]
                elif event.channel == "sms" and not spec.text:  # the topic's text, again
                    self._say(reply, key, state, event)
                    name = spec.next
                elif event.caller is None:
                    self._say(reply, "text_unavailable", state, event)
                    name = spec.next
                else:
                    body = self.prompt(key, state.lang, "sms")
                    reply.actions.append(SendText(body, topic=state.topic))
                    self._say(reply, spec.say, state, event)
                    name = spec.next
                continue
            if spec.type == "callback":
                if event.caller is None:
                    self._say(reply, "callback_unavailable", state, event)
                else:
                    reply.actions.append(RequestCallback(topic=state.topic))
                    self._say(reply, spec.say, state, event)
                name = spec.next
                continue
            self._say(reply, spec.say, state, event)  # an answer
            # no offer to a withheld number: there is nowhere to send the text
            offer = spec.offer_text and event.channel == "voice" and event.caller is not None
            name = self.flow.special["on_offer_text"] if offer else spec.next
        raise RuntimeError(f"flow loops without asking anything, at {name!r}")

    # ---- words ------------------------------------------------------------------------

    def _say(self, reply: _Reply, key: str, state: State, event: Event) -> None:
        reply.actions.append(Say(self._text(key, state, event), key=key))
        reply.said.append(key)

    def _ask(self, spec: StateSpec, key: str, state: State, event: Event) -> Ask:
        hints = spec.hints if spec.collect else spec.hints + self.flow.hints
        return Ask(
            self._text(key, state, event),
            key=key,
            hints=hints,
            num_digits=spec.num_digits,
            digits=bool(spec.collect),
        )

    def _text(self, key: str, state: State, event: Event) -> str:
        topic = self.flow.label(state.pending, state.lang) if state.pending else ""
        status = ""
        template = self.flow.text(key, state.lang, event.channel)
        if "{support_status}" in template and event.support_open is not None:
            which = "support_open_now" if event.support_open else "support_closed_now"
            status = self.prompt(which, state.lang, event.channel)
        return self.prompt(key, state.lang, event.channel, topic=topic, support_status=status)

    def prompt(self, key: str, lang: str, channel: str, **values: str) -> str:
        """A prompt with the district's facts filled in, as the channel writes them."""
        template = self.flow.text(key, lang, channel)
        fill = {"topic": "", "first_name": "", "last4": "", "support_status": "", "code": ""}
        fill |= self.facts[channel][lang] | values
        return template.format(**fill).strip()  # an empty {support_status} at the end


def _disclosure(disclosed: Disclosed, channel: str) -> dict[str, str]:
    """The last four digits, one by one on a call so they are heard as digits."""
    last4 = "".join(ch for ch in disclosed.last4 if ch.isdigit())[-4:]
    spoken = ", ".join(last4) if channel == "voice" else last4
    return {"first_name": disclosed.first_name, "last4": spoken}


def _student_and_date(text: str, month_first: bool, low: int, high: int) -> tuple[str, str] | None:
    """Both verification answers in one ("her student # is 1234567 and bday is 3/14/2015",
    "1234567 03142015"): the student number and the birth date, MMDDYYYY; None unless each
    reads one way."""
    within = date_within(text, month_first)
    if within is None or not within[1]:
        return None
    birth_date, rest = within
    if several_numbers(rest.split()):
        return None  # a phone number, two numbers: which one? Ask, do not spend a try
    student = spoken_digits(rest) or number_within(rest, low, high) or ""
    return (student, birth_date) if low <= len(student) <= high else None
