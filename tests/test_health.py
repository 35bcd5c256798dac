"""platform_services.health: the code servers' health check (Docker HEALTHCHECK,
Kubernetes probes), against a real gRPC server with the standard health service,
as dagster's gRPC server registers it."""

import socket
import subprocess
import sys
from concurrent import futures

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from platform_services import health as check


@pytest.fixture
def server():
    """A gRPC server with the health service and nothing set yet; yields (port, servicer)."""
    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, grpc_server)
    port = grpc_server.add_insecure_port("127.0.0.1:0")
    grpc_server.start()
    yield port, servicer
    grpc_server.stop(grace=None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "platform_services.health", *args],
                          capture_output=True, text=True, timeout=60)


def test_a_serving_code_server_is_healthy(server):
    port, servicer = server
    servicer.set("DagsterApi", health_pb2.HealthCheckResponse.SERVING)  # what dagster's server.serve() does
    result = run(str(port))
    assert (result.returncode, result.stderr) == (0, "")


def test_not_serving_is_unhealthy_and_says_so(server):
    port, servicer = server
    servicer.set("DagsterApi", health_pb2.HealthCheckResponse.NOT_SERVING)
    result = run(str(port))
    assert result.returncode == 1
    assert result.stderr.strip() == f"code server on port {port}: NOT_SERVING"


def test_a_server_without_dagster_api_is_unhealthy(server):
    port, _ = server
    assert check.check(port).startswith("NOT_FOUND")


def test_nothing_listening_is_unhealthy():
    port = free_port()
    result = run(str(port))
    assert result.returncode == 1
    assert result.stderr.startswith(f"code server on port {port}: UNAVAILABLE")


def test_a_bad_argument_is_a_usage_error():
    result = run("four-thousand")
    assert result.returncode == 2 and "usage: python -m platform_services.health [PORT]" in result.stderr


def test_it_does_not_import_dagster(server):
    port, servicer = server
    servicer.set("DagsterApi", health_pb2.HealthCheckResponse.SERVING)
    code = ("import sys; from platform_services import health; "
            f"status = health.check({port}); "
            "print(status, sorted(m for m in sys.modules if m.split('.')[0] == 'dagster'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split(None, 1) == ["SERVING", "[]\n"]
