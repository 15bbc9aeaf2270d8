"""The seed's original Flask app, as the baseline for `make bench-api` (dev dependency only).

Same three routes and the same bytes as api/views/seed.py answers:
`gunicorn -c gunicorn.conf.py tests.benchmarks.flask_seed:app`.
"""

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.route("/")
def index():
    return jsonify(message="This is index")


@app.route("/api/test1", methods=["GET", "POST"])
def test1():
    if request.method == "POST":
        name = request.form.get("name")
        return jsonify(message=f"Hello {name}. This is /api/test1")
    return jsonify(message="This is /api/test1")


@app.route("/api/health")
def health():
    return jsonify(message="This is /api/health")
