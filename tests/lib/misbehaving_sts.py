# SPDX-License-Identifier: MIT
"""A stand-in STS that misbehaves on purpose, for what moto cannot do.

A plain HTTP server on 127.0.0.1 (a free port) that answers each request
with the next step of a script and counts what arrived:

    from misbehaving_sts import MisbehavingSTS, ok_caller_identity, error_xml

    with MisbehavingSTS([("status", 500, "oops"), ok_caller_identity()]) as s:
        run sts-probe --endpoint s.endpoint caller-identity ...
        assert s.count == 2

Steps (the last one repeats for any further request):
    ("status", code, body[, content_type])  an answer
    ("hang",)       read the request, never answer (until the server stops)
    ("close",)      read the request, close the connection without a word
    ("huge", n)     200 and n bytes of XML-ish junk, no Content-Length
    ("huge_declared", n)  the same with Content-Length: n
It never verifies signatures: it is about the transport, not about AWS.
"""
import http.server
import socket
import threading
import time

CALLER_IDENTITY = (
    '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
    "<GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/credbroker</Arn>"
    "<UserId>AIDACKCEVSQ6C2EXAMPLE</UserId><Account>123456789012</Account>"
    "</GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId>"
    "</ResponseMetadata></GetCallerIdentityResponse>")


def ok_caller_identity():
    return ("status", 200, CALLER_IDENTITY, "text/xml")


def error_xml(status, code, message):
    body = ('<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
            f"<Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            "<RequestId>1</RequestId></ErrorResponse>")
    return ("status", status, body, "text/xml")


class MisbehavingSTS:
    """Attributes: endpoint, count (requests whose headers arrived), bodies
    (their bodies, bytes), started (monotonic time of each request),
    huge_bytes_sent (bytes of a "huge" answer written before the client
    hung up or it was all sent; None until then)."""

    def __init__(self, script):
        if not script:
            raise ValueError("empty script")
        self.script = list(script)
        self.count = 0
        self.bodies = []
        self.started = []
        self.huge_bytes_sent = None  # set when a "huge" answer ends, how far it got
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = None
        self._thread = None
        self.endpoint = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def _next(self, body):
        with self._lock:
            step = self.script[min(self.count, len(self.script) - 1)]
            self.count += 1
            self.bodies.append(body)
            self.started.append(time.monotonic())
            return step

    def start(self):
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                step = outer._next(body)
                kind = step[0]
                if kind == "status":
                    data = step[2].encode() if isinstance(step[2], str) else step[2]
                    self.send_response(step[1])
                    self.send_header("Content-Type", step[3] if len(step) > 3 else "text/xml")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                elif kind == "hang":
                    outer._stop.wait(120)
                    self.close_connection = True
                elif kind == "close":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                elif kind in ("huge", "huge_declared"):
                    self._huge(step[1], kind == "huge_declared")
                else:
                    raise ValueError(kind)

            def _huge(self, total, declared):
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                if declared:
                    self.send_header("Content-Length", str(total))
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                chunk = b"<a>" + b"x" * 65530 + b"</a>"
                sent = 0
                try:
                    while sent < total and not outer._stop.is_set():
                        part = chunk[: total - sent]
                        self.wfile.write(part)
                        sent += len(part)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                outer.huge_bytes_sent = sent

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
