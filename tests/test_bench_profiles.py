"""make bench's reference profile is Dagster's defaults as deploy_docker runs
them, on our images: what our configuration adds is taken out again."""

import json
from pathlib import Path

import yaml

from tests.e2e.platform import LOCATIONS

ROOT = Path(__file__).resolve().parents[1]
PROFILE = yaml.safe_load((ROOT / "bench" / "profiles" / "reference.yaml").read_text())
OVERRIDE = yaml.safe_load((ROOT / "bench" / "compose.reference.yaml").read_text())
TUNED = yaml.safe_load((ROOT / "dagster.yaml").read_text())
COMPOSE = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())


def test_reference_run_containers_have_no_healthcheck_as_deploy_docker_images_have_none():
    assert PROFILE["run_launcher"]["config"]["container_kwargs"]["healthcheck"] == {"test": ["NONE"]}
    # The code servers keep the images' HEALTHCHECK in both profiles.
    assert all("healthcheck" not in OVERRIDE["services"][location] for location in LOCATIONS)


def test_the_reference_connects_to_postgres_directly_and_ours_through_pgbouncer():
    assert COMPOSE["x-platform-env"]["DAGSTER_PG_HOST"] == "pgbouncer"
    for service in ("webserver", "daemon", *LOCATIONS):
        assert OVERRIDE["services"][service]["environment"]["DAGSTER_PG_HOST"] == "postgres", service
    assert set(OVERRIDE["services"]["postgres"]["networks"]) == {"default", "database"}


def test_the_reference_takes_dagsters_defaults():
    assert set(PROFILE["storage"]) == {"postgres"} and set(TUNED["storage"]) == {"postgres"}
    assert "dequeue_interval_seconds" not in (PROFILE["run_coordinator"].get("config") or {})
    for location in LOCATIONS:
        assert OVERRIDE["services"][location]["environment"]["PLATFORM_SENSOR_INTERVAL_SECONDS"] == "30"


def test_the_reference_runs_pythons_own_garbage_collector_where_the_images_hold_it_back():
    """The location images set DAGSTER_PLATFORM_STARTUP_GC=defer (docs/adr/0007):
    the reference turns it off in its code servers and its run containers."""
    from platform_services import startup_gc

    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert f"{startup_gc.ENV_VAR}={startup_gc.ENABLED}" in dockerfile
    assert f"{startup_gc.ENV_VAR}=off" in PROFILE["run_launcher"]["config"]["env_vars"]
    for location in LOCATIONS:
        assert OVERRIDE["services"][location]["environment"][startup_gc.ENV_VAR] == "off", location
    assert not any(v.startswith(startup_gc.ENV_VAR) for v in TUNED["run_launcher"]["config"]["env_vars"])


