"""students, guardians, their links, disclosures and verification attempts

Only the last four digits of a student's SSN or SSN-like number have a column, and a check
constraint keeps it at exactly four characters.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "students",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("student_number", sa.String(20), nullable=False),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("birth_date", sa.Date, nullable=False),
        sa.Column("school", sa.String(200), nullable=True),
        sa.Column("ssn_last4", sa.String(4), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "ssn_last4 IS NULL OR length(ssn_last4) = 4", name="ck_students_ssn_last4_length"
        ),
    )
    op.create_index("ix_students_student_number", "students", ["student_number"], unique=True)

    op.create_table(
        "guardians",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("email", sa.String(254), nullable=True),
        # Also the index for looking guardians up by phone (its first column).
        sa.UniqueConstraint("phone", "name", name="uq_guardians_phone_name"),
    )

    op.create_table(
        "student_guardians",
        sa.Column(
            "student_id",
            sa.Integer,
            sa.ForeignKey("students.id", ondelete="CASCADE", name="fk_student_guardians_student"),
            primary_key=True,
        ),
        sa.Column(
            "guardian_id",
            sa.Integer,
            sa.ForeignKey("guardians.id", ondelete="CASCADE", name="fk_student_guardians_guardian"),
            primary_key=True,
        ),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_student_guardians_guardian_id", "student_guardians", ["guardian_id"])

    op.create_table(
        "disclosures",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "student_id",
            sa.Integer,
            sa.ForeignKey("students.id", name="fk_disclosures_student"),
            nullable=False,
        ),
        sa.Column("disclosed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("phone", sa.String(16), nullable=True),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("stir", sa.String(40), nullable=True),
    )
    op.create_index("ix_disclosures_student_id", "disclosures", ["student_id"])

    op.create_table(
        "verification_attempts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("conversation", sa.String(100), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("phone", sa.String(16), nullable=True),
        sa.Column("stir", sa.String(40), nullable=True),
        sa.Column("step", sa.String(8), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column(
            "student_id",
            sa.Integer,
            sa.ForeignKey(
                "students.id", ondelete="SET NULL", name="fk_verification_attempts_student"
            ),
            nullable=True,
        ),
    )
    op.create_index("ix_verification_attempts_student_id", "verification_attempts", ["student_id"])


def downgrade() -> None:
    op.drop_index("ix_verification_attempts_student_id", table_name="verification_attempts")
    op.drop_table("verification_attempts")
    op.drop_index("ix_disclosures_student_id", table_name="disclosures")
    op.drop_table("disclosures")
    op.drop_index("ix_student_guardians_guardian_id", table_name="student_guardians")
    op.drop_table("student_guardians")
    op.drop_table("guardians")
    op.drop_index("ix_students_student_number", table_name="students")
    op.drop_table("students")
