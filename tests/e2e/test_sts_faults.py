# SPDX-License-Identifier: MIT
"""The STS client against a misbehaving stand-in STS (tests/lib/
misbehaving_sts.py): what is retried and how often, what is not, and that
hostile answers are refused quickly. Every case checks the error code and
the number of requests that reached the server."""
import json
import os
import subprocess
import sys
import time
import unittest

from cbbroker import deadline_poll
from cbmoto import free_port
from misbehaving_sts import MisbehavingSTS, error_xml, ok_caller_identity

PROBE = os.environ.get("STS_PROBE") or os.path.join(
    os.environ.get("CB_BUILD_ROOT", "build"), "tests", "tools", "sts-probe")

KEY_ENV = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDEXAMPLE",
               AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
KEY_ENV.pop("AWS_SESSION_TOKEN", None)

ATTEMPTS = 3


def probe(endpoint, *args, attempts=ATTEMPTS, timeout_ms=1000, backoff_ms=20):
    """Run sts-probe with short timeouts; returns (status, {k: v}, elapsed s, stderr)."""
    t = time.monotonic()
    r = subprocess.run([PROBE, "--endpoint", endpoint, "--attempts", str(attempts),
                        "--connect-timeout-ms", "500", "--timeout-ms", str(timeout_ms),
                        "--backoff-ms", str(backoff_ms), *args],
                       env=KEY_ENV, capture_output=True, text=True, timeout=60)
    out = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    return r.returncode, out, time.monotonic() - t, r.stderr


