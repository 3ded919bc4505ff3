"""Handoffs to people: transfers, callback requests, the agents who take them, and the
numbers the statistics page draws.

Nothing secret is kept here. The transcript the dialog hands over is already a summary
("Caller asked about: a forgotten password"), but it is treated as untrusted text all the
same: every line is scrubbed (:func:`console_safe`) on the way in and again on the way out.

Definitions used by :meth:`Handoffs.stats` (days are the district's, [district] timezone):

* **calls**, **texts** on a day: the calls and text threads that began that day, as the help
  line noted them with :meth:`Handoffs.note_conversation` (once per new call or thread).
* **transfers**: distinct conversations with at least one :class:`Handoff` that day (a
  transfer, or support's number texted); **callbacks**: callback requests made that day.
* **outcomes**: each conversation that began that day, once, under its outcome
  (:mod:`voicebot.dialog.outcomes`, counted in Redis by :mod:`voicebot.ops.outcomes` and
  passed in as ``outcomes_for``), per channel.
* **contained** = answered / all conversations with an outcome, over the period and per day:
  a conversation that ended after "didn't catch that", was abandoned mid-question or needed
  a person is never contained. ``None`` when there were none.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Row,
    String,
    Text,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from voicebot.dialog.dates import MONTHS, ORDINALS
from voicebot.dialog.normalize import is_greeting, is_unsure, plain_words
from voicebot.dialog.outcomes import ANSWERED
from voicebot.dialog.outcomes import OUTCOMES as CONVERSATION_OUTCOMES
from voicebot.policy.guard import NUMBER_WORDS, fold
from voicebot.policy.redact import scrub
from voicebot.records.models import Base, Student, utcnow
from voicebot.records.names import WORD, head, head_key, mask_introduced, name_key, owner_key

CHANNELS = ("voice", "sms")
OUTCOMES = ("completed", "no-answer", "busy", "failed", "canceled", "closed")
LANGUAGES = ("en", "es")
MAX_TRANSCRIPT = 4000
MAX_LINE = 300
MAX_QUESTION = 100
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_DIGITISH = re.compile(r"\d(?:[\s\-./]*\d){2,}")  # three or more digits, any separators
_SLUG = re.compile(r"[^a-z0-9_\-]")


class Handoff(Base):
    """One moment the help line handed a caller towards a person; ``id`` is the reference
    number the whisper speaks and the console shows."""

    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    channel: Mapped[str] = mapped_column(String(8))
    conversation: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(32))
    topic: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    transcript: Mapped[str] = mapped_column(Text, default="")


class Callback(Base):
    """A parent asked to be called back."""

    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    phone: Mapped[str] = mapped_column(String(16))  # E.164
    topic: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    handoff_id: Mapped[int | None] = mapped_column(
        ForeignKey("handoffs.id", ondelete="SET NULL", name="fk_callbacks_handoff"),
        nullable=True,
    )
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    done_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Agent(Base):
    """A support agent who may sign in to the console (``voicebot agents add NAME``)."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ConversationDay(Base):
    """How many calls / text threads began on a day: the district's day ([district]
    timezone); rows written before the setting existed are UTC days."""

    __tablename__ = "conversation_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class UnrecognisedQuestion(Base):
    """A question the help line did not understand: scrubbed, digit-free, 100 characters."""

    __tablename__ = "unrecognised_questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    language: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(String(MAX_QUESTION))


# ---- scrubbing ---------------------------------------------------------------------------


def _number_word_runs(text: str) -> str:
    """Replace three or more number words in a row ("six seven eight") with [digits]:
    stricter than the log scrubber, which lets four digits through."""
    folded, _ = fold(text)
    if len(folded) != len(text):  # unusual characters: fall back to a word-by-word check
        words = text.split()
        numeric = [fold(w)[0].strip(".,;:!?") in NUMBER_WORDS for w in words]
        if sum(numeric) >= 3:
            return " ".join("[digits]" if n else w for w, n in zip(words, numeric, strict=True))
        return text
    matches = list(_WORD.finditer(folded))
    out, position, run = [], 0, []  # type: ignore[var-annotated]

    def flush() -> None:
        nonlocal position
        if len(run) >= 3:
            out.append(text[position : run[0].start()])
            out.append("[digits]")
            position = run[-1].end()

    for match in matches:
        if match.group() in NUMBER_WORDS or match.group().isdecimal():
            run.append(match)
            continue
        flush()
        run.clear()
    flush()
    out.append(text[position:])
    return "".join(out)


