#!/usr/bin/python3
"""Just enough Marathon for the haproxy scenario: the apps come from a JSON file.

GET /v2/apps (and /v2/apps/{id}) answer from APPS_FILE, read on every request. While the file
EMPTY_ONCE (next to it) exists, holding a number N, GET /v2/apps answers an empty list once to
each client address, and the file is removed once N addresses had theirs (a Marathon that lost
its state for one read of every node). /v2/events is a server-sent event stream that
sends a status_update_event for every app each time the file changes. Test scaffolding only; the
cluster scenario uses the real stand-ins.
"""

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

APPS_FILE = sys.argv[2] if len(sys.argv) > 2 else "/srv/fake-marathon/apps.json"
EMPTY_ONCE = os.path.join(os.path.dirname(APPS_FILE), "EMPTY_ONCE")
EMPTIED = {}  # EMPTY_ONCE's mtime -> the client addresses that had their empty answer
LOCK = threading.Lock()


def empty_for(client):
    """True when this client gets its one empty answer of the current EMPTY_ONCE."""
    with LOCK:
        try:
            stamp = os.stat(EMPTY_ONCE).st_mtime_ns
            with open(EMPTY_ONCE, encoding="utf-8") as handle:
                wanted = int(handle.read().strip() or "1")
        except (FileNotFoundError, ValueError):
            return False
        served = EMPTIED.setdefault(stamp, set())
        if client in served:
            return False
        served.add(client)
        if len(served) >= wanted:
            os.remove(EMPTY_ONCE)
        return True


def load_apps():
    with open(APPS_FILE, encoding="utf-8") as handle:
        return json.load(handle)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        path = self.path.split("?", 1)[0]
        if path == "/v2/apps":
            if empty_for(self.client_address[0]):
                self._json(200, {"apps": []})
            else:
                self._json(200, {"apps": load_apps()})
        elif path.startswith("/v2/apps/"):
            app_id = "/" + path[len("/v2/apps/") :].strip("/")
            found = [a for a in load_apps() if a["id"] == app_id]
            if found:
                self._json(200, {"app": found[0]})
            else:
                self._json(404, {"message": f"App '{app_id}' does not exist"})
        elif path == "/v2/events":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            self.wfile.write(b'event: event_stream_attached\ndata: {"eventType":"event_stream_attached"}\n\n')
            self.wfile.flush()
            seen = os.stat(APPS_FILE).st_mtime_ns
            for _ in range(36000):  # an hour at most, then the client reconnects
                time.sleep(0.1)
                mtime = os.stat(APPS_FILE).st_mtime_ns
                if mtime == seen:
                    continue
                seen = mtime
                for app in load_apps():
                    body = {"eventType": "status_update_event", "appId": app["id"], "taskStatus": "TASK_RUNNING"}
                    self.wfile.write(f"event: status_update_event\ndata: {json.dumps(body)}\n\n".encode())
                self.wfile.flush()
        else:
            self._json(404, {"message": "not found"})

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), Handler).serve_forever()
