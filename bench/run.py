"""`make bench`: run launch latency, burst, sensor latency, deploy time, footprint
and the data pipeline at scale, on the running compose stack, for two profiles:

- reference: Dagster's defaults as the official deploy_docker example configures
  them (bench/profiles/reference.yaml, sensors at Dagster's 30 s default, the
  default multiprocess executor), on the same images;
- tuned: ours (dagster.yaml, the code as shipped).

Profiles alternate round by round in one invocation. Last, beside the stack,
stock Dagster's floor for its topology: its Dagster services on empty
definitions (bench/floor.py; `--no-floor` skips it). Writes bench/results.json
and bench/results.md (the table, also printed). The stack is left on `tuned`.

It replaces warehouse data for its own days (BENCH_DAY and after) and puts them
back to empty afterwards: run it on a development or benchmark stack.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import floor as stock_floor  # noqa: E402
from tests.e2e.platform import (  # noqa: E402 - the e2e client, shared
    DOCKER,
    LOCATIONS,
    PROJECT,
    TERMINAL,
    ServerError,
    copy_repo,
    docker,
    gql,
    inspect,
    jobs_of,
    launch,
    make,
    poll,
    probe_job_code,
    psql,
    runs,
    runs_by_id,
    runs_in_flight,
    service_container,
    wait_for_status,
    webserver_reconnected,
)

PROFILES = ("reference", "tuned")
OVERRIDE = "bench/compose.reference.yaml"
# Runs config per profile: the reference uses Dagster's default executor for
# the probe (multiprocess); ours runs one-step jobs in process.
PROBE_CONFIG = {"reference": {"execution": {"config": {"multiprocess": {}}}}, "tuned": {}}
BENCH_DAY = date(2025, 1, 1)  # the benchmark's own partitions start here
# Orders a day the pipeline spreads a size over, as far as the days since BENCH_DAY
# allow: the figures of every size up to 5M stay comparable with earlier runs.
SPREAD_PER_DAY = 9_999
INGEST_GENERATOR = ROOT / "code_locations/ingest/src/ingest/generator.py"
DEFAULT_SIZES = "100000,1000000,5000000"
# Opt-in (`--sizes ...,20000000` or `--large`): at 30 s per million orders the
# pipeline alone takes 10 minutes per profile, and the cleanup as long again.
LARGE_SIZE = 20_000_000
# Targets at size (issue 21): every run of the tuned pipeline under 1 GiB at every
# size, and at most 30 s per million orders end to end from 5M orders up.
PEAK_MIB_MAX = 1024
S_PER_MILLION_MAX = 30
S_PER_MILLION_FROM = 5_000_000
# The ingest location's own measurements (ingest.measure), run in its code
# server's container where the package is installed, on a local-folder store in
# a scratch directory: 10,000 files in the stack's landing bucket would start
# 10,000 runs.
LANDING_FILES = 10_000
TRANSIENT = (ServerError, requests.ConnectionError)
WARMUP_LAUNCHES = 2  # after each profile switch, before anything is measured
SETTLE_TICKS = 2  # ticks of every running sensor after a profile switch, before the idle footprint
# Idle is a stack nobody asks anything: the footprint waits this long after its
# last request, longer than PgBouncer's server_idle_timeout (60 s), after which
# the tuned profile's idle server connections are closed.
REST_SECONDS = 75
# Issue 22's absolute bound on the idle stack, measured on the three-location
# stack before it (docs/performance.md, Results).
IDLE_MIB_MAX = 701
DAGSTER_SERVICES = (*LOCATIONS, *stock_floor.PLATFORM_SERVICES)


def log(msg: str) -> None:
    print(f"[bench {datetime.now(timezone.utc):%H:%M:%S}] {msg}", flush=True)


def stats(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    return {"n": len(values), "min": round(min(values), 2), "median": round(statistics.median(values), 2),
            "max": round(max(values), 2)}


# --- the stack -----------------------------------------------------------------

def make_or_exit(repo: Path, *args: str) -> None:
    result = make(repo, *args)
    if result.returncode != 0:
        raise SystemExit(f"make {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def drain(timeout: float = 1800) -> None:
    poll(lambda: not runs_in_flight(), timeout=timeout, interval=1, what="the run queue to drain", transient=TRANSIENT)


INSTANCE = "{ instance { info daemonHealth { allDaemonStatuses { daemonType healthy required } } } }"


# The services both profiles share as they are, which a profile switch does not
# recreate. Each profile starts from a fresh process of each: a footprint taken
# after the other profile's work would otherwise count what that work left
# behind (Postgres's page cache; the object store's heap, which grows with the
# compute logs and data every run uploads).
SHARED_SERVICES = ("postgres", "s3")


def restart_shared_services(timeout: float = 180) -> None:
    for service in SHARED_SERVICES:
        (cid,) = service_container(service).split()
        docker("restart", cid)
        poll(lambda: inspect(cid)["State"]["Health"]["Status"] == "healthy",
             timeout=timeout, interval=1, what=f"{service} to be healthy after its restart")


def apply_profile(profile: str) -> None:
    """Recreate the services whose config differs, and wait until the daemons run it."""
    drain()
    log(f"profile {profile}: restart {', '.join(SHARED_SERVICES)}, make up")
    switched = time.time()
    restart_shared_services()
    make_or_exit(ROOT, "up", *([f"COMPOSE_OVERRIDE={OVERRIDE}"] if profile == "reference" else []))
    # A webserver make up did not recreate holds a connection per storage that the
    # restart closed; each fails one request (docs/operations.md). Not a launch.
    webserver_reconnected()

    def live():
        data = gql(INSTANCE)["instance"]
        ours = "PlatformDockerRunLauncher" in (data["info"] or "")  # the reference runs dagster_docker's own
        healthy = all(d["healthy"] for d in data["daemonHealth"]["allDaemonStatuses"] if d["required"])
        return healthy and ours == (profile == "tuned")

    poll(live, timeout=300, interval=2, what=f"the {profile} profile to be live", transient=TRANSIENT)
    # Warm-up, not measured: the recreated services finish loading and take their
    # first sensor ticks, and the first launches fill the page cache.
    launch_latency(profile, WARMUP_LAUNCHES)
    # Settled: a code server's first sensor evaluation imports what the sensor
    # needs (boto3 for ingest's landing files, say). Idle means every sensor has
    # run twice, whatever its interval, so both profiles' code servers hold it.
    poll(lambda: sensors_ticked(switched, SETTLE_TICKS), timeout=300, interval=2,
         what=f"every running sensor to tick {SETTLE_TICKS} times", transient=TRANSIENT)


SENSOR_TICKS = """{ repositoriesOrError { ... on RepositoryConnection { nodes { location { name }
  sensors { name sensorState { status ticks(limit: 5) { timestamp } } } } } } }"""


def sensors_ticked(since: float, n: int) -> bool:
    sensors = [s for repo in gql(SENSOR_TICKS)["repositoriesOrError"]["nodes"] for s in repo["sensors"]
               if s["sensorState"]["status"] == "RUNNING"]
    return bool(sensors) and all(
        sum(t["timestamp"] >= since for t in s["sensorState"]["ticks"]) >= n for s in sensors)


def docker_out(*args: str) -> str:
    return subprocess.run([DOCKER, *args], check=True, capture_output=True, text=True, timeout=120).stdout


UNITS = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "kB": 1e3, "MB": 1e6, "GB": 1e9}


def parse_size(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)\s*([A-Za-z]+)", text.strip())
    if not match:
        raise ValueError(f"unparseable size {text!r}")
    return float(match[1]) * UNITS[match[2]]


def docker_stats_bytes(*containers: str) -> dict[str, float]:
    """Memory in use per container (by name), as `docker stats` reports it."""
    out = docker_out("stats", "--no-stream", "--format", "{{.Name}}|{{.MemUsage}}", *containers)
    usage = {}
    for line in out.splitlines():
        name, mem = line.split("|")
        usage[name] = parse_size(mem.split("/")[0])
    return usage


def containers_mib(*containers: str) -> dict[str, float]:
    """MiB per container (by name)."""
    return {name: round(used / 2**20, 1) for name, used in docker_stats_bytes(*containers).items()}


def stack_memory() -> dict[str, float]:
    """MiB per running service container of the stack."""
    return containers_mib(*docker_out("ps", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}").split())


def memory_samples(samples: int, containers: Sequence[str] | None = None) -> tuple[list[float], dict[str, float]]:
    """`samples` readings of MiB per container (the stack's, or `containers`):
    the total of each reading, and the last reading."""
    totals, last = [], {}
    for _ in range(samples):
        last = stack_memory() if containers is None else containers_mib(*containers)
        totals.append(round(sum(last.values()), 1))
    return totals, last


def footprint(samples: int, rest_seconds: float = REST_SECONDS) -> dict:
    """The stack's memory once the run queue is empty (`warm_mib`), and again
    after `rest_seconds` with no request to the webserver (`idle_mib`)."""
    drain()
    warm, warm_last = memory_samples(samples)
    time.sleep(rest_seconds)  # the condition measured (no request at all), not a wait for an event
    totals, last = memory_samples(samples)
    return {"idle_mib": round(statistics.median(totals), 1), "samples_mib": totals, "per_service_mib": last,
            "rest_s": rest_seconds, "warm_mib": round(statistics.median(warm), 1), "warm_per_service_mib": warm_last}


def service_of(container: str) -> str:
    """The compose service of a stack container's name (`<project>_<service>_<n>`)."""
    return container.removeprefix(f"{PROJECT}_").rsplit("_", 1)[0]


def floor_footprint(samples: int, rest_seconds: float) -> dict:
    """Stock Dagster's floor for this topology (bench/floor.py), beside the stack."""
    return stock_floor.measure(memory=lambda names: memory_samples(samples, names), locations=LOCATIONS,
                               rest_seconds=rest_seconds, log=log)


def floor_summary(floor: dict | None, summary: dict) -> dict | None:
    """The floor, and with it what the stack's other services held at rest in the
    last tuned round: the least this topology can take on this host."""
    stack = summary["tuned"]["idle_per_service_mib"]
    if not floor or not stack:
        return floor
    return {**floor, **stock_floor.with_stack_services(floor["dagster_mib"], stack, DAGSTER_SERVICES, service_of)}


def image_sizes() -> dict[str, float]:
    tags = subprocess.run(["python3", "-m", "platformctl", "compose-env", "platform", *LOCATIONS],
                          cwd=ROOT, check=True, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "libs/platformctl/src"),
                               "PLATFORM_ROOT": str(ROOT)}).stdout.split()
    sizes = {}
    for item in tags:
        name, tag = item.split("=", 1)
        image = name.removesuffix("_TAG").lower()
        ref = f"{os.environ.get('REGISTRY', 'localhost')}/dagster-platform/{image}:{tag}"
        sizes[image] = round(int(docker_out("image", "inspect", "-f", "{{.Size}}", ref).strip()) / 1e6, 1)
    return sizes


