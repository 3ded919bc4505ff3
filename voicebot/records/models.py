"""What the help line keeps in SQL: the audit trail, not the conversation."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class OptOut(Base):
    """A number that texted STOP: nothing is sent to it until it texts START."""

    __tablename__ = "opt_outs"

    phone: Mapped[str] = mapped_column(String(16), primary_key=True)  # E.164
    opted_out_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Student(Base):
    """A student from the district's roster. Of the SSN or SSN-like number only the last four
    digits are ever kept (rule 2): the roster import throws the rest away before it gets here,
    and the check constraint refuses anything longer."""

    __tablename__ = "students"
    __table_args__ = (
        CheckConstraint(
            "ssn_last4 IS NULL OR length(ssn_last4) = 4", name="ck_students_ssn_last4_length"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_number: Mapped[str] = mapped_column(String(20), unique=True, index=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    # names.name_key of each: the unrecognised questions hide the roster's names
    first_name_key: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    last_name_key: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    birth_date: Mapped[date] = mapped_column(Date)
    school: Mapped[str | None] = mapped_column(String(200), nullable=True)
    ssn_last4: Mapped[str | None] = mapped_column(String(4), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    guardians: Mapped[list[Guardian]] = relationship(
        secondary=lambda: student_guardians, back_populates="students"
    )

    @classmethod
    def on_roster(cls) -> Any:
        """Not taken off by `roster import --replace`: a student kept only for the disclosure
        audit has no name (an imported name is never empty)."""
        return cls.first_name != ""


class Guardian(Base):
    """A parent or guardian: where one-time codes go. One per (phone, name) in the roster."""

    __tablename__ = "guardians"
    __table_args__ = (UniqueConstraint("phone", "name", name="uq_guardians_phone_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # E.164. Indexed by the unique (phone, name) index: phone is its first column.
    phone: Mapped[str] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)

    students: Mapped[list[Student]] = relationship(
        secondary=lambda: student_guardians, back_populates="guardians"
    )


student_guardians = Table(
    "student_guardians",
    Base.metadata,
    Column(
        "student_id",
        Integer,
        ForeignKey("students.id", ondelete="CASCADE", name="fk_student_guardians_student"),
        primary_key=True,
    ),
    Column(
        "guardian_id",
        Integer,
        ForeignKey("guardians.id", ondelete="CASCADE", name="fk_student_guardians_guardian"),
        primary_key=True,
    ),
    Index("ix_student_guardians_guardian_id", "guardian_id"),
    sqlite_with_rowid=False,  # the primary key is the table: one B-tree fewer to write
)


class Disclosure(Base):
    """Audit: a student's last four digits were given to a verified caller (kept for
    [retention] disclosures_days: seven years unless the district says otherwise)."""

    __tablename__ = "disclosures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_id: Mapped[int] = mapped_column(
        ForeignKey("students.id", name="fk_disclosures_student"), index=True
    )
    disclosed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    channel: Mapped[str] = mapped_column(String(8))  # voice | sms
    phone: Mapped[str | None] = mapped_column(String(16), nullable=True)  # the caller, E.164
    method: Mapped[str] = mapped_column(String(16))  # how the caller was verified: dob+otp
    call_id: Mapped[str] = mapped_column(String(64))  # CallSid or MessageSid
    stir: Mapped[str | None] = mapped_column(String(40), nullable=True)  # StirVerstat


class VerificationAttempt(Base):
    """Audit: one step of a verification, with the caller's STIR/SHAKEN attestation.

    Recorded, never trusted: the attestation skips no step. Holds nothing the caller keyed.
    """

    __tablename__ = "verification_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempted_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    conversation: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(8))
    phone: Mapped[str | None] = mapped_column(String(16), nullable=True)
    stir: Mapped[str | None] = mapped_column(String(40), nullable=True)
    step: Mapped[str] = mapped_column(String(8))  # request | check
    outcome: Mapped[str] = mapped_column(String(16))
    student_id: Mapped[int | None] = mapped_column(
        ForeignKey("students.id", ondelete="SET NULL", name="fk_verification_attempts_student"),
        nullable=True,
        index=True,
    )
