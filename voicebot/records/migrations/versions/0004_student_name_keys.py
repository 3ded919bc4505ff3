"""students' first and last names as keys (accents, apostrophes and hyphens out), indexed

The unrecognised questions on the statistics page hide any word that is a student's first
or last name (voicebot.records.handoffs.Handoffs.note_unrecognised); these columns, filled by
the roster import, make that lookup a few index probes and let "jose" find "José".

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from voicebot.records.names import name_key

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_BATCH = 5000


def upgrade() -> None:
    op.add_column("students", sa.Column("first_name_key", sa.String(100), nullable=True))
    op.add_column("students", sa.Column("last_name_key", sa.String(100), nullable=True))
    students = sa.table(
        "students",
        sa.column("id", sa.Integer),
        sa.column("first_name", sa.String),
        sa.column("last_name", sa.String),
        sa.column("first_name_key", sa.String),
        sa.column("last_name_key", sa.String),
    )
    conn = op.get_bind()
    last_id = 0
    while True:
        rows = conn.execute(
            sa.select(students.c.id, students.c.first_name, students.c.last_name)
            .where(students.c.id > last_id)
            .order_by(students.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        conn.execute(
            students.update()
            .where(students.c.id == sa.bindparam("row_id"))
            .values(first_name_key=sa.bindparam("first"), last_name_key=sa.bindparam("last")),
            [
                {
                    "row_id": row.id,
                    "first": name_key(row.first_name),
                    "last": name_key(row.last_name),
                }
                for row in rows
            ],
        )
        last_id = rows[-1].id
    op.create_index("ix_students_first_name_key", "students", ["first_name_key"])
    op.create_index("ix_students_last_name_key", "students", ["last_name_key"])


def downgrade() -> None:
    op.drop_index("ix_students_last_name_key", table_name="students")
    op.drop_index("ix_students_first_name_key", table_name="students")
    with op.batch_alter_table("students") as batch:
        batch.drop_column("last_name_key")
        batch.drop_column("first_name_key")
