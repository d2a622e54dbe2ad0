"""The baseline for the intake benchmark: a bare Flask endpoint that parses the same
JSON and answers 201, served by gunicorn with exactly the settings of ``copydesk serve``."""

import argparse

from flask import Flask, jsonify, request

from copydesk.logs import JsonLogger, configure_app_logging
from copydesk.server import CopydeskServer, server_options

app = Flask(__name__)


@app.post("/api/v1/reports")
def create_report():
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return jsonify(errors={"_request": ["The body must be a JSON object."]}), 400
    return jsonify(id=1, joined=False, count=1), 201


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--bind", default="127.0.0.1:8001")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    configure_app_logging()
    options = server_options({"BIND": args.bind, "WORKERS": args.workers, "THREADS": 4, "TIMEOUT": 30})
    assert options["logger_class"] is JsonLogger
    CopydeskServer(app, options).run()
