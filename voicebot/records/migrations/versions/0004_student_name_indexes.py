"""students' first and last names, lower-cased, indexed

The unrecognised questions on the statistics page hide any word that is a student's first
or last name (voicebot.records.handoffs.Handoffs.note_unrecognised); these indexes make that
lookup a few index probes instead of a scan of the roster.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_students_first_name_lower", "students", [sa.text("lower(first_name)")])
    op.create_index("ix_students_last_name_lower", "students", [sa.text("lower(last_name)")])


def downgrade() -> None:
    op.drop_index("ix_students_last_name_lower", table_name="students")
    op.drop_index("ix_students_first_name_lower", table_name="students")
