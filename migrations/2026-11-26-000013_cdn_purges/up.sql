-- A CDN purge takes over the other purges not yet sent (`cdn::queue::take_over`): find them
-- without reading the finished jobs kept for a week.
CREATE INDEX jobs_active_by_kind ON jobs (kind, id) WHERE state IN ('queued', 'running');