class PeakMemory:
    """Samples the memory of every run container (label dagster/run_id) twice a
    second and keeps each run's peak in MiB.

    A container's cgroup holds all its processes: the run worker, the step
    processes the multiprocess executor starts, and the `dbt` those start, so a
    sample is the whole run. `peaks` excludes the page cache as `docker stats`
    does (the figure the targets use); `high_water` is the kernel's own peak of the
    cgroup (memory.peak, memory.max_usage_in_bytes), which misses no spike between
    two samples but counts the page cache too. Without a readable cgroup, `docker
    stats` gives `peaks` alone.
    """

    CGROUP_ROOT = Path("/sys/fs/cgroup")
    # (usage file, memory.stat key of the page cache `docker stats` leaves out,
    # high-water file) for cgroup v1 and v2.
    CGROUP_FILES = (("memory.usage_in_bytes", "total_inactive_file", "memory.max_usage_in_bytes"),
                    ("memory.current", "inactive_file", "memory.peak"))

    def __init__(self) -> None:
        self.peaks: dict[str, float] = {}
        self.high_water: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    @classmethod
    def cgroup_dirs(cls, cid: str) -> tuple[Path, ...]:
        """Where Docker puts a container's memory cgroup: v1, v2 under systemd, v2 cgroupfs."""
        root = cls.CGROUP_ROOT
        return (root / "memory/docker" / cid, root / "system.slice" / f"docker-{cid}.scope", root / "docker" / cid)

    @classmethod
    def cgroup_bytes(cls, cid: str) -> tuple[float, float | None] | None:
        """(in use without the page cache, high-water mark or None), or None without a readable cgroup."""
        for base in cls.cgroup_dirs(cid):
            for usage_file, inactive_key, peak_file in cls.CGROUP_FILES:
                if not (base / usage_file).exists():
                    continue
                try:
                    usage = int((base / usage_file).read_text())
                    stat = dict(line.split() for line in (base / "memory.stat").read_text().splitlines())
                    peak = int((base / peak_file).read_text()) if (base / peak_file).exists() else None
                except (OSError, ValueError):
                    return None
                return usage - int(stat.get(inactive_key, 0)), peak
        return None

    def record(self, run_id: str, used: float, high_water: float | None) -> None:
        self.peaks[run_id] = max(self.peaks.get(run_id, 0.0), round(used / 2**20, 1))
        if high_water is not None:
            self.high_water[run_id] = max(self.high_water.get(run_id, 0.0), round(high_water / 2**20, 1))

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                out = docker_out("ps", "-q", "--no-trunc", "--filter", "label=dagster/run_id",
                                 "--format", '{{.ID}} {{.Label "dagster/run_id"}}')
                for line in out.splitlines():
                    cid, run_id = line.split()
                    sample = self.cgroup_bytes(cid)
                    if sample is None:
                        sample = (sum(docker_stats_bytes(cid).values()), None)
                    self.record(run_id, *sample)
            except (subprocess.SubprocessError, ValueError):
                pass  # a container that ended between ps and stats
            self._stop.wait(0.5)