def test_both_profiles_pass_no_credential_to_run_containers():
    for profile in (PROFILE, TUNED):
        names = {v.split("=")[0] for v in profile["run_launcher"]["config"]["env_vars"]}
        assert not names & {"DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}


# --- the pipeline at size (issue 21) ------------------------------------------


def test_sizes_spread_as_before_and_20m_uses_more_orders_a_day():
    from datetime import date

    from bench import run

    today = date(2026, 12, 5)  # 703 daily partitions from BENCH_DAY to yesterday
    assert run.pipeline_plan(100_000, today, 9_999) == (11, 9_090)
    assert run.pipeline_plan(1_000_000, today, 9_999) == (101, 9_900)
    assert run.pipeline_plan(5_000_000, today, 9_999) == (501, 9_980)  # the same days as every run before
    assert run.pipeline_plan(20_000_000, today, 999_999) == (703, 28_449)
    assert run.pipeline_plan(2_000, today, 9_999) == (1, 2_000)  # --quick


def test_a_size_the_generator_cannot_reach_fails_before_anything_runs():
    from datetime import date

    import pytest

    from bench import run

    with pytest.raises(SystemExit, match=r"20,000,000 orders need 28,449 a day over the 703 days .* at most 9,999"):
        run.pipeline_plan(20_000_000, date(2026, 12, 5), 9_999)


def test_the_most_orders_a_day_is_read_from_ingests_generator(tmp_path):
    from bench import run

    fake = tmp_path / "generator.py"
    fake.write_text("X = 1\nID_BLOCK = 1_000_000  # ids per day\n")
    assert run.ingest_orders_per_day_max(fake) == 999_999
    assert run.ingest_orders_per_day_max() >= run.SPREAD_PER_DAY  # the real generator's, whatever it is


def test_20m_is_opt_in_and_quick_stays_small():
    from bench import run

    default = run.parse_args([])
    assert str(run.LARGE_SIZE) not in default.sizes.split(",") and not default.large
    assert run.parse_args(["--large"]).large
    quick = run.parse_args(["--quick"])
    assert (quick.sizes, quick.landing_files, quick.pipeline_profiles) == ("2000", 300, "tuned")


def write_cgroup(base: Path, files: dict[str, str]) -> None:
    base.mkdir(parents=True)
    for name, text in files.items():
        (base / name).write_text(text)


def test_peak_memory_reads_both_cgroup_versions_without_the_page_cache(tmp_path, monkeypatch):
    """A container's cgroup holds every process of the run: worker, step processes, dbt."""
    from bench import run

    monkeypatch.setattr(run.PeakMemory, "CGROUP_ROOT", tmp_path)
    mib = 2**20
    write_cgroup(tmp_path / "memory/docker/v1", {
        "memory.usage_in_bytes": str(500 * mib), "memory.max_usage_in_bytes": str(900 * mib),
        "memory.stat": f"cache {300 * mib}\ntotal_inactive_file {100 * mib}\n"})
    write_cgroup(tmp_path / "system.slice/docker-v2.scope", {
        "memory.current": str(700 * mib), "memory.peak": str(800 * mib),
        "memory.stat": f"anon {400 * mib}\ninactive_file {200 * mib}\n"})
    write_cgroup(tmp_path / "docker/v2-old-kernel", {  # memory.peak arrived in Linux 5.19
        "memory.current": str(300 * mib), "memory.stat": "inactive_file 0\n"})
    assert run.PeakMemory.cgroup_bytes("v1") == (400 * mib, 900 * mib)
    assert run.PeakMemory.cgroup_bytes("v2") == (500 * mib, 800 * mib)
    assert run.PeakMemory.cgroup_bytes("v2-old-kernel") == (300 * mib, None)
    assert run.PeakMemory.cgroup_bytes("gone") is None

    memory = run.PeakMemory()
    for used, high in ((400 * mib, 900 * mib), (450 * mib, 950 * mib), (420 * mib, None)):
        memory.record("run-1", used, high)
    assert (memory.peaks, memory.high_water) == ({"run-1": 450.0}, {"run-1": 950.0})


def pipeline(size: int, seconds: float, peaks: tuple, error: str | None = None) -> dict:
    if error:
        return {"size": size, "orders": size, "error": error}
    runs = {name: {"seconds": 1.0, "peak_mib": peak} for name, peak in zip(("ingest", "transform", "reports"), peaks)}
    return {"size": size, "orders": size, "end_to_end_s": seconds, "s_per_million_orders": round(seconds / (size / 1e6), 1),
            "runs": runs}


def summary_with(pipelines: list[dict]) -> dict:
    empty = {key: {"n": 0} for key in ("launch_to_started_s", "launch_to_success_s", "burst_all_succeeded_s",
                                       "sensor_materialization_to_started_s", "idle_memory_mib", "warm_memory_mib")}
    return {"reference": {**empty, "pipeline": []}, "tuned": {**empty, "pipeline": pipelines}}


def test_targets_at_size_every_run_under_1_gib_and_30_s_per_million_from_5m():
    from bench import run

    summary = summary_with([
        pipeline(1_000_000, 40.0, (300.0, 600.0, 200.0)),
        pipeline(5_000_000, 140.0, (350.0, 1100.0, 210.0)),
        pipeline(20_000_000, 0, (), error="timed out"),
    ])
    got = run.targets(summary, run.ratios(summary), {})
    assert got["pipeline_1000000_every_run_peak_mib < 1024"] == {"value": 600.0, "met": True}
    assert "pipeline_1000000_s_per_million_orders <= 30" not in got  # fixed costs dominate below 5M
    assert got["pipeline_5000000_every_run_peak_mib < 1024"] == {"value": 1100.0, "met": False}
    assert got["pipeline_5000000_s_per_million_orders <= 30"] == {"value": 28.0, "met": True}
    assert got["pipeline_20000000_s_per_million_orders <= 30"] == {"value": None, "met": False}
    assert got["pipeline_20000000_completed"] == {"value": False, "met": False}


def test_targets_for_the_landing_sensor_tick_and_a_run_reading_only_its_file():
    from bench import run

    summary = summary_with([])
    landing = {"sensor_ticks": {"files": 10000, "idle_tick_s": 0.37},
               "run_reads_only_its_own_file": {"files": 10000, "other_files_read": 0}}
    got = run.targets(summary, run.ratios(summary), {}, landing)
    assert got["landing_sensor_idle_tick_10000_files_s < 1"] == {"value": 0.37, "met": True}
    assert got["landing_run_other_files_read <= 0"] == {"value": 0, "met": True}
    missing = run.targets(summary, run.ratios(summary), {},
                          {"sensor_ticks": {"error": "boom"}, "run_reads_only_its_own_file": {"missing_hook": "x"}})
    assert not any(t["met"] for name, t in missing.items() if name.startswith("landing_"))


def test_a_run_the_sampler_missed_does_not_count_as_under_the_limit():
    from bench import run

    assert run.pipeline_peak_mib(pipeline(100_000, 20.0, (300.0, None, 200.0))) is None


def test_the_table_shows_seconds_per_million_and_the_landing_figures():
    from bench import run

    summary = summary_with([pipeline(5_000_000, 140.0, (350.0, 700.0, 210.0))])
    result = {"summary": summary, "ratios": run.ratios(summary), "args": {"burst": 20, "rest_seconds": 75},
              "images_mb": {}, "targets": {}, "deploy": None,
              "landing": {"sensor_ticks": {"files": 10000, "idle_tick_s": 0.37},
                          "run_reads_only_its_own_file": {"missing_hook": "ingest.measure.own_file_run"}}}
    text = run.table(result)
    assert "| pipeline 5,000,000 orders, end to end, s (s per million orders) |" in text
    assert "140.0 (28.0; ingest 1.0 s / 350.0 MiB, transform 1.0 s / 700.0 MiB, reports 1.0 s / 210.0 MiB)" in text
    [landing] = [line for line in text.splitlines() if "ingest.measure: sensor_ticks" in line]
    assert "files 10000; idle_tick_s 0.37" in landing
    assert "missing_hook ingest.measure.own_file_run" in text


def test_the_landing_script_calls_the_hook_with_a_scratch_local_store(tmp_path):
    """bench/run.py runs it with `docker exec` in the ingest code server; here in ingest's own
    environment, with a stand-in module for ingest.measure."""
    import os
    import shutil
    import subprocess

    from bench import run

    (tmp_path / "fake_measure.py").write_text(
        "def sensor_ticks(store, n_files):\n"
        "    for i in range(n_files):\n"
        "        store.put_bytes(f'landing/orders/2025-01-01/f{i}.csv', b'x')\n"
        "    return {'files': len(store.list('landing/')), 'backend': store.backend, 'bucket': store.bucket}\n")
    uv = os.environ.get("UV") or shutil.which("uv") or "uv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "VIRTUAL_ENV"))}
    env["PYTHONPATH"] = str(tmp_path)

    def call(hook: str, module: str = "fake_measure") -> dict:
        command = run.landing_command(hook, {"n_files": 3}, module=module)
        proc = subprocess.run([uv, "run", "--frozen", *command], cwd=ROOT / "code_locations/ingest",
                              env=env, capture_output=True, text=True, timeout=600)
        return run.landing_figures(proc)

    assert call("sensor_ticks") == {"files": 3, "backend": "local", "bucket": "landing"}
    assert call("own_file_run") == {"missing_hook": "fake_measure.own_file_run"}
    assert call("sensor_ticks", module="no_such_measure") == {"missing_hook": "no_such_measure.sensor_ticks"}
    assert "error" in run.landing_figures(subprocess.CompletedProcess([], 1, "", "Traceback ...\nKeyError: 'x'"))


def test_results_are_written_after_each_round_so_a_stop_keeps_them(tmp_path, monkeypatch):
    from bench import run

    monkeypatch.setattr(run, "image_sizes", lambda: {"ingest": 438.0})
    args = run.parse_args(["--out", str(tmp_path / "results.json")])
    tuned = {"round": 1, "profile": "tuned", "launch": [{"to_started_s": 1.0, "to_success_s": 2.5}],
             "pipeline": [{"size": 20_000_000, "orders": 20_000_000, "error": "timed out"}]}
    run.write(args, 0.0, [tuned], None, None, partial=True)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["meta"]["partial"] is True
    assert saved["summary"]["tuned"]["launch_to_success_s"]["median"] == 2.5
    assert saved["summary"]["tuned"]["pipeline"][0]["error"] == "timed out"
    run.write(args, 0.0, [tuned], None, None, partial=False)
    assert json.loads((tmp_path / "results.json").read_text())["meta"]["partial"] is False
    assert not (tmp_path / "results.tmp").exists()


def test_the_reference_writes_each_event_on_its_own_and_ours_batches_a_ranged_runs():
    """DAGSTER_EVENT_BATCH_SIZE (tests/test_event_batching.py): ours in every Dagster
    process and, by name, in every run container; the reference takes Dagster's 0."""
    assert COMPOSE["x-platform-env"]["DAGSTER_EVENT_BATCH_SIZE"] == "1000"
    assert "DAGSTER_EVENT_BATCH_SIZE" in TUNED["run_launcher"]["config"]["env_vars"]
    assert not any(v.startswith("DAGSTER_EVENT_BATCH_SIZE") for v in PROFILE["run_launcher"]["config"]["env_vars"])
    for service in ("webserver", "daemon", *LOCATIONS):
        assert OVERRIDE["services"][service]["environment"]["DAGSTER_EVENT_BATCH_SIZE"] == "0", service
