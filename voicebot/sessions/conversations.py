"""One turn of a conversation, the same for every channel.

Lock the conversation and load its state, answer a repeated webhook with the reply it
already got, run the pure dialog, carry out side effects, render, save state and reply and let
go of the lock. Every minute or so the new-conversation counts kept in Redis move to SQL.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, tzinfo
from typing import Protocol, TypeVar

from voicebot.channels.delivery import Deliveries
from voicebot.channels.outbound import Outbound, Sent
from voicebot.dialog.engine import Dialog
from voicebot.dialog.model import (
    VERIFICATION_NOTES,
    End,
    Event,
    RequestCallback,
    Say,
    SendText,
    State,
    Transfer,
    Turn,
)
from voicebot.dialog.outcomes import Marks, outcome_of, progress
from voicebot.ops import metrics
from voicebot.ops.outcomes import district_day, tally
from voicebot.sessions.store import SessionStore, Tally

log = logging.getLogger("voicebot.turn")

# Turns whose words go on the statistics page's list of questions to teach the help line:
# not understood, or a portal question the district's help page does not answer.
UNANSWERED = frozenset({"unknown", "no_answer"})

T = TypeVar("T")


class Handoffs(Protocol):
    """Where transfers and callback requests are kept for the agents (voicebot.records)."""

    def record(
        self,
        channel: str,
        conversation: str,
        reason: str,
        topic: str,
        language: str,
        verified: bool,
        transcript: list[str],
    ) -> int: ...

    def set_outcome(self, reference: int, outcome: str) -> None: ...

    def add_callback(
        self, phone: str, topic: str, language: str, handoff_id: int | None
    ) -> int: ...

    def note_conversation(self, channel: str, when: date | None = None, count: int = 1) -> None: ...

    def note_unrecognised(
        self, text: str, language: str, known: Callable[[str], bool] | None = None
    ) -> None: ...


@dataclass
class Conversations:
    dialog: Dialog
    store: SessionStore
    outbound: Outbound
    handoffs: Handoffs | None = None
    flush_every: float = 60.0  # seconds between moves of the conversation counts to SQL
    zone: tzinfo = UTC  # the district's time zone: the statistics' days
    deliveries: Deliveries | None = None  # what became of code texts (status callbacks)
    _marks: Marks | None = field(default=None, init=False)
    _flushed_at: float = field(default_factory=time.monotonic, init=False)

    def run(
        self,
        conversation: str,
        request_id: str,
        event: Event,
        ttl: int,
        render: Callable[[Turn], str],
    ) -> str:
        started = time.perf_counter()
        with self.store.turn(conversation, request_id) as opened:
            if opened.earlier is not None:
                log.info(
                    "turn replayed",
                    extra={
                        "channel": event.channel,
                        "conversation": conversation,
                        "request": request_id,
                        "replayed": True,
                    },
                )
                return opened.earlier
            event = self._code_delivery(conversation, opened.state, event)
            turn = self.dialog.step(opened.state, event)
            day = self._note_outcome(opened.state, turn, event.now)
            ended = event.channel == "sms" and any(isinstance(a, End) for a in turn.actions)
            turn = self._carry_out(conversation, event, turn, opened.state)
            body = render(turn)
            new_in = event.channel if opened.state is None else ""
            counted = self._tally(event.channel, opened.state, turn.state)
            kept = None if ended else turn.state
            if not self.store.save(opened, kept, ttl, body, new_in, day, counted):
                log.warning(
                    "turn not saved: a later turn holds the conversation",
                    extra={"channel": event.channel, "conversation": conversation},
                )
        elapsed = time.perf_counter() - started
        metrics.observe_turn(event.channel, elapsed)
        transfer = next((a.reason for a in turn.actions if isinstance(a, Transfer)), "")
        if transfer:
            metrics.count_transfer(transfer)
        log.info(
            "turn",
            extra={
                "channel": event.channel,
                "conversation": conversation,
                "request": request_id,
                "turn": turn.state.turn,
                "state": turn.state.step,
                "intent": turn.intent,
                "lang": turn.state.lang,
                "transfer": transfer or None,
                "latency_ms": round(elapsed * 1000, 1),
            },
        )
        if time.monotonic() - self._flushed_at >= self.flush_every:
            self.flush_counts()
        return body

    def _code_delivery(self, conversation: str, state: State | None, event: Event) -> Event:
        """The event, marked when a code text of this conversation is known not to have
        arrived: looked up only at a question that collects the code (the dialog stays pure).

        Only a real code is ever texted, so the different offer tells the caller the details
        matched. It is made only to a caller with a number: their failures count toward the
        student record's lock (3 a day), so it cannot be used to guess birth dates. A
        withheld caller, whose failures never lock the record, always hears the usual offer.
        """
        spec = self.dialog.flow.states.get(state.step) if state is not None else None
        if self.deliveries is None or spec is None or spec.collect != "code":
            return event
        if not event.caller:  # withheld (caller_number gave None): see above
            return event
        if self.deliveries.code_undelivered(conversation) is None:
            return event
        return replace(event, code_undelivered=True)

    def _note_outcome(self, before: State | None, turn: Turn, now: float) -> date | None:
        """The outcome so far, kept in the state (voicebot.dialog.outcomes); a new
        conversation is given the district's day it is counted on, which is returned."""
        if self._marks is None:
            self._marks = Marks.of(self.dialog.flow)
        state = turn.state
        state.outcome = progress(before.outcome if before else "", state, turn, self._marks)
        if before is None:
            state.counted_on = district_day(self.zone, now or None).isoformat()
        elif not state.counted_on:  # the dialog started over within the conversation
            state.counted_on = before.counted_on
        return date.fromisoformat(state.counted_on) if state.counted_on else None

    @staticmethod
    def _tally(channel: str, before: State | None, after: State) -> Tally | None:
        """The conversation's count moved to its new outcome, when the turn changed it,
        saved with the turn. (A conversation from before outcomes were kept has no day:
        it is not counted.)"""
        if not after.counted_on or (before is not None and not before.counted_on):
            return None
        old = outcome_of(before) if before is not None else ""
        new = outcome_of(after)
        return tally(channel, after.counted_on, old, new) if old != new else None

    def flush_counts(self) -> None:
        """Move the new-conversation counts from Redis to SQL (the statistics page reads SQL).

        Counting in Redis keeps a SQL write out of every new conversation's first turn; a
        failed move puts the counts back for the next one. Never fails a caller.
        """
        self._flushed_at = time.monotonic()
        if self.handoffs is None:
            return
        try:
            counts = self.store.drain_counts()
        except Exception:
            log.exception("could not read the conversation counts; trying again later")
            return
        done: list[tuple[date, str]] = []
        try:
            for (day, channel), count in counts.items():
                self.handoffs.note_conversation(channel, day, count)
                done.append((day, channel))
        except Exception:
            log.exception("could not keep the conversation counts; trying again later")
            left = {key: value for key, value in counts.items() if key not in done}
            try:
                self.store.restore_counts(left)
            except Exception:
                log.exception("conversation counts lost: %d", sum(left.values()))

    def _carry_out(
        self, conversation: str, event: Event, turn: Turn, asked: State | None = None
    ) -> Turn:
        """The turn's side effects: texts, callback requests, and the agents' records. The
        turn comes back as said: "I've sent a text" becomes "I can't send a text to this
        number" when it could not go (the number texted STOP, or Twilio refused it).

        ``asked``: the state the caller answered (None: a first text). Words not understood,
        and portal questions the help page does not answer, are kept as questions to teach
        it, only where the flow invites questions (keep_unrecognised): elsewhere they may be
        a student number, a birth date or a child's name."""
        state = turn.state
        unanswered = turn.intent in UNANSWERED
        if unanswered and event.text and self._invites_questions(asked):
            # kept only if number-free, with the roster's names hidden
            self._keep(
                "note_unrecognised",
                lambda h: h.note_unrecognised(event.text, state.lang, self.dialog.classifier.knows),
            )
        if event.kind == "dial_result" and state.handoff:
            self._keep(
                "set_outcome",
                lambda h: h.set_outcome(state.handoff, event.dial_status or "unknown"),
            )
        unsent: dict[int, Sent] = {}
        for index, action in enumerate(turn.actions):
            if isinstance(action, SendText) and event.caller:
                sent = self.outbound.attempt(
                    event.caller, action.body, conversation=event.conversation
                )
                if sent is not Sent.SENT:
                    unsent[index + 1] = sent  # the confirmation the dialog put right after it
            elif isinstance(action, Transfer):
                state.handoff = self._hand_off(conversation, event, action, state) or 0
            elif isinstance(action, RequestCallback) and event.caller:
                self._ask_callback(event.caller, action, state)
        if not unsent:
            return turn
        return self._untold(turn, unsent, event.channel, conversation)

    def _invites_questions(self, asked: State | None) -> bool:
        """A first text, or a question marked keep_unrecognised in the flow."""
        if asked is None:
            return True
        question = self.dialog.flow.states.get(asked.step)
        return question is not None and question.keep_unrecognised

    def _untold(self, turn: Turn, unsent: dict[int, Sent], channel: str, conversation: str) -> Turn:
        """The turn with "I've sent a text" replaced where the text did not go. Said why when
        the caller can do something about it: the number texted STOP (START undoes it), or
        it had its texts for now (support can help; said once a conversation, so a caller
        asking again and again is not read the same explanation each time)."""
        actions = list(turn.actions)
        for index, sent in unsent.items():
            key = "text_unavailable"
            if sent is Sent.OPTED_OUT:
                key = "text_opted_out"
            elif sent is Sent.LIMITED and self.outbound.first_limit_notice(conversation):
                key = "text_limit"
            if index < len(actions) and isinstance(actions[index], Say):
                said = actions[index].key  # type: ignore[union-attr]
                actions[index] = Say(self.dialog.prompt(key, turn.state.lang, channel), key=key)
                turn.state.replay = [key if k == said else k for k in turn.state.replay]
        return replace(turn, actions=tuple(actions))

    def _hand_off(
        self, conversation: str, event: Event, action: Transfer, state: State
    ) -> int | None:
        """Record the transfer for the agents; its reference, None when it was not kept."""
        transcript = self.summary(state)  # outside _keep: a fault here is not the records'
        return self._keep(
            "record",
            lambda h: h.record(
                channel=event.channel,
                conversation=conversation,
                reason=action.reason,
                topic=action.topic,
                language=state.lang,
                verified=state.verified,
                transcript=transcript,
            ),
        )

    def _ask_callback(self, caller: str, action: RequestCallback, state: State) -> None:
        """Record the caller's callback request, with the transfer it follows if any."""
        self._keep(
            "add_callback",
            lambda h: h.add_callback(caller, action.topic, state.lang, state.handoff or None),
        )

    def _keep(self, what: str, call: Callable[[Handoffs], T]) -> T | None:
        """Keep the agents' records; a failure here must never cost the caller their answer
        (a transfer still dials without a reference, a text is still answered). ``what``
        names the record in the log."""
        if self.handoffs is None:
            return None
        try:
            return call(self.handoffs)
        except Exception:
            log.exception("could not keep the agents' record (%s); the caller carries on", what)
            return None

    def summary(self, state: State) -> list[str]:
        """What the agent may read of the conversation: topics and outcome, never words
        the caller said or keyed (those can hold student numbers, dates, codes)."""
        labels = [self.dialog.flow.label(topic, "en") or topic for topic in state.topics]
        lines = [f"Asked about: {label}" for label in labels]
        verified = "yes (a code sent to the phone on file matched)" if state.verified else "no"
        lines.append(f"Caller verified: {verified}")
        if state.verification in VERIFICATION_NOTES:
            lines.append(f"Last four digits: {VERIFICATION_NOTES[state.verification][1]}")
        lines.append(f"Transfer reason: {state.transfer_reason or 'caller asked'}")
        return lines