def console_safe(text: str) -> str:
    """A line fit for the console: log-scrubbed (dates, long digit runs, phone numbers,
    control characters), then any three or more digits or number words also removed, so not
    even the last four of an SSN or a short code gets through."""
    text = scrub(str(text))
    text = _DIGITISH.sub("[digits]", text)
    return _number_word_runs(text)


def _slug(value: str, limit: int = 64) -> str:
    return _SLUG.sub("_", str(value).strip().lower())[:limit] or "unknown"


def _language(value: str) -> str:
    value = str(value).strip().lower()[:2]
    return value if value in LANGUAGES else "en"


NAME_MASK = "[name]"  # a student's name in an unrecognised question

# A question that mentions any of these may carry the secret itself ("my password is ...").
CREDENTIAL_WORDS = re.compile(
    r"\b(pass ?words?|pwd|contrase[nñ]as?|keys?|claves?|codes?|c[oó]digos?|pin|ssn|social)\b"
)


def clean_question(text: str, limit: int | None = MAX_QUESTION) -> str | None:
    """The form an unrecognised question is kept in, or None when it must not be kept.

    Anything with a number in it, in digits or words, an ordinal or a month is not kept:
    it may be a student number, a code or a birth date ("may fourteenth twenty fifteen").
    """
    raw = str(text)
    if any(char.isdigit() for char in raw):
        return None
    if any(w in MONTHS or w in ORDINALS or w in NUMBER_WORDS for w in plain_words(raw)):
        return None
    if is_greeting(raw) or is_unsure(raw):
        return None  # "hello?", "no sé": not a question to teach the help line
    scrubbed = scrub(raw)
    if "[" in scrubbed and scrubbed != raw.strip():
        return None  # the scrubber found something
    if console_safe(scrubbed) != scrubbed:
        return None  # number words
    cleaned = " ".join(scrubbed.lower().split()).strip(" .,;:!?¿¡\"'")
    if not cleaned or CREDENTIAL_WORDS.search(cleaned) or "@" in cleaned:
        return None  # it may carry a password, a key or an email address: not kept
    return cleaned[:limit]


# ---- the repository ----------------------------------------------------------------------


@dataclass
class Day:
    """One day's row of the statistics page (and of its CSV)."""

    day: date
    calls: int = 0
    texts: int = 0
    transfers: int = 0  # conversations handed to support that day
    callbacks: int = 0  # callback requests that day
    by_channel: dict[str, int] = field(default_factory=dict)  # "voice:answered" -> count

    def outcome(self, name: str, channel: str = "") -> int:
        """Conversations with this outcome, on one channel or both."""
        channels = (channel,) if channel else CHANNELS
        return sum(max(0, self.by_channel.get(f"{c}:{name}", 0)) for c in channels)

    @property
    def ended(self) -> int:
        """Conversations counted under an outcome (each once)."""
        return sum(self.outcome(name) for name in CONVERSATION_OUTCOMES)

    @property
    def contained(self) -> float | None:
        return self.outcome(ANSWERED) / self.ended if self.ended else None

    @property
    def conversations(self) -> int:
        return self.calls + self.texts