class Faults(unittest.TestCase):
    def run_case(self, script, *args, **kw):
        with MisbehavingSTS(script) as s:
            rc, out, elapsed, err = probe(s.endpoint, *(args or ("caller-identity",)), **kw)
            return rc, out, elapsed, s

    def test_500_then_success_is_retried(self):
        rc, out, _, s = self.run_case([("status", 500, "<html>oops</html>"), ok_caller_identity()])
        self.assertEqual(rc, 0, out)
        self.assertEqual(out["arn"], "arn:aws:iam::123456789012:user/credbroker")
        self.assertEqual(s.count, 2)
        self.assertEqual(s.bodies[0], s.bodies[1])  # the same call again

    def test_503_every_time_gives_up_after_the_attempts(self):
        rc, out, _, s = self.run_case([error_xml(503, "ServiceUnavailable", "busy")])
        self.assertEqual((rc, out["error"], out["http_status"]), (4, "sts_unavailable", "503"))
        self.assertEqual(out["aws_code"], "ServiceUnavailable")
        self.assertEqual(s.count, ATTEMPTS)

    def test_throttling_is_retried_and_bounded(self):
        for code in ("Throttling", "ThrottlingException", "RequestLimitExceeded"):
            with self.subTest(code=code):
                rc, out, _, s = self.run_case([error_xml(400, code, "Rate exceeded")])
                self.assertEqual((rc, out["error"], out["aws_code"]), (4, "sts_unavailable", code))
                self.assertEqual(s.count, ATTEMPTS)

    def test_throttling_then_success_recovers(self):
        throttle = ("status", 400, json.dumps({"Error": {"Code": "Throttling", "Message": "slow"}}),
                    "application/json")
        rc, out, _, s = self.run_case([throttle, throttle, ok_caller_identity()])
        self.assertEqual(rc, 0, out)
        self.assertEqual(s.count, 3)

    def test_backoff_waits_longer_each_time(self):
        rc, out, _, s = self.run_case([("status", 500, "x")], attempts=3, backoff_ms=200)
        self.assertEqual((rc, s.count), (4, 3))
        gaps = [b - a for a, b in zip(s.started, s.started[1:])]
        # Jittered between half and all of 200 ms, then of 400 ms.
        self.assertGreaterEqual(gaps[0], 0.1, gaps)
        self.assertGreaterEqual(gaps[1], 0.2, gaps)
        self.assertLess(sum(gaps), 2.0, gaps)

    def test_access_denied_is_not_retried(self):
        rc, out, _, s = self.run_case(
            [error_xml(403, "AccessDenied", "User: arn:aws:iam::123456789012:user/x is not authorized"),
             ok_caller_identity()])
        self.assertEqual((rc, out["error"], out["aws_code"]), (3, "sts_denied", "AccessDenied"))
        self.assertEqual(out["http_status"], "403")
        self.assertEqual(s.count, 1)

    def test_other_4xx_is_not_retried(self):
        for code in ("ValidationError", "ExpiredToken", "RegionDisabledException"):
            with self.subTest(code=code):
                rc, out, _, s = self.run_case([error_xml(400, code, "no"), ok_caller_identity()])
                self.assertEqual((rc, out["error"], out["aws_code"]), (3, "sts_denied", code))
                self.assertEqual(s.count, 1)

    def test_truncated_xml_is_a_bad_response(self):
        body = ok_caller_identity()[2]
        rc, out, _, s = self.run_case([("status", 200, body[: len(body) // 2])])
        self.assertEqual((rc, out["error"]), (5, "sts_bad_response"))
        self.assertEqual(s.count, 1)

    def test_garbage_is_a_bad_response(self):
        rc, out, _, s = self.run_case([("status", 200, bytes(range(256)) * 4, "text/xml")])
        self.assertEqual((rc, out["error"]), (5, "sts_bad_response"))
        self.assertEqual(s.count, 1)

    def test_4xx_without_an_error_document_is_a_bad_response(self):
        rc, out, _, s = self.run_case([("status", 403, "<html>proxy says no</html>", "text/html")])
        self.assertEqual((rc, out["error"], out["http_status"]), (5, "sts_bad_response", "403"))
        self.assertEqual(s.count, 1)

    def test_50_mb_body_is_refused_quickly(self):
        for kind in ("huge", "huge_declared"):
            with self.subTest(kind=kind):
                with MisbehavingSTS([(kind, 50 * 1024 * 1024)]) as s:
                    rc, out, elapsed, err = probe(s.endpoint, "caller-identity", timeout_ms=10000)
                    self.assertEqual((rc, out["error"]), (5, "sts_bad_response"), err)
                    self.assertIn("1 MiB", out["aws_message"])
                    self.assertEqual(s.count, 1)
                    self.assertLess(elapsed, 5.0)
                    # The client hung up long before the end: it was not buffered.
                    deadline_poll(lambda: s.huge_bytes_sent is not None, 10, "server side")
                    self.assertLess(s.huge_bytes_sent, 25 * 1024 * 1024)

    def test_silent_server_times_out_boundedly(self):
        rc, out, elapsed, s = self.run_case([("hang",)], attempts=2, timeout_ms=1000)
        self.assertEqual((rc, out["error"], out["http_status"]), (4, "sts_unavailable", "0"))
        self.assertIn("imeout", out["aws_message"])
        self.assertEqual(s.count, 2)
        self.assertGreaterEqual(elapsed, 2.0)
        self.assertLess(elapsed, 8.0)

    def test_connection_closed_without_answer_is_retried(self):
        rc, out, _, s = self.run_case([("close",), ok_caller_identity()])
        self.assertEqual(rc, 0, out)
        self.assertEqual(s.count, 2)

    def test_connection_refused(self):
        port = free_port()   # nothing listens there
        rc, out, elapsed, err = probe(f"http://127.0.0.1:{port}", "caller-identity")
        self.assertEqual((rc, out["error"], out["http_status"]), (4, "sts_unavailable", "0"))
        self.assertIn("connect", out["aws_message"].lower())
        self.assertLess(elapsed, 5.0)

    def test_json_answers(self):
        body = json.dumps({"AssumeRoleResponse": {"AssumeRoleResult": {
            "AssumedRoleUser": {"Arn": "arn:aws:sts::123456789012:assumed-role/R/alice",
                                "AssumedRoleId": "AROAEXAMPLE:alice"},
            "Credentials": {"AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "s" * 40,
                            "SessionToken": "t" * 500, "Expiration": 1.8e9},
            "SourceIdentity": "alice"}}})
        rc, out, _, s = self.run_case([("status", 200, body, "application/json")],
                                      "--json", "assume-role", "--role-arn",
                                      "arn:aws:iam::123456789012:role/R", "--session-name", "alice")
        self.assertEqual(rc, 0, out)
        self.assertEqual(out["expiration"], "2027-01-15T08:00:00Z")
        self.assertEqual(out["source_identity"], "alice")
        self.assertEqual(out["session_token_length"], "500")
        self.assertNotIn("s" * 40, json.dumps(out))
        self.assertEqual(s.count, 1)

    def test_remote_plain_http_is_refused_before_any_request(self):
        rc, out, _, _ = probe("http://sts.amazonaws.com", "caller-identity")
        self.assertEqual((rc, out.get("error")), (2, "bad_request"))


if __name__ == "__main__":
    if not os.access(PROBE, os.X_OK):
        print(f"sts-probe not found at {PROBE}", file=sys.stderr)
        sys.exit(1)
    unittest.main(verbosity=2)
