"""The baseline for the intake benchmark: a bare Flask endpoint that parses the same
JSON and answers 201, served by gunicorn with exactly the settings of ``copydesk serve``."""

from flask import Flask, jsonify, request

from copydesk import logs
from served import serve_like_copydesk

app = Flask(__name__)
app.config["SECRET_KEY"] = "bench-only-key-bench-only-key-0123"
logs.init_app(app)  # the access lines copydesk serve writes


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
    serve_like_copydesk(app, default_bind="127.0.0.1:8001")
