"""moto's server as the AWS stand-in, with a fault window and WAF call counters.

Run as its own process (so a scenario can kill or inspect it without touching pytest):

    python tests/reliability/moto_faults.py --ready-file PATH

It starts moto's ThreadedMotoServer on an ephemeral loopback port and a small control
server on another, then writes {"aws_port", "control_port"} as JSON to PATH.

moto's WAFV2 backend gets deploy/moto_fixes.py's WAF fixes (as the local stack's does:
UUID lock tokens checked atomically with the update, so two writers holding one token
never both win; the 10,000-address and custom response body limits), and in this process
only:
- while a fault window is open, `update_ip_set` / `get_ip_set` raise the errors real WAF
  answers with, as moto's own JsonRESTError subclasses (so botocore sees the same HTTP
  400 + `__type` it would get from AWS), rotating through the configured codes;
- every call is counted per operation and IP set name; writes that succeeded separately.

Control endpoint (JSON):
    GET  /state   -> {"calls": {"update_ip_set:<name>": n, ...}, "writes": {...},
                      "injected": {"<code>": n}, "conflicts": {"<name>": n},
                      "faults": {...}}
    POST /faults  {"update_ip_set": [codes], "get_ip_set": [codes], "delay": seconds,
                   "read_delay": seconds}
                  opens a window (an empty body closes it); "delay" slows every
                  update_ip_set and "read_delay" every get_ip_set (WAF's real latency:
                  requests stay in flight longer)
"""

from __future__ import annotations

import argparse
import itertools
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from moto.core.exceptions import JsonRESTError
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.wafv2 import exceptions as waf_exceptions
from moto.wafv2.models import WAFV2Backend

from deploy.moto_fixes import apply_waf_fixes

MESSAGES = {
    "ThrottlingException": "Rate exceeded",
    "WAFUnavailableEntityException": (
        "AWS WAF couldn't retrieve the resource that you requested. Retry your request."
    ),
    "WAFLimitsExceededException": (
        "AWS WAF couldn't perform the operation because you exceeded your resource limit."
    ),
}


def fault(code: str) -> JsonRESTError:
    if code == "WAFOptimisticLockException":
        return waf_exceptions.WAFOptimisticLockException()
    return waf_exceptions.WAFv2ClientError(code, MESSAGES.get(code, code))


class Faults:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.config: dict = {}
        self.cycles: dict[str, itertools.cycle] = {}
        self.calls: Counter[str] = Counter()
        self.writes: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.conflicts: Counter[str] = Counter()

    def open(self, config: dict) -> None:
        with self.lock:
            self.config = config
            self.cycles = {
                op: itertools.cycle(codes)
                for op, codes in config.items()
                if op in ("update_ip_set", "get_ip_set") and codes
            }

    def before(self, operation: str, name: str) -> None:
        with self.lock:
            self.calls[f"{operation}:{name}"] += 1
            key = "delay" if operation == "update_ip_set" else "read_delay"
            delay = float(self.config.get(key, 0) or 0)
            cycle = self.cycles.get(operation)
            code = next(cycle) if cycle else None
            if code:
                self.injected[code] += 1
        if delay:
            time.sleep(delay)
        if code:
            raise fault(code)

    def state(self) -> dict:
        with self.lock:
            return {
                "calls": dict(self.calls),
                "writes": dict(self.writes),
                "injected": dict(self.injected),
                "conflicts": dict(self.conflicts),
                "faults": self.config,
            }


FAULTS = Faults()


def patch_backend() -> None:
    apply_waf_fixes()  # first: the fault window wraps the faithful fake
    original_update = WAFV2Backend.update_ip_set
    original_get = WAFV2Backend.get_ip_set

    def update_ip_set(self, name, scope, _id, description, addresses, lock_token):
        FAULTS.before("update_ip_set", name)
        try:
            result = original_update(self, name, scope, _id, description, addresses, lock_token)
        except waf_exceptions.WAFOptimisticLockException:
            with FAULTS.lock:  # a real conflict: the token was stale
                FAULTS.conflicts[name] += 1
            raise
        with FAULTS.lock:
            FAULTS.writes[name] += 1
        return result

    def get_ip_set(self, name, scope, _id):
        FAULTS.before("get_ip_set", name)
        return original_get(self, name, scope, _id)

    WAFV2Backend.update_ip_set = update_ip_set
    WAFV2Backend.get_ip_set = get_ip_set


class Control(BaseHTTPRequestHandler):
    def _answer(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._answer(FAULTS.state())

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        FAULTS.open(json.loads(self.rfile.read(length) or b"{}"))
        self._answer(FAULTS.state())

    def log_message(self, *args) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ready-file", required=True)
    args = parser.parse_args()
    patch_backend()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    aws_port = server.get_host_and_port()[1]
    control = ThreadingHTTPServer(("127.0.0.1", 0), Control)
    control.daemon_threads = True
    ready = {"aws_port": aws_port, "control_port": control.server_address[1]}
    Path(args.ready_file).write_text(json.dumps(ready))
    control.serve_forever()


if __name__ == "__main__":
    main()
