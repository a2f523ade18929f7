-- Run once by the postgres image on an empty data volume (docker/compose.yml): the table the stack's cdn-urls hook
-- cleans (docker/reclaim.compose.json). redis-offload creates its archive table itself.
CREATE TABLE IF NOT EXISTS flat_file (
  id bigserial PRIMARY KEY,
  url text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
