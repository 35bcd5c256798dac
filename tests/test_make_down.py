"""`make down` stops what launches runs before it removes the run containers.

Otherwise a sensor's run launched in between outlives the platform and keeps
its network busy, and `make down` fails (seen in CI: two run containers left).
"""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_make_down_stops_the_daemon_before_removing_run_containers():
    steps = [line for line in subprocess.run(["make", "-n", "down"], cwd=ROOT, check=True, capture_output=True,
                                             text=True).stdout.splitlines() if not line.startswith("#")]
    stop = next(i for i, line in enumerate(steps) if " stop daemon webserver" in line)
    remove = next(i for i, line in enumerate(steps) if "rm -f" in line and "dagster-platform/location" in line)
    down = next(i for i, line in enumerate(steps) if line.endswith(" down --remove-orphans"))
    assert stop < remove < down, steps
