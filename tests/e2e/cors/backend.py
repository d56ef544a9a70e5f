#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The backend of tests/e2e/test_l7_cors.sh: `backend.py NAME ADDR PORT`
# answers every request (any method) with 200 and the body "NAME\n", and
# prints one line per request it receives, so the test can tell which
# requests got past the gateway:
#   METHOD PATH origin=ORIGIN rid=X-REQUEST-ID body=BODY
# ("-" for an absent header). Prints "listening" once the socket is bound.
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8", "replace") if n else ""
        print(f"{self.command} {self.path} origin={self.headers.get('Origin', '-')} "
              f"rid={self.headers.get('X-Request-Id', '-')} body={body or '-'}", flush=True)
        out = (NAME + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = answer

    def log_message(self, fmt, *args):
        pass


NAME, ADDR, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])
srv = ThreadingHTTPServer((ADDR, PORT), Handler)
print(f"backend {NAME}: listening on {ADDR}:{PORT}", flush=True)
srv.serve_forever()