# --- measurements --------------------------------------------------------------

def launch_latency(profile: str, n: int) -> list[dict]:
    samples = []
    for _ in range(n):
        t0 = time.time()
        run_id = launch("housekeeping", "probe_job", PROBE_CONFIG[profile], tags={"bench/profile": profile})
        run = wait_for_status(run_id, {"SUCCESS"}, timeout=300)
        samples.append({"run_id": run_id, "to_started_s": round(run["startTime"] - t0, 2),
                        "to_success_s": round(run["endTime"] - t0, 2)})
    return samples


def burst(profile: str, n: int) -> dict:
    drain()
    t0 = time.time()
    ids = [launch("housekeeping", "probe_job", PROBE_CONFIG[profile], tags={"bench/profile": profile}) for _ in range(n)]

    def all_done():
        states = runs_by_id(ids)
        return states if len(states) == n and all(s["status"] in TERMINAL for s in states) else None

    states = poll(all_done, timeout=1200, interval=1, what=f"{n} burst runs to finish", transient=TRANSIENT)
    failed = [s["runId"] for s in states if s["status"] != "SUCCESS"]
    if failed:
        raise SystemExit(f"burst runs failed: {failed}")
    starts = sorted(s["startTime"] for s in states)
    return {"runs": n, "all_succeeded_s": round(max(s["endTime"] for s in states) - t0, 2),
            "first_started_s": round(starts[0] - t0, 2), "last_started_s": round(starts[-1] - t0, 2)}


