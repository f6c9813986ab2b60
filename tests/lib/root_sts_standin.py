# SPDX-License-Identifier: MIT
"""A STAND-IN for AWS STS, not STS: it answers every GetCallerIdentity with
the account's ROOT user, arn:aws:iam::123456789012:root.

moto never hands out root-account keys, so this is how the tests show that
the broker refuses a root key (root_key_refused) and stores nothing. It does
not check signatures; it records the Action of each request it got.

    with RootStsStandin() as sts:
        ... "aws": {"sts_endpoint": sts.endpoint} ...
        assert sts.actions == ["GetCallerIdentity"]
"""
import http.server
import threading
import urllib.parse

ROOT_ARN = "arn:aws:iam::123456789012:root"

_ANSWER = """<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>%s</Arn>
    <UserId>123456789012</UserId>
    <Account>123456789012</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>
""" % ROOT_ARN

_UNSUPPORTED = """<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>InvalidAction</Code>
  <Message>root STS stand-in: only GetCallerIdentity</Message></Error>
  <RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId>
</ErrorResponse>
"""


class RootStsStandin:
    """An HTTP server on 127.0.0.1 (free port) in a thread; .endpoint,
    .actions (the Action of every request, in order)."""

    def __init__(self):
        self.actions = []
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(n).decode(errors="replace")))
                action = form.get("Action", "")
                standin.actions.append(action)
                ok = action == "GetCallerIdentity"
                body = (_ANSWER if ok else _UNSUPPORTED).encode()
                self.send_response(200 if ok else 400)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
        return False
