"""A QueuedRunCoordinator that tags every run with its code location.

Runs reach the queue from the UI, the API, schedules, sensors and backfills,
and only some of them carry job tags. Tagging at submission is the one place
every run passes, so `tag_concurrency_limits` on `dagster-platform/location`
cap each location's share of the queue: a runaway location cannot starve the
others.
"""

from dagster._core.run_coordinator import QueuedRunCoordinator, SubmitRunContext
from dagster._core.storage.dagster_run import DagsterRun

LOCATION_TAG = "dagster-platform/location"


class LocationTaggingRunCoordinator(QueuedRunCoordinator):
    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        run = context.dagster_run
        origin = run.remote_job_origin
        # The run's origin decides, whatever tag the run came with: a job that
        # tagged itself as another location would escape its own location's cap.
        if origin is not None and run.tags.get(LOCATION_TAG) != origin.location_name:
            self._instance.add_run_tags(run.run_id, {LOCATION_TAG: origin.location_name})
            tagged = self._instance.get_run_by_id(run.run_id) or run
            context = SubmitRunContext(dagster_run=tagged, workspace=context.workspace)
        return super().submit_run(context)