MATERIALIZATIONS = """
query($runId: ID!) { logsForRun(runId: $runId, limit: 1000) { ... on EventConnection {
  events { __typename ... on MaterializationEvent { timestamp assetKey { path } } } } } }"""


def ingest_config(orders_per_day: int, n_customers: int) -> dict:
    return {"ops": {"raw__customers": {"config": {"n_customers": n_customers}},
                    "orders_and_payments": {"config": {"orders_per_day": orders_per_day, "n_customers": n_customers}}}}


def partition_tags(first: date, days: int) -> dict:
    if days == 1:
        return {"dagster/partition": first.isoformat()}
    last = first + timedelta(days=days - 1)
    return {"dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat()}


def ingest_orders_per_day_max(generator: Path = INGEST_GENERATOR) -> int:
    """The most orders a day ingest's generator makes (`ID_BLOCK - 1`), read from its source:
    the bench runs outside the ingest location's environment."""
    import ast

    for node in ast.parse(generator.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "ID_BLOCK" for t in node.targets):
            return int(ast.literal_eval(node.value)) - 1
    raise SystemExit(f"{generator} has no ID_BLOCK: how many orders a day can ingest generate?")


def pipeline_plan(orders: int, today: date, per_day_max: int) -> tuple[int, int]:
    """(days, orders a day) for `orders`: SPREAD_PER_DAY a day from BENCH_DAY on, more a
    day when the daily partitions up to yesterday run out."""
    available = (today - BENCH_DAY).days
    days = min(max(1, math.ceil(orders / SPREAD_PER_DAY)), available)
    per_day = orders // days
    if per_day > per_day_max:
        raise SystemExit(
            f"{orders:,} orders need {per_day:,} a day over the {available} days from {BENCH_DAY} to "
            f"yesterday, and ingest generates at most {per_day_max:,} a day")
    return days, per_day


def downstream(job: str, created_after: float, tags: dict | None = None, timeout: float = 600) -> dict:
    found = poll(lambda: runs(job, tags, created_after), timeout=timeout, interval=0.5,
                 what=f"a {job} run", transient=TRANSIENT)
    return found[0]


def sensor_latency(profile: str, n: int) -> list[dict]:
    samples = []
    for i in range(n):
        drain()
        run_id = launch("ingest", "ingest_job", ingest_config(40, 100),
                        tags={**partition_tags(BENCH_DAY + timedelta(days=i), 1), "bench/profile": profile})
        ingest = wait_for_status(run_id, {"SUCCESS"}, timeout=600)
        events = gql(MATERIALIZATIONS, runId=run_id)["logsForRun"]["events"]
        raw = [float(e["timestamp"]) / 1000 for e in events
               if e["__typename"] == "MaterializationEvent" and e["assetKey"]["path"][0] == "raw"]
        transform = downstream("transform_job", ingest["startTime"], {"transform/trigger": f"ingest-run:{run_id}"})
        started = wait_for_status(transform["runId"], {"STARTED", "SUCCESS"}, timeout=600)
        samples.append({"ingest_run": run_id, "transform_run": transform["runId"],
                        "materialization_to_started_s": round(started["startTime"] - max(raw), 2),
                        "ingest_end_to_started_s": round(started["startTime"] - ingest["endTime"], 2)})
        settle(transform["runId"], started["startTime"])
    drain()
    return samples


def settle(transform_run: str, since: float) -> None:
    """Wait for the chain a transform run starts: on its success reports_after_transform
    requests a reports run a sensor tick later, which `drain` alone can miss, and
    which would then share the CPU with the next sample."""
    if wait_for_status(transform_run, TERMINAL, timeout=900)["status"] != "SUCCESS":
        return
    reports = downstream("reports_job", since, {"reports/transform_run_id": transform_run})
    wait_for_status(reports["runId"], TERMINAL, timeout=900)


def pipeline(profile: str, orders: int) -> dict:
    """ingest (one run over as many days as `orders` needs) → transform → reports,
    each started by the platform's own sensors."""
    days, per_day = pipeline_plan(orders, datetime.now(timezone.utc).date(), ingest_orders_per_day_max())
    drain()
    customers = max(100, orders // 10)
    with PeakMemory() as memory:
        t0 = time.time()
        run_id = launch("ingest", "ingest_job", ingest_config(per_day, customers),
                        tags={**partition_tags(BENCH_DAY, days), "bench/profile": profile})
        chain = [wait_for_status(run_id, {"SUCCESS"}, timeout=3600)]
        transform = downstream("transform_job", chain[0]["startTime"], {"transform/trigger": f"ingest-run:{run_id}"})
        chain.append(wait_for_status(transform["runId"], {"SUCCESS"}, timeout=3600))
        reports = downstream("reports_job", chain[1]["startTime"])
        chain.append(wait_for_status(reports["runId"], {"SUCCESS"}, timeout=3600))
        drain()
    steps = {}
    for name, run in zip(("ingest", "transform", "reports"), chain, strict=True):
        steps[name] = {"run_id": run["runId"], "seconds": round(run["endTime"] - run["startTime"], 2),
                       "peak_mib": memory.peaks.get(run["runId"]),
                       "peak_with_cache_mib": memory.high_water.get(run["runId"])}
    end_to_end = chain[-1]["endTime"] - t0
    result = {"size": orders, "orders": days * per_day, "days": days, "orders_per_day": per_day,
              "customers": customers, "end_to_end_s": round(end_to_end, 2),
              "s_per_million_orders": round(end_to_end / (days * per_day / 1e6), 1), "runs": steps}
    cleanup(days)
    return result


def cleanup(days: int) -> None:
    """Put the benchmark's days back to empty, and wait for the transform and
    reports runs the sensors start for it: `drain` alone returns before they are
    requested, and they would then run into the next profile's switch, its idle
    footprint and its burst."""
    run_id = launch("ingest", "ingest_job", ingest_config(0, 100),
                    tags={**partition_tags(BENCH_DAY, days), "bench/cleanup": "1"})
    ingest = wait_for_status(run_id, {"SUCCESS"}, timeout=1800)
    transform = downstream("transform_job", ingest["startTime"], {"transform/trigger": f"ingest-run:{run_id}"})
    settle(transform["runId"], ingest["startTime"])
    drain()


TERMINATE = """
mutation($runId: String!) { terminateRun(runId: $runId, terminatePolicy: MARK_AS_CANCELED_IMMEDIATELY) {
  __typename ... on PythonError { message } } }"""


def stop_in_flight() -> None:
    """After a pipeline that failed or timed out: end every run it left in flight at
    once (a run stuck CANCELING would hold `drain` for its whole timeout), and cancel
    the warehouse statements they started, which a terminated run leaves running
    behind PgBouncer."""
    for run in runs_in_flight():
        gql(TERMINATE, runId=run["runId"])
    psql("SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
         "WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'")


def deploy_time(location: str) -> dict:
    """`make deploy` of a code-only change, from a copy of the checkout, then rollback."""
    marker = f"bench_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        repo = copy_repo(Path(tmp) / "repo")
        definitions = repo / f"code_locations/{location}/src/{location}/definitions.py"
        definitions.write_text(definitions.read_text() + probe_job_code(marker, "bench/run.py"))
        started = time.monotonic()
        make_or_exit(repo, "deploy", f"LOCATION={location}")
        poll(lambda: marker in jobs_of(location), timeout=120, interval=0.2, what="the new job", transient=TRANSIENT)
        deployed = time.monotonic() - started
        started = time.monotonic()
        make_or_exit(repo, "rollback", f"LOCATION={location}")
        poll(lambda: marker not in jobs_of(location), timeout=120, interval=0.2, what="the rollback",
             transient=TRANSIENT)
        rolled_back = time.monotonic() - started
    return {"location": location, "deploy_s": round(deployed, 1), "rollback_s": round(rolled_back, 1)}


# The ingest location's hooks (ingest.measure) behind each landing figure: (function,
# keyword arguments); each is called with a local-folder ObjectStore first.
LANDING_MEASUREMENTS = {
    # landing_sensor's first tick (every file new) and one with nothing new.
    "sensor_ticks": ("sensor_ticks", {}),
    # One landing file's run (landing_file set) with the others present: what it read.
    "run_reads_only_its_own_file": ("own_file_run", {}),
}

LANDING_SCRIPT = """
import importlib, json, sys, tempfile
from platform_common import ObjectStore
module, name, kwargs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
try:
    hook = getattr(importlib.import_module(module), name, None)
except ModuleNotFoundError as exc:
    if exc.name != module:
        raise
    hook = None
if hook is None:
    print(json.dumps({"missing_hook": module + "." + name}))
    raise SystemExit
with tempfile.TemporaryDirectory() as scratch:
    store = ObjectStore(backend="local", bucket="landing", local_dir=scratch)
    print(json.dumps(hook(store, **kwargs)))
"""


def landing_measurements(n_files: int) -> dict[str, dict]:
    """Each LANDING_MEASUREMENTS hook with `n_files` landing files, in the ingest code
    server's container (a process of its own there; the code server is not touched)."""
    (container,) = service_container("ingest").split()
    figures = {}
    for label, (hook, kwargs) in LANDING_MEASUREMENTS.items():
        proc = subprocess.run([DOCKER, "exec", container, *landing_command(hook, {"n_files": n_files, **kwargs})],
                              capture_output=True, text=True, timeout=1800)
        figures[label] = landing_figures(proc)
    return figures


def landing_command(hook: str, kwargs: dict, module: str = "ingest.measure") -> list[str]:
    return ["python", "-c", LANDING_SCRIPT, module, hook, json.dumps(kwargs)]


def landing_figures(proc: subprocess.CompletedProcess) -> dict:
    if proc.returncode != 0:
        return {"error": proc.stderr.strip()[-2000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- the report ----------------------------------------------------------------

def summarize(rounds: list[dict]) -> dict:
    out: dict = {}
    for profile in PROFILES:
        mine = [r for r in rounds if r["profile"] == profile]
        launches = [s for r in mine for s in r.get("launch", [])]
        sensors = [s for r in mine for s in r.get("sensor", [])]
        bursts = [r["burst"]["all_succeeded_s"] for r in mine if "burst" in r]
        idles = [r["footprint"]["idle_mib"] for r in mine if "footprint" in r]
        warms = [r["footprint"]["warm_mib"] for r in mine if "footprint" in r]
        out[profile] = {
            "launch_to_started_s": stats([s["to_started_s"] for s in launches]),
            "launch_to_success_s": stats([s["to_success_s"] for s in launches]),
            "burst_all_succeeded_s": stats(bursts),
            "sensor_materialization_to_started_s": stats([s["materialization_to_started_s"] for s in sensors]),
            "idle_memory_mib": stats(idles),
            "idle_per_service_mib": next((r["footprint"]["per_service_mib"] for r in reversed(mine) if "footprint" in r), {}),
            "warm_memory_mib": stats(warms),
            "pipeline": [p for r in mine for p in r.get("pipeline", [])],
        }
    return out


def completed_by_size(pipelines: list[dict]) -> dict[int, dict]:
    return {p["size"]: p for p in pipelines if "error" not in p}


def pipeline_peak_mib(p: dict) -> float | None:
    """The largest peak of the pipeline's runs; None if it failed or a run went unsampled."""
    peaks = [run["peak_mib"] for run in p.get("runs", {}).values()]
    return max(peaks) if peaks and None not in peaks else None


def ratio(tuned: float | None, reference: float | None) -> float | None:
    return round(tuned / reference, 2) if tuned is not None and reference else None


def ratios(summary: dict) -> dict:
    ref, ours = summary["reference"], summary["tuned"]
    out = {key: ratio(ours[key].get("median"), ref[key].get("median"))
           for key in ("launch_to_started_s", "launch_to_success_s", "burst_all_succeeded_s",
                       "sensor_materialization_to_started_s", "idle_memory_mib", "warm_memory_mib")}
    by_size = completed_by_size(ref["pipeline"])
    for size, p in completed_by_size(ours["pipeline"]).items():
        if size in by_size:
            out[f"pipeline_{size}_end_to_end_s"] = ratio(p["end_to_end_s"], by_size[size]["end_to_end_s"])
    return out


def targets(summary: dict, rat: dict, images: dict, landing: dict | None = None) -> dict:
    sensor = summary["tuned"]["sensor_materialization_to_started_s"].get("median")
    # (name, value, limit, whether the value may equal the limit)
    checks = [
        ("launch_to_success_median_ratio <= 0.5", rat["launch_to_success_s"], 0.5, True),
        ("burst_ratio <= 0.5", rat["burst_all_succeeded_s"], 0.5, True),
        ("sensor_latency_median_s < 10", sensor, 10, False),
        ("idle_memory_ratio <= 1.0", rat["idle_memory_mib"], 1.0, True),
        (f"idle_memory_mib <= {IDLE_MIB_MAX}", summary["tuned"]["idle_memory_mib"].get("median"), IDLE_MIB_MAX, True),
    ]
    checks += [(f"image_{image}_mb < 500", mb, 500, False) for image, mb in images.items() if image != "platform"]
    for p in summary["tuned"]["pipeline"]:
        size = p["size"]
        checks.append((f"pipeline_{size}_every_run_peak_mib < {PEAK_MIB_MAX}", pipeline_peak_mib(p), PEAK_MIB_MAX, False))
        if size >= S_PER_MILLION_FROM:
            checks.append((f"pipeline_{size}_s_per_million_orders <= {S_PER_MILLION_MAX}",
                           p.get("s_per_million_orders"), S_PER_MILLION_MAX, True))
    if landing:
        ticks, own = landing.get("sensor_ticks") or {}, landing.get("run_reads_only_its_own_file") or {}
        checks += [(f"landing_sensor_idle_tick_{ticks.get('files')}_files_s < 1", ticks.get("idle_tick_s"), 1, False),
                   ("landing_run_other_files_read <= 0", own.get("other_files_read"), 0, True)]
    out = {name: {"value": value,
                  "met": value is not None and (value <= limit if inclusive else value < limit)}
           for name, value, limit, inclusive in checks}
    for p in summary["tuned"]["pipeline"]:
        if p["size"] >= LARGE_SIZE:
            out[f"pipeline_{p['size']}_completed"] = {"value": "error" not in p, "met": "error" not in p}
    return out


def table(result: dict) -> str:
    s, rat = result["summary"], result["ratios"]
    rows = [("figure", "reference", "tuned", "tuned/ref")]

    def med(profile: str, key: str) -> str:
        st = s[profile][key]
        return f"{st['median']} ({st['min']}–{st['max']}, n={st['n']})" if st.get("n") else "-"

    for key, label in (("launch_to_started_s", "launch → STARTED, s"), ("launch_to_success_s", "launch → SUCCESS, s"),
                       ("burst_all_succeeded_s", f"burst of {result['args']['burst']} → all SUCCESS, s"),
                       ("sensor_materialization_to_started_s", "ingest materialization → transform STARTED, s"),
                       ("idle_memory_mib", f"idle memory of the stack ({result['args']['rest_seconds']:g} s at rest), MiB"),
                       ("warm_memory_mib", "memory of the stack as the queue empties, MiB")):
        rows.append((label, med("reference", key), med("tuned", key), str(rat.get(key))))
    ref_pipe = completed_by_size(s["reference"]["pipeline"])
    for p in s["tuned"]["pipeline"]:
        if "error" in p:
            rows.append((f"pipeline {p['size']:,} orders", "-", "failed: " + p["error"][:60], "-"))
            continue
        r = ref_pipe.get(p["size"])
        runs_ = ", ".join(f"{k} {v['seconds']} s / {v['peak_mib']} MiB" for k, v in p["runs"].items())
        rows.append((f"pipeline {p['size']:,} orders, end to end, s (s per million orders)",
                     f"{r['end_to_end_s']} ({r['s_per_million_orders']})" if r else "-",
                     f"{p['end_to_end_s']} ({p['s_per_million_orders']}; {runs_})",
                     str(rat.get(f"pipeline_{p['size']}_end_to_end_s"))))
    fl = result.get("floor")
    if fl:
        stack = {service_of(c): mib for c, mib in (result["summary"]["tuned"].get("idle_per_service_mib") or {}).items()}
        shown = ", ".join(f"{k} {v}" + (f" (stack {stack[k]})" if k in stack else "") for k, v in fl["per_service_mib"].items())
        rows.append(("stock Dagster's floor: empty locations, same images and commands, MiB", "-",
                     f"{fl['dagster_mib']} ({shown})", "-"))
        if "total_mib" in fl:
            others = ", ".join(f"{k} {v}" for k, v in fl["others_mib"].items())
            rows.append(("the floor with the stack's other services at rest, MiB", "-",
                         f"{fl['total_mib']} (+ {others}; issue 22's bound {IDLE_MIB_MAX})", "-"))
    for name, figures in (result.get("landing") or {}).items():
        shown = "; ".join(f"{k} {v}" for k, v in figures.items())
        rows.append((f"ingest.measure: {name}", "-", shown, "-"))
    if result.get("deploy"):
        d = result["deploy"]
        rows.append((f"deploy of a code-only change ({d['location']}), s", "-", f"{d['deploy_s']} (rollback {d['rollback_s']})", "-"))
    for image, mb in result["images_mb"].items():
        rows.append((f"image {image}, MB", "-", str(mb), "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines.append("")
    lines += [f"- {'met' if t['met'] else 'NOT met'}: {name} (value {t['value']})" for name, t in result["targets"].items()]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2, help="reference/tuned rounds, alternating")
    parser.add_argument("--launches", type=int, default=10, help="sequential probe runs per round")
    parser.add_argument("--burst", type=int, default=20, help="runs queued at once per round")
    parser.add_argument("--sensor-samples", type=int, default=2, help="cross-location sensor samples per round")
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="pipeline sizes in orders (first round)")
    parser.add_argument("--large", action="store_true",
                        help=f"also run the pipeline at {LARGE_SIZE:,} orders, in the tuned profile (long)")
    parser.add_argument("--landing-files", type=int, default=LANDING_FILES,
                        help="landing files for ingest's sensor measurements; 0 to skip them")
    parser.add_argument("--idle-samples", type=int, default=5)
    parser.add_argument("--rest-seconds", type=float, default=REST_SECONDS,
                        help="no requests for this long before the idle footprint")
    parser.add_argument("--floor", action=argparse.BooleanOptionalAction, default=True,
                        help="measure stock Dagster's floor for this topology beside the stack (bench/floor.py)")
    parser.add_argument("--deploy-location", default="reports", help="'' to skip the deploy measurement")
    parser.add_argument("--profiles", default=",".join(PROFILES),
                        help="profiles measured, in this order (ratios need both)")
    parser.add_argument("--pipeline-profiles", default=",".join(PROFILES), help="profiles that run the pipeline")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round, tiny figures, pipeline in tuned only")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.launches, args.burst, args.sensor_samples, args.sizes, args.idle_samples = 1, 2, 3, 1, "2000", 2
        args.rest_seconds = 0
        args.pipeline_profiles = "tuned"
        args.landing_files = min(args.landing_files, 300)
    return args


def write(args: argparse.Namespace, started: float, rounds: list[dict], deploy: dict | None,
          landing: dict | None, partial: bool, floor: dict | None = None) -> dict:
    """bench/results.json, atomically: after every round and pipeline size with
    `"partial": true` (a crash or a stop keeps what was measured), and once at the end."""
    summary = summarize(rounds)
    images = image_sizes()
    rat = ratios(summary)
    result = {
        "meta": {"started": datetime.fromtimestamp(started, timezone.utc).isoformat(), "wall_s": round(time.time() - started),
                 "host": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version(),
                 "partial": partial},
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "rounds": rounds, "summary": summary, "ratios": rat, "deploy": deploy, "landing": landing,
        "floor": floor_summary(floor, summary), "images_mb": images,
    }
    result["targets"] = targets(summary, rat, images, landing)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(args.out)
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]

    started = time.time()
    rounds: list[dict] = []
    deploy = landing = floor = None
    current = None
    try:
        for n in range(args.rounds):
            for profile in [p for p in PROFILES if p in args.profiles.split(",")]:
                current = None
                apply_profile(profile)
                current = profile
                record: dict = {"round": n + 1, "profile": profile, "restarted": list(SHARED_SERVICES)}
                # Idle: after the warm-up and before this round's work, the same
                # point for both profiles (a stack that just ran a pipeline holds more).
                log(f"round {n + 1} {profile}: idle footprint")
                record["footprint"] = footprint(args.idle_samples, args.rest_seconds)
                log(f"round {n + 1} {profile}: {args.launches} launches")
                record["launch"] = launch_latency(profile, args.launches)
                log(f"round {n + 1} {profile}: burst of {args.burst}")
                record["burst"] = burst(profile, args.burst)
                log(f"round {n + 1} {profile}: {args.sensor_samples} sensor samples")
                record["sensor"] = sensor_latency(profile, args.sensor_samples)
                if n == 0 and profile in args.pipeline_profiles.split(","):
                    record["pipeline"] = []
                    large = [LARGE_SIZE] if args.large and profile == "tuned" and LARGE_SIZE not in sizes else []
                    for size in sizes + large:
                        log(f"round {n + 1} {profile}: pipeline at {size:,} orders")
                        try:
                            record["pipeline"].append(pipeline(profile, size))
                        except (AssertionError, SystemExit) as exc:  # a size too big for the host
                            log(f"pipeline at {size:,} orders failed: {exc}")
                            record["pipeline"].append({"size": size, "orders": size, "error": str(exc)[:2000]})
                            stop_in_flight()
                            drain()
                        write(args, started, rounds + [record], deploy, landing, partial=True)
                rounds.append(record)
                write(args, started, rounds, deploy, landing, partial=True)
                if profile == "tuned" and n == 0 and args.deploy_location:
                    log(f"deploy of a code-only change to {args.deploy_location}")
                    deploy = deploy_time(args.deploy_location)
                if profile == "tuned" and n == 0 and args.landing_files:
                    log(f"ingest.measure with {args.landing_files:,} landing files")
                    landing = landing_measurements(args.landing_files)
        if args.floor:
            log("stock Dagster's floor for this topology, beside the stack")
            floor = floor_footprint(args.idle_samples, args.rest_seconds)
    finally:
        if current != "tuned":
            apply_profile("tuned")
    cleanup(max(args.sensor_samples, 1))
    result = write(args, started, rounds, deploy, landing, partial=False, floor=floor)
    text = table(result)
    args.out.with_suffix(".md").write_text(text)
    print(text)
    log(f"wrote {args.out} and {args.out.with_suffix('.md')} in {result['meta']['wall_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
