# SPDX-License-Identifier: MIT
"""The STS and IAM client against moto with signature and IAM checking on:
keys made in moto work, a wrong secret is refused with AWS's code, every
AssumeRole parameter reaches the server exactly, and the temporary
credentials that come back work for a further signed call."""
import calendar
import json
import os
import subprocess
import sys
import time
import unittest

from cbmoto import Moto

PROBE = os.environ.get("STS_PROBE") or os.path.join(
    os.environ.get("CB_BUILD_ROOT", "build"), "tests", "tools", "sts-probe")

SESSION_POLICY = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": "s3:*",
                   "Resource": ["arn:aws:s3:::payroll-exports", "arn:aws:s3:::payroll-exports/*"]}]},
    separators=(",", ":"))


def probe(moto, env, *args):
    """Run sts-probe; returns (exit status, {key: value}, stdout, stderr)."""
    r = subprocess.run([PROBE, "--endpoint", moto.endpoint, "--attempts", "1", *args],
                       env=env, capture_output=True, text=True, timeout=60)
    out = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    return r.returncode, out, r.stdout, r.stderr


class StsAgainstMoto(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = Moto(recording=True).start()
        try:
            cls.key = cls.moto.create_broker_user("credbroker")
            cls.role = cls.moto.create_role("ConsultantReadOnly", trusted=cls.key)
            cls.other_role = cls.moto.create_role("Admin", trusted=cls.key)
            cls.moto.allow_assume(cls.key, cls.role)   # not other_role
            cls.moto.enable_auth()
        except BaseException:
            cls.moto.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.moto.stop()

    def setUp(self):
        self.moto.reset_recording()

    def assertNoSecret(self, *texts):
        for t in texts:
            self.assertNotIn(self.key.secret_access_key, t)

    def test_caller_identity_names_the_iam_user(self):
        rc, out, so, se = probe(self.moto, self.key.env(), "caller-identity")
        self.assertEqual(rc, 0, se)
        self.assertEqual(out["arn"], "arn:aws:iam::123456789012:user/credbroker")
        self.assertEqual(out["arn"], self.key.arn)
        self.assertEqual(out["account"], "123456789012")
        self.assertNoSecret(so, se)
        # What went on the wire: a signed form POST, scoped to us-east-1/sts.
        [req] = self.moto.requests_for("GetCallerIdentity")
        self.assertEqual(req["method"], "POST")
        self.assertEqual(req["form"], {"Action": "GetCallerIdentity", "Version": "2011-06-15"})
        auth = req["headers"]["Authorization"]
        self.assertTrue(auth.startswith(
            f"AWS4-HMAC-SHA256 Credential={self.key.access_key_id}/"), auth)
        self.assertIn("/us-east-1/sts/aws4_request", auth)
        self.assertTrue(req["headers"]["Content-Type"].startswith(
            "application/x-www-form-urlencoded"))

    def test_wrong_secret_is_refused_then_the_right_one_works(self):
        env = self.key.env()
        wrong = "A" * 40
        env["AWS_SECRET_ACCESS_KEY"] = wrong
        rc, out, so, se = probe(self.moto, env, "caller-identity")
        self.assertEqual(rc, 3, so + se)
        self.assertEqual(out["error"], "sts_denied")
        self.assertEqual(out["aws_code"], "SignatureDoesNotMatch")
        self.assertEqual(out["http_status"], "403")
        self.assertIn("SignatureDoesNotMatch", se)   # the one line a user sees
        self.assertNotIn(wrong, so + se)
        self.assertEqual(len(self.moto.requests_for("GetCallerIdentity")), 1)  # not retried
        rc, out, so, se = probe(self.moto, self.key.env(), "caller-identity")
        self.assertEqual(rc, 0, se)
        self.assertEqual(out["arn"], self.key.arn)

    def test_unknown_key_is_refused(self):
        env = self.key.env()
        env["AWS_ACCESS_KEY_ID"] = "AKIAIOSFODNN7EXAMPLE"
        rc, out, so, se = probe(self.moto, env, "caller-identity")
        self.assertEqual(rc, 3, so + se)
        self.assertEqual(out["error"], "sts_denied")
        self.assertEqual(out["aws_code"], "InvalidClientTokenId")

    def test_assume_role_sends_every_parameter_and_returns_working_credentials(self):
        before = time.time()
        rc, out, so, se = probe(
            self.moto, self.key.env(), "assume-role",
            "--role-arn", self.role, "--session-name", "alice@example.com",
            "--duration", "1800", "--policy", SESSION_POLICY,
            "--policy-arn", "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "--policy-arn", "arn:aws:iam::aws:policy/AWSBillingReadOnlyAccess",
            "--external-id", "acme ext/42", "--serial-number", "arn:aws:iam::123456789012:mfa/alice",
            "--token-code", "123456", "--source-identity", "alice",
            "--tag", "broker-user=alice", "--tag", "cost centre=a+b&c",
            "--transitive-tag-key", "broker-user", "--then-caller-identity")
        self.assertEqual(rc, 0, so + se)
        self.assertTrue(out["access_key_id"].startswith("ASIA"), out)
        self.assertEqual(out["secret_access_key_length"], "40")
        self.assertGreater(int(out["session_token_length"]), 100)
        self.assertEqual(out["assumed_role_arn"],
                         "arn:aws:sts::123456789012:assumed-role/ConsultantReadOnly/alice@example.com")
        self.assertTrue(out["assumed_role_id"].endswith(":alice@example.com"))
        expiration = calendar.timegm(time.strptime(out["expiration"], "%Y-%m-%dT%H:%M:%SZ"))
        self.assertLessEqual(abs(expiration - (before + 1800)), 120)
        # The temporary credentials signed a further call: moto knew them.
        self.assertEqual(out["session_arn"], out["assumed_role_arn"])
        self.assertNoSecret(so, se)

        [req] = self.moto.requests_for("AssumeRole")
        self.assertEqual(req["form"], {
            "Action": "AssumeRole",
            "Version": "2011-06-15",
            "RoleArn": self.role,
            "RoleSessionName": "alice@example.com",
            "DurationSeconds": "1800",
            "Policy": SESSION_POLICY,
            "PolicyArns.member.1.arn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "PolicyArns.member.2.arn": "arn:aws:iam::aws:policy/AWSBillingReadOnlyAccess",
            "ExternalId": "acme ext/42",
            "SerialNumber": "arn:aws:iam::123456789012:mfa/alice",
            "TokenCode": "123456",
            "SourceIdentity": "alice",
            "Tags.member.1.Key": "broker-user",
            "Tags.member.1.Value": "alice",
            "Tags.member.2.Key": "cost centre",
            "Tags.member.2.Value": "a+b&c",
            "TransitiveTagKeys.member.1": "broker-user",
        })
        [who] = self.moto.requests_for("GetCallerIdentity")
        self.assertIn("X-Amz-Security-Token", who["headers"])
        self.assertIn(f"Credential={out['access_key_id']}/", who["headers"]["Authorization"])

    def test_assume_role_not_allowed_is_denied_once(self):
        rc, out, so, se = probe(self.moto, self.key.env(), "assume-role",
                                "--role-arn", self.other_role, "--session-name", "alice")
        self.assertEqual(rc, 3, so + se)
        self.assertEqual(out["error"], "sts_denied")
        self.assertEqual(out["aws_code"], "AccessDenied")
        self.assertIn("sts:AssumeRole", out["aws_message"])
        self.assertEqual(len(self.moto.requests_for("AssumeRole")), 1)
        # ...and the allowed role still works right after.
        rc, out, so, se = probe(self.moto, self.key.env(), "assume-role",
                                "--role-arn", self.role, "--session-name", "alice")
        self.assertEqual(rc, 0, so + se)

    def test_iam_put_role_policy(self):
        doc = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Deny", "Action": "*", "Resource": "*",
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": "2026-11-28T15:00:00Z"}}}]})
        rc, out, so, se = probe(self.moto, self.key.env(), "put-role-policy",
                                "--role-name", "ConsultantReadOnly",
                                "--policy-name", "credbroker-revoke", "--policy", doc)
        self.assertEqual(rc, 0, so + se)
        got = self.moto.client("iam").get_role_policy(RoleName="ConsultantReadOnly",
                                                       PolicyName="credbroker-revoke")
        self.assertEqual(got["PolicyDocument"], json.loads(doc))
        [req] = self.moto.requests_for("PutRolePolicy")
        self.assertEqual(req["form"]["Version"], "2010-05-08")
        self.assertIn("/us-east-1/iam/aws4_request", req["headers"]["Authorization"])
        # A role the key may not touch: refused with AWS's code.
        rc, out, so, se = probe(self.moto, self.key.env(), "put-role-policy",
                                "--role-name", "Admin", "--policy-name", "x", "--policy", doc)
        self.assertEqual(rc, 3, so + se)
        self.assertEqual(out["aws_code"], "AccessDenied")


if __name__ == "__main__":
    if not os.access(PROBE, os.X_OK):
        print(f"sts-probe not found at {PROBE}", file=sys.stderr)
        sys.exit(1)
    unittest.main(verbosity=2)
