"""The SQL side of verification: finding the student, the guardians' phones, and the audit
trail (every attempt, and every disclosure of the last four digits)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from voicebot.records.models import (
    Disclosure as DisclosureRow,
)
from voicebot.records.models import (
    Guardian,
    Student,
    VerificationAttempt,
    student_guardians,
)
from voicebot.verification.common import GONE, Found, digits, log, record_key

METHOD = "dob+otp"


@dataclass(frozen=True)
class Disclosure:
    """What the dialog may say after a successful check, and nothing more."""

    first_name: str
    last4: str  # exactly 4 digits


@dataclass(frozen=True)
class Origin:
    """Where a verification comes from, as the audit trail records it."""

    conversation: str
    channel: str
    caller: str | None  # E.164; None when withheld (recorded, never trusted)
    stir: str | None  # the STIR/SHAKEN attestation Twilio passed on

    @property
    def stir_code(self) -> str | None:
        return (self.stir or None) and self.stir[:40]

    def attempt(
        self, step: str, outcome: str, student_id: int | None, when: datetime
    ) -> VerificationAttempt:
        return VerificationAttempt(
            attempted_at=when,
            conversation=self.conversation[:100],
            channel=self.channel[:8],
            phone=self.caller,
            stir=self.stir_code,
            step=step,
            outcome=outcome,
            student_id=student_id,
        )


class Audit:
    """Reads the roster and writes the audit trail, each in its own transaction."""

    def __init__(self, sessions: sessionmaker) -> None:
        self.sessions = sessions

    def find(self, student_number: str) -> Found | None:
        number = digits(student_number)
        if not number or len(number) > 20:
            return None
        with self.sessions() as session:
            row = session.execute(
                select(Student.id, Student.birth_date).where(
                    Student.student_number == number, Student.on_roster()
                )
            ).first()
        return Found(row.id, row.birth_date, record_key(number)) if row else None

    def still_listed(self, student: Found) -> bool:
        """The student a pending code was sent for still has its id in the roster."""
        with self.sessions() as session:
            number = session.scalar(select(Student.student_number).where(Student.id == student.id))
        return number is not None and record_key(number) == student.record

    def phones(self, student_id: int) -> list[str]:
        with self.sessions() as session:
            phones = session.scalars(
                select(Guardian.phone)
                .distinct()
                .join(student_guardians, student_guardians.c.guardian_id == Guardian.id)
                .where(student_guardians.c.student_id == student_id)
                .order_by(Guardian.phone)
            )
            return list(phones)

    def disclose(self, found: Found, origin: Origin, call_id: str, now: float) -> Disclosure | None:
        """Record the successful check and, when there is a valid last four to read back,
        its disclosure; None: verified, but nothing to disclose."""
        when = datetime.fromtimestamp(now, UTC)
        with self.sessions.begin() as session:
            student = session.get(Student, found.id) if found.id != GONE else None
            if student is not None and record_key(student.student_number) != found.record:
                student = None  # taken off since the check above, its id given again
            last4 = student.ssn_last4 if student else None
            session.add(origin.attempt("check", "ok", student.id if student else None, when))
            if student is None or not last4 or not re.fullmatch(r"\d{4}", last4):
                # Verified, but there is nothing (valid) to read back: say so, disclose nothing.
                log.info("verification: caller verified; no last four on file")
                return None
            session.add(
                DisclosureRow(
                    student_id=student.id,
                    disclosed_at=when,
                    channel=origin.channel[:8],
                    phone=origin.caller,
                    method=METHOD,
                    call_id=call_id[:64],
                    stir=origin.stir_code,
                )
            )
            first_name = student.first_name
        log.info("verification: caller verified; last four disclosed (audited)")
        return Disclosure(first_name=first_name, last4=last4)

    def record(
        self, origin: Origin, step: str, outcome: str, student: Found | None, now: float
    ) -> None:
        """One step of a verification (request or check) and how it ended."""
        student_id = student.id if student and student.id != GONE else None
        with self.sessions.begin() as session:
            session.add(origin.attempt(step, outcome, student_id, datetime.fromtimestamp(now, UTC)))
