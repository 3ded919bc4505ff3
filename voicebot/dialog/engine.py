"""The dialog engine: (state, event) -> (actions, new state), driven by the flow data.

Pure on purpose: no Flask, Twilio, Redis or SQL here, so every conversation can be tested
as a plain function call and the channels stay thin translators. One handler per state
type (``_enter_<type>``) and per collected slot (``_took_<slot>``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import ClassVar, Protocol

from voicebot.dialog.flow import Flow, StateSpec
from voicebot.dialog.languages import unmark
from voicebot.dialog.model import (
    Action,
    Ask,
    CallResult,
    CodeResult,
    End,
    Event,
    RequestCallback,
    Say,
    SendText,
    State,
    Transfer,
    Turn,
)
from voicebot.dialog.slots import Reading, read
from voicebot.dialog.understanding import Choice, Classifier, Context, Thresholds, choose

MAX_CHAIN = 12  # states entered in one turn; flows check guarantees chains end sooner
_HELLO = "hello_reply"  # the short question a hello at the main menu gets


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
    ) -> tuple[CodeResult, Disclosed | None]: ...

    def is_locked(self, caller: str | None) -> bool: ...

    def call_code(
        self,
        conversation: str,
        caller: str | None,
        channel: str,
        stir: str | None,
        message: str,
        lang: str,
    ) -> CallResult: ...


@dataclass
class _Reply:
    """Collects one turn's actions and remembers what was said, for "repeat"."""

    actions: list[Action] = field(default_factory=list)
    said: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Entry:
    """What entering states in one turn needs beyond the state: where the turn began, and
    the verified disclosure a read-back may say."""

    came_from: str
    disclosed: Disclosed | None = None


