"""What engine.testing's assertions read: the jobs of a kind matching a test's filters.

Args and metadata match by jsonb containment (`@>`): a test names the keys it
cares about. It runs on the test's own connection, inside its open transaction
too, so it sees what that transaction inserted before it commits.
"""

from engine.sql.jobs import JOB_COLUMNS

# $1 kind (NULL: any), $2 args and $3 metadata (JSON text, contained), $4 queue,
# $5 states (text[]), $6 tags (all of them), $7 priority, $8 how many.
INSERTED_JOBS = f"""
SELECT {JOB_COLUMNS} FROM pqw_job
WHERE ($1::text IS NULL OR kind = $1)
  AND ($2::text IS NULL OR args @> $2::text::jsonb)
  AND ($3::text IS NULL OR metadata @> $3::text::jsonb)
  AND ($4::text IS NULL OR queue = $4)
  AND ($5::text[] IS NULL OR state::text = ANY($5::text[]))
  AND ($6::text[] IS NULL OR tags @> $6::text[])
  AND ($7::smallint IS NULL OR priority = $7)
ORDER BY id
LIMIT $8
"""
