"""STAND-IN S3 server for CI: moto's S3 backend with SeaweedFS's /healthz.

Data lives in memory and is lost on restart; never use this outside tests.
"""

import sys

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

PORT = 8333


def healthz(app):
    def wrapped(environ, start_response):
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok"]
        return app(environ, start_response)

    return wrapped


if __name__ == "__main__":
    print(f"s3 stand-in (moto) on :{PORT}; ignoring args {sys.argv[1:]}", flush=True)
    app = DomainDispatcherApplication(create_backend_app)
    run_simple("0.0.0.0", PORT, healthz(app), threaded=True, use_reloader=False)
