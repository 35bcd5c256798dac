"""`make bench` runs end to end and writes valid results. No figure is asserted:
speed is measured by the benchmark, never by the test suite (docs/performance.md)."""

import json
import os
import statistics
import subprocess
import sys

from tests.e2e.platform import LOCATIONS, ROOT, docker, gql

PROFILES = {"reference", "tuned"}


def test_quick_bench_runs_both_profiles_and_writes_json_and_a_table(tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "bench/run.py", "--quick", "--out", str(out)],
        cwd=ROOT, env=os.environ, capture_output=True, text=True, timeout=3600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]

    result = json.loads(out.read_text())
    assert {r["profile"] for r in result["rounds"]} == PROFILES
    # Each profile starts from fresh processes of the services both share.
    assert all(r["restarted"] == ["postgres", "s3"] for r in result["rounds"])
    for profile in PROFILES:
        summary = result["summary"][profile]
        assert summary["launch_to_success_s"]["n"] == 2
        assert 0 < summary["launch_to_started_s"]["median"] <= summary["launch_to_success_s"]["median"]
        assert summary["burst_all_succeeded_s"]["n"] == 1
        assert summary["sensor_materialization_to_started_s"]["n"] == 1
        assert summary["idle_memory_mib"]["median"] > 0 and summary["warm_memory_mib"]["median"] > 0
    footprints = [r["footprint"] for r in result["rounds"]]
    assert all(f["rest_s"] == 0 and set(f["per_service_mib"]) == set(f["warm_per_service_mib"]) for f in footprints)
    # --quick runs the pipeline in the tuned profile only: the code path is the same.
    assert result["summary"]["reference"]["pipeline"] == []
    [pipeline] = result["summary"]["tuned"]["pipeline"]
    assert "error" not in pipeline, pipeline
    assert pipeline["orders"] == pipeline["size"] == 2000
    assert set(pipeline["runs"]) == {"ingest", "transform", "reports"}
    # Every run's peak memory was sampled (the cgroup holds its step processes too).
    assert all(run["peak_mib"] for run in pipeline["runs"].values()), pipeline["runs"]
    assert pipeline["s_per_million_orders"] > 0
    assert result["targets"]["pipeline_2000_every_run_peak_mib < 1024"]["value"] > 0
    # ingest.measure's hooks ran in the ingest code server's container, or say which is missing.
    assert set(result["landing"]) == {"sensor_ticks", "run_reads_only_its_own_file"}
    assert "error" not in result["landing"]["sensor_ticks"], result["landing"]
    own = result["landing"]["run_reads_only_its_own_file"]
    assert (own["landing_objects_read"], own["other_files_read"]) == (1, 0), own
    assert set(result["ratios"]) >= {"launch_to_success_s", "burst_all_succeeded_s", "idle_memory_mib"}
    assert result["deploy"]["location"] == "reports" and result["deploy"]["deploy_s"] > 0
    assert set(result["images_mb"]) == {"platform", *LOCATIONS}
    # Stock Dagster's floor ran beside the stack: every Dagster service of the
    # topology, empty, and the stack's other services added from the tuned round.
    floor = result["floor"]
    assert set(floor["per_service_mib"]) == {*LOCATIONS, "webserver", "daemon"}
    assert all(mib > 0 for mib in floor["per_service_mib"].values()), floor
    # The median of an even number of samples is the mean of the middle two.
    assert len(floor["samples_mib"]) == 2
    assert floor["dagster_mib"] == round(statistics.median(floor["samples_mib"]), 1)
    assert min(floor["samples_mib"]) <= floor["dagster_mib"] <= max(floor["samples_mib"])
    assert set(floor["others_mib"]) == {"postgres", "pgbouncer", "s3"}
    assert floor["total_mib"] == round(floor["dagster_mib"] + sum(floor["others_mib"].values()), 1)
    assert docker("ps", "-aq", "--filter", "label=dagster-platform.bench-floor") == ""  # removed
    assert "bench-floor-" not in docker("network", "ls", "--format", "{{.Name}}")
    assert result["targets"]["idle_memory_mib <= 701"]["value"] == result["summary"]["tuned"]["idle_memory_mib"]["median"]
    assert all(isinstance(t["met"], bool) for t in result["targets"].values())
    table = out.with_suffix(".md").read_text()
    assert table.startswith("| figure") and "launch → SUCCESS" in table and "stock Dagster's floor" in table

    # The stack is left on our profile, with the benchmark's days empty again.
    info = gql("{ instance { info } }")["instance"]["info"]
    assert "PlatformDockerRunLauncher" in info
