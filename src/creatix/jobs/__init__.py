"""Canonical specs and jobs, the durable queue in the job table, and waiting for a job."""
