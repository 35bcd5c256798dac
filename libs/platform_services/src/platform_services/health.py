"""The code server's health check, for Docker's HEALTHCHECK and Kubernetes' probes.

`dagster api grpc-health-check -p 4000` asks the server's standard gRPC health
service whether "DagsterApi" is SERVING, after importing all of Dagster first:
about 1 CPU-second per check on this host, every 30 s per code server. This asks
the same question with grpc alone (0.17 CPU-seconds).

Usage: python -m platform_services.health [PORT] (default 4000); exits 0 when
SERVING, 1 otherwise, with the reason on stderr.
"""

from __future__ import annotations

import sys

SERVICE = "DagsterApi"  # what dagster's gRPC server registers as SERVING once it serves
TIMEOUT_SECONDS = 5.0


def check(port: int, host: str = "127.0.0.1", timeout: float = TIMEOUT_SECONDS) -> str:
    """The service's status name (SERVING, NOT_SERVING, ...), or the gRPC error."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(f"{host}:{port}") as channel:
        try:
            response = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=SERVICE), timeout=timeout)
        except grpc.RpcError as error:
            return f"{error.code().name}: {error.details()}"
    return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and not args[0].isdigit()):
        print("usage: python -m platform_services.health [PORT]", file=sys.stderr)
        return 2
    port = int(args[0]) if args else 4000
    status = check(port)
    if status != "SERVING":
        print(f"code server on port {port}: {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
