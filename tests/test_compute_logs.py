"""platform_services.compute_logs: dagster-aws's S3ComputeLogManager, without the
rest of dagster-aws. Each check runs in a fresh interpreter, since what matters
is what a process imports."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ENV = {"DAGSTER_LOGS_BUCKET": "dagster-logs", "S3_ENDPOINT_URL": "http://s3:8333", "AWS_REGION": "us-east-1",
       "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


def python(code: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "AWS_"))} | ENV
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_instance_compute_log_manager_loads_without_dagster_aws():
    # What every run worker, the webserver and the daemon do with dagster.yaml.
    result = python("""
import json, sys, yaml
from dagster._serdes.config_class import ConfigurableClassData
section = yaml.safe_load(open("dagster.yaml"))["compute_logs"]
manager = ConfigurableClassData(section["module"], section["class"], yaml.safe_dump(section["config"])).rehydrate()
print(json.dumps({"class": type(manager).__name__, "bucket": manager._s3_bucket, "prefix": manager._s3_prefix,
                  "endpoint": manager._s3_session.meta.endpoint_url, "region": manager._region,
                  "upload_interval": manager.upload_interval,
                  "dagster_aws": sorted(m for m in sys.modules if m.split(".")[0] == "dagster_aws")}))
""")
    assert result == {"class": "S3ComputeLogManager", "bucket": "dagster-logs", "prefix": "compute-logs",
                      "endpoint": "http://s3:8333", "region": "us-east-1", "upload_interval": 10,
                      "dagster_aws": []}


def test_it_is_dagster_aws_class_with_the_same_config_and_keys():
    result = python("""
import json
from platform_services.compute_logs import S3ComputeLogManager as Ours
from dagster_aws.s3.compute_log_manager import S3ComputeLogManager as Theirs
from dagster._core.storage.compute_log_manager import ComputeIOType
kwargs = {"bucket": "b", "prefix": "compute-logs", "endpoint_url": "http://s3:8333", "region": "us-east-1"}
ours, theirs = Ours(**kwargs), Theirs(**kwargs)
key = ["run-1", "compute_logs", "step"]
print(json.dumps({
    "config": sorted(Ours.config_type()) == sorted(Theirs.config_type()),
    "source": Ours.__init__.__code__.co_filename == Theirs.__init__.__code__.co_filename,
    "keys": [ours._s3_key(key, ComputeIOType.STDERR), theirs._s3_key(key, ComputeIOType.STDERR)]}))
""")
    assert result["config"] and result["source"]
    assert result["keys"] == ["compute-logs/storage/run-1/compute_logs/step.err"] * 2


def test_a_process_that_imported_dagster_aws_gets_that_class():
    result = python("""
import json
import dagster_aws.s3.compute_log_manager as theirs
from platform_services import compute_logs
print(json.dumps({"same": compute_logs.S3ComputeLogManager is theirs.S3ComputeLogManager}))
""")
    assert result == {"same": True}