# A state handler says what its state says and returns the next state to enter, or None
# when the turn ends there (a question, a transfer, the end).
_Handler = Callable[["Dialog", StateSpec, State, Event, _Reply, _Entry], str | None]


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
            if self._awaiting_code(state, event):
                return self._keep_waiting(state, event)
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
        choice = self.understand(current, state, event, first)
        if choice.intent == "text_missing" and event.code_undelivered:
            # "I never got it" when a code text is known not to have arrived: the other way
            # straight away, where this question says so (docs/security.md: the leak).
            undelivered = current.on.get("text_undelivered")
            choice = replace(choice, target=undelivered or choice.target)
        if choice.language:
            state.lang = choice.language
        target, intent = choice.target, choice.intent
        if target is None:
            if first:  # "hi": greet and show the menu rather than apologise
                return self.enter(state, event, self.flow.start, intent=intent)
            hello = self._hello(state, event, intent) if intent == "greeting" else None
            if hello is not None:
                return hello
            # "7" where there is no 7: said so, then the choices
            wrong_key = intent.startswith("key ") and not current.collect
            sorry = "sorry_not_a_choice" if wrong_key else ""
            return self._retry(state, event, "no_match", intent=intent, sorry=sorry)
        if target == state.step == current.name and target != self.flow.special["on_home"]:
            # "I can't log in" again at "username, password or locked?": not an answer, so
            # it escalates like one (options spelled out, then a person) instead of looping.
            return self._retry(state, event, "no_match", intent=intent)
        state.no_input = state.no_match = 0
        command = self._COMMANDS.get(target)
        if command is not None:
            return command(self, state, event, target, intent)
        return self._go(state, event, choice)

    def understand(self, current: StateSpec, state: State, event: Event, first: bool) -> Choice:
        """The caller's choice at `current` (see voicebot.dialog.understanding.choose)."""
        context = Context(
            question=current,
            step=state.step,
            lang=state.lang,
            channel=event.channel,
            first=first,
            turn=state.turn,
            confidence=event.confidence,
        )
        limits = Thresholds(self.confirm_below, self.speech_confidence_floor)
        return choose(self.flow, self.classifier, context, event.text, event.digits, limits)

    def _go(self, state: State, event: Event, choice: Choice) -> Turn:
        """To the state the caller chose; a weakly understood topic is confirmed first."""
        target = choice.target or self.flow.special["on_home"]
        if self.flow.label(target, state.lang):  # a request: its own second one, or none
            state.also = choice.also if choice.also != target else ""
        if target == "@pending":
            target, state.pending = state.pending or self.flow.special["on_home"], ""
        elif choice.weak and self.flow.label(target, state.lang):
            state.pending = target
            return self.enter(state, event, self.flow.special["on_unclear"], intent=choice.intent)
        state.pending = ""
        return self.enter(state, event, target, intent=choice.intent)

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

    def _texted_transfer(self, state: State, channel: str) -> StateSpec | None:
        """The transfer the last turn texted ("call support at ..."), if it was one."""
        spec = self.flow.states.get(state.step)
        return spec if spec is not None and spec.type == "transfer" and channel == "sms" else None

    # ---- verification: one handler per collected slot ---------------------------------

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
        month_first = state.lang == "en"
        keys = self.flow.keys.keys() | spec.keys.keys()  # "1": this question's own choice
        reading = read(spec.collect, event.text, event.digits, month_first, keys)
        if reading.student:
            after = self.flow.states.get(spec.next)
            if after is None or after.collect != "birth_date":
                reading = Reading(sorry="sorry_no_match")
            elif reading.value:
                state.student = reading.student
                state.no_input = state.no_match = 0
                return self._took_birth_date(after, state, event, reading.value)
        if reading.sorry:
            sorry = "" if reading.sorry == "sorry_no_match" else reading.sorry
            return self._retry(state, event, "no_match", "digits", sorry=sorry)
        if reading.words:
            return None
        state.no_input = state.no_match = 0
        return self._TAKE[spec.collect](self, spec, state, event, reading.value)

    def _took_student_number(
        self, spec: StateSpec, state: State, event: Event, number: str
    ) -> Turn:
        state.student = number
        return self.enter(state, event, spec.next, intent="digits")

    def _took_birth_date(self, spec: StateSpec, state: State, event: Event, number: str) -> Turn:
        self._verifier().request_code(
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

    def _took_code(self, spec: StateSpec, state: State, event: Event, number: str) -> Turn:
        result, disclosed = self._verifier().check_code(
            event.conversation, number, event.caller, event.channel, event.request_id, event.stir
        )
        if result is CodeResult.OK:
            state.verified = True
            if disclosed is not None:
                state.verification = "read_back"
                return self.enter(state, event, spec.next, intent="verified", disclosed=disclosed)
            state.verification = "no_number"  # verified, but no last four on file
            target = self.flow.special.get("on_no_last4", spec.fail)
            return self.enter(state, event, target, intent="verified")
        wrong = result is CodeResult.WRONG
        state.verification = "code_wrong" if wrong else "refused"
        target = spec.retry if wrong else spec.fail
        return self.enter(state, event, target, intent=f"code_{result.value}")

    _TAKE: ClassVar[dict[str, Callable[[Dialog, StateSpec, State, Event, str], Turn]]] = {
        "student_number": _took_student_number,
        "birth_date": _took_birth_date,
        "code": _took_code,
    }

    def _verifier(self) -> Verifier:
        if self.verifier is None:
            raise RuntimeError("this flow verifies callers but no verifier was configured")
        return self.verifier

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

    def _hello(self, state: State, event: Event, intent: str) -> Turn | None:
        """ "Hello", "good morning" at the main menu: not a miss, just a short "what can I
        help you with?". A second hello in a row is one (a bad line still reaches a person);
        None then, and away from the menu."""
        question = self._question(state, event.channel)
        if question.name != self.flow.special["on_home"] or _HELLO in state.replay:
            return None
        state.step, state.replay = question.name, [_HELLO]
        return Turn((self._ask(question, _HELLO, state, event),), state, intent=intent)

    def _repeat(self, state: State, event: Event, intent: str) -> Turn:
        question = self._question(state, event.channel)
        replay = list(state.replay)
        if question.name == self.flow.special["on_home"]:
            # "repeat" at the menu: its choices, not the welcome as if the call began again
            greetings = {self.flow.states[self.flow.start].say, _HELLO}
            replay = [key for key in replay if key not in greetings]
        topic = self.flow.states.get(state.topic)
        if (
            not replay
            and topic is not None
            and topic.type == "answer"
            and topic.next == question.name
        ):
            # The question after an answer ("Anything else?"), asked on its own once the
            # caller declined the text: "repeat" there means the answer they just heard.
            untextable = topic.say_no_text and event.channel == "voice" and event.caller is None
            replay = [topic.say_no_text if untextable else topic.say]
        actions: list[Action] = [Say(self._text(key, state, event), key=key) for key in replay]
        actions.append(self._ask(question, question.say, state, event))
        state.step = question.name
        return Turn(tuple(actions), state, intent=intent)

    def _awaiting_code(self, state: State, event: Event) -> bool:
        """Silence at a code question while the code may still be on its way (a text can
        take a minute, a call must be answered): not a miss, until the verification's time
        to answer runs out; then silence escalates as anywhere else."""
        question = self._question(state, event.channel)
        waited = event.now - state.asked_at
        return question.collect == "code" and state.asked_at > 0 and waited < self.verify_timeout

    def _keep_waiting(self, state: State, event: Event) -> Turn:
        """ "I'll keep waiting": the same code question, kindly and with the longer wait;
        its prompt asks for no single key (a key pressed waits for the Gather's timeout
        before it is sent, as Twilio waits that long for another digit)."""
        question = self._question(state, event.channel)
        state.step = question.name
        ask = self._ask(question, "code_keep_waiting", state, event)
        return Turn((replace(ask, patient=True),), state, intent="no_input")

    def _wait(self, state: State, event: Event, intent: str) -> Turn:
        """ "Hang on, let me find it": the same question, with time to find the answer; not
        a miss, so a parent fetching a student number is not led towards a person."""
        question = self._question(state, event.channel)
        reply: list[Action] = [
            Say(self._text("take_your_time", state, event), key="take_your_time")
        ]
        # Not at a code question, whose prompt offers a single key ("press 1"): a key is
        # sent only after the Gather's timeout (Twilio waits that long for another digit).
        # There, silence is kept waiting instead (_keep_waiting), with the longer wait.
        patient = question.collect != "code"
        reply.append(replace(self._ask(question, question.say, state, event), patient=patient))
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
        elif intent == "greeting":  # "hola" at the menu: a short "¿En qué le puedo ayudar?"
            hello = self._hello(state, event, intent)
            if hello is not None:
                return hello
        question = self._question(state, event.channel)
        state.step = question.name
        # "9" at the greeting: its short question in Spanish; part-way through, the last
        # answer again in the new language (a hello elsewhere gets the choices)
        opening = state.turn <= 1 and event.channel == "voice" and intent != "greeting"
        if not opening and spec is None and intent != "greeting":
            return self._repeat(state, event, intent)
        first = question.first_say if opening else ""
        actions.append(self._ask(question, first or question.say, state, event))
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

    def _command_repeat(self, state: State, event: Event, target: str, intent: str) -> Turn:
        return self._repeat(state, event, intent)

    def _command_wait(self, state: State, event: Event, target: str, intent: str) -> Turn:
        return self._wait(state, event, intent)

    def _command_more(self, state: State, event: Event, target: str, intent: str) -> Turn:
        """ "Tell me more", "what else?" after an answer that has more: the rest of it. After
        an answer with nothing more (or its rest already said) that is understood, and said
        kindly (hook on_nothing_more); at the menu, the choices; elsewhere not an answer."""
        topic = self.flow.states.get(state.topic)
        rest = self.flow.states.get(topic.more) if topic is not None and topic.more else None
        # A text of the answer carries all of it (docs/flows.md, `more`): nothing more by text
        if rest is not None and rest.say not in state.replay and event.channel != "sms":
            return self.enter(state, event, rest.name, intent=intent)
        question = self._question(state, event.channel)
        after = (self.flow.special["on_offer_text"], topic.next if topic else "")
        nothing = self.flow.special.get("on_nothing_more")
        if nothing and topic is not None and question.name in after and not question.collect:
            answer = list(state.replay)
            turn = self.enter(state, event, nothing, intent=intent)
            turn.state.replay = answer  # "repeat" (and the next "more") still mean the answer
            return turn
        if question.name == self.flow.special["on_home"]:
            return self.enter(state, event, question.name, intent=intent)
        return self._retry(state, event, "no_match", intent=intent)

    _COMMANDS: ClassVar[dict[str, Callable[[Dialog, State, Event, str, str], Turn]]] = {
        "@repeat": _command_repeat,
        "@wait": _command_wait,
        "@more": _command_more,
        "@spanish": _switch_language,
        "@english": _switch_language,
    }

    # ---- entering states: one handler per state type -----------------------------------

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
        entry = _Entry(came_from=state.step, disclosed=disclosed)
        next_name: str | None = name
        for _ in range(MAX_CHAIN):
            if next_name is None:
                return
            spec = self.flow.states[next_name]
            if spec.collect == "student_number" and self._verifier().is_locked(event.caller):
                next_name = spec.fail  # this number is locked out: offer a person straight away
                state.verification = "refused"
                continue
            state.step = next_name
            self._note_topic(spec, state)
            next_name = self._ENTER[spec.type](self, spec, state, event, reply, entry)
        if next_name is not None:
            raise RuntimeError(f"flow loops without asking anything, at {next_name!r}")

    def _note_topic(self, spec: StateSpec, state: State) -> None:
        """The topic the caller is on, for texting it and for the agent. (A callback keeps
        the topic it is about, for the agent who calls back.)"""
        if spec.type == "callback" or not (self.flow.label(spec.name, state.lang) or spec.topic):
            return
        state.topic = spec.topic or spec.name
        if not state.topics or state.topics[-1] != state.topic:
            state.topics = (state.topics + [state.topic])[-self.transcript_limit :]

    def _enter_ask(
        self, spec: StateSpec, state: State, event: Event, reply: _Reply, entry: _Entry
    ) -> str | None:
        if spec.also and state.also:  # "You also mentioned ...": that request, offered now
            state.pending, state.also = state.also, ""
            return spec.also
        state.asked_at = event.now if spec.collect else 0.0
        opening = spec.first_say and state.turn == 0 and event.channel == "voice"
        reply.actions.append(self._ask(spec, spec.first_say if opening else spec.say, state, event))
        return None

    def _enter_read_back(
        self, spec: StateSpec, state: State, event: Event, reply: _Reply, entry: _Entry
    ) -> str | None:
        if entry.disclosed is None:  # flows check makes this unreachable; fail closed anyway
            raise RuntimeError(f"{spec.name}: read back without a verified code")
        values = _disclosure(entry.disclosed, event.channel)
        reply.actions.append(
            Say(self.prompt(spec.say, state.lang, event.channel, **values), key=spec.say)
        )
        # Never kept for "repeat": that says why instead (a new code, a new reading).
        reply.said.append("read_back_once")
        return spec.next

    def _enter_transfer(
        self, spec: StateSpec, state: State, event: Event, reply: _Reply, entry: _Entry
    ) -> str | None:
        closed = self.flow.special.get("on_support_closed")
        if event.support_open is False and event.channel == "voice" and closed:
            # Nobody would answer: say when support is open instead; a caller already told
            # that (and still not understood) is wished goodbye, not looped.
            told = entry.came_from == closed or event.caller is None  # (no call back to offer)
            return self.flow.special["on_closed_give_up"] if told else closed
        state.no_input = state.no_match = 0  # a fresh start after the transfer
        reason = spec.reason or state.transfer_reason or "caller_asked"
        state.transfer_reason = reason
        text = self._text(spec.say, state, event)
        reply.actions.append(Transfer(text, reason=reason, topic=state.topic))
        return None

    def _enter_end(
        self, spec: StateSpec, state: State, event: Event, reply: _Reply, entry: _Entry
    ) -> str | None:
        reply.actions.append(End(self._text(spec.say, state, event)))
        return None

    def _enter_send_text(
        self, spec: StateSpec, state: State, event: Event, reply: _Reply, entry: _Entry
    ) -> str | None:
        topic = self.flow.states.get(state.topic)
        key = spec.text or (topic.say if topic and topic.offer_text else "")
        after_answer = topic is not None and "read_back_once" not in state.replay
        if event.caller is None and event.channel == "voice" and after_answer and not spec.text:
            # No text can go to a withheld number: said so, with how to hear the answer
            # again ("repeat" keeps saying the answer, not this). Not after the last four
            # digits: those are said once, and never texted.
            key = "text_unavailable_repeat"
            reply.actions.append(Say(self._text(key, state, event), key=key))
            reply.said.extend(state.replay)
            return spec.next
        if not key:  # "text me that" before any answer worth texting: which topic?
            return self.flow.special["on_home"]
        if event.channel == "sms" and not spec.text:  # the topic's text, again
            self._say(reply, key, state, event)
        elif event.caller is None:
            self._say(reply, "text_unavailable", state, event)
        else:
            body = self.prompt(key, state.lang, "sms")
            reply.actions.append(SendText(body, topic=state.topic))
            self._say(reply, spec.say, state, event)
        return spec.next

    def _enter_callback(
        self, spec: StateSpec, state: State, event: Event, reply: _Reply, entry: _Entry
    ) -> str | None:
        if event.caller is None:
            self._say(reply, "callback_unavailable", state, event)
        else:
            reply.actions.append(RequestCallback(topic=state.topic))
            self._say(reply, spec.say, state, event)
        return spec.next

    def _enter_call_code(
        self, spec: StateSpec, state: State, event: Event, reply: _Reply, entry: _Entry
    ) -> str | None:
        """Have the pending code said in a phone call to the phone on file ("it's a
        landline"). The same words whether or not the details matched; then the same code
        question, where the code said in the call is entered."""
        result = self._verifier().call_code(
            event.conversation,
            event.caller,
            event.channel,
            event.stir,
            message=self.prompt("code_call", state.lang, "voice", code="{code}"),
            lang=state.lang,
        )
        if result is CallResult.NONE:  # expired or used up, real or decoy alike
            self._say(reply, "verify_restart", state, event)
            return self.flow.special["on_verify_timeout"]
        if result is not CallResult.CALLING:
            why = "call_limit" if result is CallResult.LIMIT else "call_unavailable"
            self._say(reply, why, state, event)
            return spec.fail
        state.verification = "code_called"
        # Said, but not kept for "repeat": said again, it would claim another call is placed.
        reply.actions.append(Say(self._text(spec.say, state, event), key=spec.say))
        # The code question (flows check: `next` is one). Its two minutes to answer start
        # now; the usual wait, since it offers a single key ("press 1 to call again"), and
        # silence while the call is answered is kept waiting (_keep_waiting), not a miss.
        question = self.flow.states[spec.next]
        state.step, state.asked_at = question.name, event.now
        reply.actions.append(self._ask(question, question.say, state, event))
        return None

    def _enter_answer(
        self, spec: StateSpec, state: State, event: Event, reply: _Reply, entry: _Entry
    ) -> str | None:
        # no offer to a withheld number: there is nowhere to send the text, so the
        # addresses are spoken instead (say_no_text)
        offer = spec.offer_text and event.channel == "voice" and event.caller is not None
        untextable = spec.say_no_text and event.channel == "voice" and event.caller is None
        self._say(reply, spec.say_no_text if untextable else spec.say, state, event)
        return self.flow.special["on_offer_text"] if offer else spec.next

    _ENTER: ClassVar[dict[str, _Handler]] = {
        "ask": _enter_ask,
        "read_back": _enter_read_back,
        "transfer": _enter_transfer,
        "end": _enter_end,
        "send_text": _enter_send_text,
        "callback": _enter_callback,
        "answer": _enter_answer,
        "call_code": _enter_call_code,
    }

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
        text = template.format(**fill).strip()  # an empty {support_status} at the end
        # [es: ...] marks which voice reads a sentence: texts have no voice
        return text if channel == "voice" else unmark(text)


def _disclosure(disclosed: Disclosed, channel: str) -> dict[str, str]:
    """The last four digits, one by one on a call so they are heard as digits."""
    last4 = "".join(ch for ch in disclosed.last4 if ch.isdigit())[-4:]
    spoken = ", ".join(last4) if channel == "voice" else last4
    return {"first_name": disclosed.first_name, "last4": spoken}