@dataclass
class Stats:
    days: list[Day]
    transfers_by_topic: list[tuple[str, int]]
    unrecognised: list[tuple[str, str, int]]  # text, language, count
    transfer_results: dict[str, int] = field(default_factory=dict)  # Twilio's dial status

    def total(self, attribute: str) -> int:
        return sum(int(getattr(d, attribute)) for d in self.days)

    def outcome(self, name: str, channel: str = "") -> int:
        return sum(d.outcome(name, channel) for d in self.days)

    @property
    def conversations(self) -> int:
        return self.total("conversations")

    @property
    def ended(self) -> int:
        return self.total("ended")

    def ended_in(self, channel: str) -> int:
        """Conversations on one channel counted under an outcome."""
        return sum(self.outcome(name, channel) for name in CONVERSATION_OUTCOMES)

    @property
    def contained(self) -> float | None:
        return self.outcome(ANSWERED) / self.ended if self.ended else None


class Handoffs:
    """Transfers, callbacks and the console's numbers, over SQLAlchemy sessions."""

    def __init__(self, sessions: sessionmaker, zone: tzinfo = UTC) -> None:
        self.sessions = sessions
        self.zone = zone  # the district's time zone: the days conversations are counted on

    # -- what the help line writes --

    def record(
        self,
        channel: str,
        conversation: str,
        reason: str,
        topic: str,
        language: str,
        verified: bool,
        transcript: list[str],
    ) -> int:
        """Keep one handoff; returns its reference number."""
        lines = [console_safe(line)[:MAX_LINE] for line in transcript if str(line).strip()]
        handoff = Handoff(
            channel=channel if channel in CHANNELS else "voice",
            conversation=str(conversation)[:100],
            reason=_slug(reason, 32),
            topic=_slug(topic),
            language=_language(language),
            verified=bool(verified),
            transcript="\n".join(lines)[:MAX_TRANSCRIPT],
        )
        with self.sessions.begin() as session:
            session.add(handoff)
            session.flush()
            return int(handoff.id)

    def set_outcome(self, reference: int, outcome: str) -> None:
        """How the transfer ended (Twilio's DialCallStatus, or "closed"); anything not in
        OUTCOMES is kept as "unknown" rather than failing the caller's webhook."""
        outcome = str(outcome).strip().lower()
        if outcome not in OUTCOMES:
            outcome = "unknown"
        with self.sessions.begin() as session:
            session.execute(
                update(Handoff).where(Handoff.id == int(reference)).values(outcome=outcome)
            )

    def add_callback(self, phone: str, topic: str, language: str, handoff_id: int | None) -> int:
        """A callback request; one still open for the same phone from the last hour is the
        same request ("CALL ME", "call me!", "call me back pls" texted in a row), so agents
        get one row to act on, not three."""
        phone = str(phone).strip()
        if not _E164.match(phone):
            raise ValueError("phone must be E.164")
        with self.sessions.begin() as session:
            earlier = session.scalar(
                select(Callback.id)
                .where(
                    Callback.phone == phone,
                    Callback.done_at.is_(None),
                    Callback.created_at >= utcnow() - timedelta(hours=1),
                )
                .order_by(Callback.id.desc())
                .limit(1)
            )
            if earlier is not None:
                return int(earlier)
            callback = Callback(
                phone=phone, topic=_slug(topic), language=_language(language), handoff_id=handoff_id
            )
            session.add(callback)
            session.flush()
            return int(callback.id)

    def note_unrecognised(
        self, text: str, language: str, known: Callable[[str], bool] | None = None
    ) -> None:
        """Keep a question the help line did not understand, for the statistics page.

        ``known``: the help line's own words (IntentMatcher.knows). Any other word that is a
        student's first or last name is shown as [name], and so are the words after "my name
        is", "this is", "me llamo"... (the caller's own name, on the roster or not); a
        question of names only is not kept. Without ``known`` no word is looked up."""
        # Names are hidden before the question is cut to length: never half a name kept.
        cleaned = clean_question(text, limit=None)
        if cleaned is not None and known is not None:
            introduced = mask_introduced(unicodedata.normalize("NFC", cleaned), known, NAME_MASK)
            cleaned = self._without_names(introduced, known)
        if cleaned is None:
            return
        if len(cleaned) > MAX_QUESTION:  # at a space, so a [name] is never cut in two
            cut = cleaned[: MAX_QUESTION + 1]
            cleaned = cut[: cut.rindex(" ")] if " " in cut else cut[:MAX_QUESTION]
        with self.sessions.begin() as session:
            session.add(UnrecognisedQuestion(language=_language(language), text=cleaned))

    def _without_names(self, question: str, known: Callable[[str], bool]) -> str | None:
        words = list(WORD.finditer(question))
        keys = [name_key(w.group()) for w in words]
        owned = [owner_key(w.group()) for w in words]  # "o'brien's" -> "obrien"
        ours = [known(w.group()) for w in words]
        # a word ("o'brien", and "sam" of "sam's"), or two or three side by side
        # ("de la cruz", "xavier lee" for Xavier-Lee, "o brien" for O'Brien)
        spans: dict[tuple[int, int], set[str]] = {}
        for size in (1, 2, 3):
            for i in range(len(words) - size + 1):
                if all(ours[i : i + size]):
                    continue  # the help line's own words: "will", "key", "summer" stay
                end = i + size
                forms = {" ".join(keys[i:end]), " ".join([*keys[i : end - 1], owned[end - 1]])}
                forms.add("".join([*keys[i : end - 1], owned[end - 1]]))
                if size == 1:
                    forms.add(head_key(words[i].group()))
                spans[(i, end)] = forms - {""}
        candidates = sorted(set().union(*spans.values())) if spans else []
        if not candidates:
            return question
        with self.sessions() as session:
            names: set[str] = set()
            for column in (Student.first_name_key, Student.last_name_key):
                found = select(column).where(column.in_(candidates)).distinct()
                names.update(n for n in session.scalars(found) if n)
        hidden = [span for span, forms in spans.items() if forms & names]
        if not hidden:
            return question
        out, position = [], 0
        for start, end in sorted(hidden, key=lambda span: (span[0], -span[1])):
            first, last = words[start], words[end - 1]
            head_only = {head_key(first.group())}
            whole = end > start + 1 or bool((spans[(start, end)] - head_only) & names)
            if first.start() < position:  # overlaps a name already hidden: hide the rest
                position = max(position, last.end()) if whole else position
                continue
            stop = last.end() if whole else first.start() + len(head(first.group()))
            out += [question[position : first.start()], NAME_MASK]
            position = stop
        masked = "".join(out) + question[position:]
        return None if not WORD.findall(masked.replace(NAME_MASK, " ")) else masked

    def note_conversation(self, channel: str, when: date | None = None, count: int = 1) -> None:
        """Count new calls or text threads on a day (the turn runner counts them in Redis
        and moves them here in batches: Conversations.flush_counts)."""
        channel = channel if channel in CHANNELS else "voice"
        day = when or datetime.now(UTC).date()
        for _ in range(3):
            try:
                with self.sessions.begin() as session:
                    result = session.execute(
                        update(ConversationDay)
                        .where(ConversationDay.day == day, ConversationDay.channel == channel)
                        .values(count=ConversationDay.count + count)
                    )
                    if result.rowcount == 0:  # type: ignore[attr-defined]
                        session.add(ConversationDay(day=day, channel=channel, count=count))
                return
            except IntegrityError:  # another process inserted the row first: update it
                continue
        raise RuntimeError(f"could not count {channel} conversations for {day}")

    # -- what the console reads --

    def recent(self, limit: int = 100) -> list[dict[str, Any]]:
        """Newest handoffs first, each with its callback requests."""
        with self.sessions() as session:
            handoffs = session.scalars(
                select(Handoff).order_by(Handoff.created_at.desc(), Handoff.id.desc()).limit(limit)
            ).all()
            ids = [h.id for h in handoffs]
            callbacks: dict[int, list[Callback]] = {}
            if ids:
                for callback in session.scalars(
                    select(Callback).where(Callback.handoff_id.in_(ids))
                ):
                    callbacks.setdefault(callback.handoff_id or 0, []).append(callback)
        return [
            {
                "reference": h.id,
                "created_at": h.created_at,
                "channel": h.channel,
                "conversation": h.conversation,
                "reason": h.reason,
                "topic": h.topic,
                "language": h.language,
                "verified": h.verified,
                "outcome": h.outcome,
                "transcript": [console_safe(line) for line in (h.transcript or "").splitlines()],
                "callbacks": [c.id for c in callbacks.get(h.id, [])],
            }
            for h in handoffs
        ]

    def callbacks(self, open_only: bool = True, limit: int = 200) -> list[dict[str, Any]]:
        query = select(Callback).order_by(Callback.created_at.desc(), Callback.id.desc())
        if open_only:
            query = query.where(Callback.done_at.is_(None))
        with self.sessions() as session:
            rows = session.scalars(query.limit(limit)).all()
        return [
            {
                "id": c.id,
                "created_at": c.created_at,
                "phone": c.phone,
                "topic": c.topic,
                "language": c.language,
                "handoff_id": c.handoff_id,
                "done_at": c.done_at,
                "done_by": c.done_by,
            }
            for c in rows
        ]

    def mark_done(self, callback_id: int, agent_name: str) -> bool:
        """Close a callback request; False when there is none open with that id."""
        with self.sessions.begin() as session:
            result = session.execute(
                update(Callback)
                .where(Callback.id == int(callback_id), Callback.done_at.is_(None))
                .values(done_at=utcnow(), done_by=str(agent_name)[:64])
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def stats(
        self,
        days: int = 14,
        outcomes_for: Callable[[date, date], dict[date, dict[str, int]]] | None = None,
        today: date | None = None,
        *,
        first: date | None = None,
        last: date | None = None,
        zone: tzinfo | None = None,
    ) -> Stats:
        """The statistics for the district's days ``first`` to ``last`` (default: the last
        ``days`` days to ``today``, today included), at most 366 days.

        ``outcomes_for(first, last)`` gives each day's outcome counts, {"voice:answered": n}
        (the console reads them from Redis).
        """
        zone = zone or self.zone
        last = last or today or datetime.now(UTC).astimezone(zone).date()
        first = first or last - timedelta(days=max(1, min(int(days), 366)) - 1)
        span = (last - first).days + 1
        if not 1 <= span <= 366:
            raise ValueError("a period of 1 to 366 days")
        table = {first + timedelta(days=i): Day(first + timedelta(days=i)) for i in range(span)}
        since, until = _midnight(first, zone), _midnight(last + timedelta(days=1), zone)
        with self.sessions() as session:
            rows = session.scalars(
                select(ConversationDay).where(
                    ConversationDay.day >= first, ConversationDay.day <= last
                )
            )
            for row in rows:
                if row.channel == "sms":
                    table[row.day].texts += row.count
                else:
                    table[row.day].calls += row.count
            moments = (Handoff.created_at >= since) & (Handoff.created_at < until)
            handoffs = session.execute(
                select(
                    Handoff.created_at, Handoff.conversation, Handoff.topic, Handoff.outcome
                ).where(moments)
            ).all()
            callbacks = session.scalars(
                select(Callback.created_at).where(
                    Callback.created_at >= since, Callback.created_at < until
                )
            ).all()
            unrecognised = _top_unrecognised(session, since, until)
        if outcomes_for is not None:
            _fill_outcomes(table, outcomes_for, first, last)
        topics, results = _count_handoffs(table, handoffs, callbacks, zone)
        return Stats(
            days=list(table.values()),
            transfers_by_topic=topics.most_common(10),
            unrecognised=unrecognised,
            transfer_results=dict(results),
        )

    # -- agents --

    def agent(self, name: str) -> Agent | None:
        with self.sessions() as session:
            return session.scalar(select(Agent).where(Agent.name == name))

    def agent_by_id(self, agent_id: int) -> Agent | None:
        with self.sessions() as session:
            return session.get(Agent, int(agent_id))

    def agents(self) -> list[Agent]:
        """Every console account, by name (for `voicebot agents list`)."""
        with self.sessions() as session:
            return list(session.scalars(select(Agent).order_by(Agent.name)))

    def remove_agent(self, name: str) -> bool:
        """Delete an account: its sessions end at their next request (the console looks the
        agent up every time). Callbacks it marked done keep its name."""
        with self.sessions.begin() as session:
            result = session.execute(delete(Agent).where(Agent.name == name))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def add_agent(self, name: str, password_hash: str) -> int:
        with self.sessions.begin() as session:
            agent = Agent(name=name, password_hash=password_hash, failed_logins=0)
            session.add(agent)
            session.flush()
            return int(agent.id)

    def set_password(self, name: str, password_hash: str) -> bool:
        with self.sessions.begin() as session:
            result = session.execute(
                update(Agent)
                .where(Agent.name == name)
                .values(password_hash=password_hash, failed_logins=0, locked_until=None)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def sign_in_failed(self, agent_id: int, max_failures: int, lock_for: timedelta) -> None:
        """Count a failed sign-in; the max_failures-th locks the account for lock_for.
        Called for a name that does not exist too (agent_id 0), so that answer costs the
        same query; a locked account counts nothing more (its lock would only grow)."""
        with self.sessions.begin() as session:
            agent = session.get(Agent, agent_id, with_for_update=True)
            if agent is None or is_locked(agent):
                return
            agent.failed_logins = (agent.failed_logins or 0) + 1
            if agent.failed_logins >= max_failures:
                agent.locked_until = utcnow() + lock_for
                agent.failed_logins = 0

    def sign_in_succeeded(self, agent_id: int) -> None:
        with self.sessions.begin() as session:
            session.execute(
                update(Agent).where(Agent.id == agent_id).values(failed_logins=0, locked_until=None)
            )


def _midnight(day: date, zone: tzinfo) -> datetime:
    """The start of the district's day, in UTC (as the records keep their times)."""
    return datetime.combine(day, datetime.min.time(), tzinfo=zone).astimezone(UTC)


def _top_unrecognised(session: Any, since: datetime, until: datetime) -> list[tuple[str, str, int]]:
    """The ten questions not understood most often in the period."""
    rows = session.execute(
        select(UnrecognisedQuestion.text, UnrecognisedQuestion.language, func.count().label("n"))
        .where(UnrecognisedQuestion.created_at >= since, UnrecognisedQuestion.created_at < until)
        .group_by(UnrecognisedQuestion.text, UnrecognisedQuestion.language)
        .order_by(func.count().desc(), UnrecognisedQuestion.text)
        .limit(10)
    ).all()
    return [(text, language, int(n)) for text, language, n in rows]


def _fill_outcomes(
    table: dict[date, Day],
    outcomes_for: Callable[[date, date], dict[date, dict[str, int]]],
    first: date,
    last: date,
) -> None:
    try:
        found = outcomes_for(first, last)
    except Exception:  # Redis down: the page still shows what SQL knows
        logging.getLogger("voicebot.records").exception("could not read the outcome counts")
        return
    for day, counts in found.items():
        if day in table:
            table[day].by_channel = dict(counts)


def _count_handoffs(
    table: dict[date, Day],
    handoffs: Sequence[Row[Any]],
    callbacks: Sequence[datetime],
    zone: tzinfo,
) -> tuple[Counter[str], Counter[str]]:
    """Count each day's handed-off conversations (once each, however often they were handed
    off) and callback requests into ``table``; the topics and dial results of the transfers."""
    seen: set[tuple[date, str]] = set()
    topics: Counter[str] = Counter()
    results: Counter[str] = Counter()
    for created_at, conversation, topic, outcome in handoffs:
        day = _as_utc(created_at).astimezone(zone).date()
        topics[topic] += 1
        results[outcome or "pending"] += 1
        if day in table and (day, conversation) not in seen:
            seen.add((day, conversation))
            table[day].transfers += 1
    for created_at in callbacks:
        day = _as_utc(created_at).astimezone(zone).date()
        if day in table:
            table[day].callbacks += 1
    return topics, results


def _as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes: they were stored as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def is_locked(agent: Agent, now: datetime | None = None) -> bool:
    if agent.locked_until is None:
        return False
    return _as_utc(agent.locked_until) > (now or utcnow())
