"""The contract with Dagster behind DAGSTER_EVENT_BATCH_SIZE (docker/compose.yaml,
the Helm chart's environment, dagster.yaml's run_launcher env_vars).

A run over a range of partitions (ingest's single-run backfills, the 5M benchmark's
501 days) reports one materialization per partition and output. With the variable
unset, Dagster stores each on its own: with Postgres, two connections and three
statements each (1,503 partitions: 39.8 s of a run that loaded nothing). Set, it
hands them to the event log storage's store_event_batch, which dagster-postgres
writes as one INSERT per output. These tests fail on a Dagster upgrade that drops
or renames the variable, or stops batching a ranged run's materializations."""

from __future__ import annotations

import dagster as dg
import pytest

DAYS = dg.DailyPartitionsDefinition(start_date="2025-01-01")
RANGE = {"dagster/asset_partition_range_start": "2025-01-01", "dagster/asset_partition_range_end": "2025-01-12"}


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run(), io_manager_key="nothing")
def daily() -> None:
    return None


class Nothing(dg.ConfigurableIOManager):
    def handle_output(self, context, obj) -> None:
        pass

    def load_input(self, context) -> None:
        return None


def stored_batches(monkeypatch: pytest.MonkeyPatch, batch_size: str | None) -> tuple[list[int], int]:
    if batch_size is None:
        monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE", raising=False)
    else:
        monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", batch_size)
    batches: list[int] = []
    with dg.instance_for_test() as instance:
        storage = type(instance.event_log_storage)
        original = storage.store_event_batch

        def spy(self, events):
            batches.append(len([e for e in events if e.dagster_event_type == dg.DagsterEventType.ASSET_MATERIALIZATION]))
            return original(self, events)

        monkeypatch.setattr(storage, "store_event_batch", spy)
        result = dg.materialize([daily], instance=instance, tags=RANGE, resources={"nothing": Nothing()})
        assert result.success
        stored = instance.fetch_materializations(daily.key, limit=100).records
    return [b for b in batches if b], len({r.partition_key for r in stored})


def test_with_the_variable_a_ranged_runs_materializations_are_stored_in_one_batch(monkeypatch):
    batches, partitions = stored_batches(monkeypatch, "1000")
    assert batches == [12]
    assert partitions == 12  # each day is still materialized on its own


def test_a_batch_is_at_most_the_variables_size(monkeypatch):
    batches, partitions = stored_batches(monkeypatch, "5")
    assert batches == [5, 5, 2] and partitions == 12


def test_without_it_dagster_stores_each_event_on_its_own(monkeypatch):
    batches, partitions = stored_batches(monkeypatch, None)
    assert batches == [] and partitions == 12
