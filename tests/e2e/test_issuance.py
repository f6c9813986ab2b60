# SPDX-License-Identifier: MIT
"""MFA-gated issuance end to end: moto with signature checking, recording
and AWS's managed policies; a ConsultantReadOnly role trusting the broker's
IAM user; a broker user alice bound to our uid, enrolled with the otpauth URI
`credbroker admin user add` prints, codes from oathtool.

What a user depends on, each with its figures in the log:
- issue returns credentials that work (GetCallerIdentity shows
  assumed-role/ConsultantReadOnly/alice); the AssumeRole that reached "AWS"
  carries RoleSessionName and SourceIdentity alice, the clamped duration
  (7200 -> 3600, 60 -> 900), the session policy with the Deny on
  payroll-exports and payroll-exports/*, PolicyArns.member.1.arn, the tags.
- every refusal has its code AND an audit record with that reason, and the
  right request still works afterwards: totp_invalid, totp_replayed (also
  after a restart), locked (even with a correct code) until admin unlock,
  user_disabled until enable, grant_expired, not_granted, profile_unknown,
  unauthorized (another uid's user, or no such user).
- `admin audit verify` counts every record; a changed byte is named by line;
  no secret key, session token or TOTP code is in the audit log.
- with the audit log's filesystem full, issue answers audit_unavailable and
  hands out nothing; with space again it issues, and the chain verifies.

Each TOTP time step is accepted once per user, ever: codes are taken for
successive steps inside the +-skew window (oathtool --now), waiting for the
clock (polled) only when the window is used up.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

from cbbroker import Broker, check, deadline_poll, otpauth_secret, totp_code
from cbmoto import Moto, Key

SKEW = 4
STEP = 30
READONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
BILLING = "arn:aws:iam::aws:policy/AWSBillingReadOnlyAccess"


class Codes:
    """Fresh TOTP codes for one user: each for a step after the last one
    handed out, inside the window the broker accepts now."""

    def __init__(self, secret, skew):
        self.secret = secret
        self.skew = skew
        self.last = -1
        self.used = []

    def fresh(self):
        def pick():
            now = int(time.time()) // STEP
            # now-skew may leave the window before the broker sees it: not it.
            lo = max(self.last + 1, now - self.skew + 1)
            return lo if lo <= now + self.skew else None
        step = deadline_poll(pick, (self.skew + 2) * STEP, "a fresh TOTP step", interval=0.5)
        self.last = step
        code = totp_code(self.secret, at=step * STEP)
        self.used.append(code)
        return code

    def wrong(self):
        """A code valid for no step near now."""
        now = int(time.time()) // STEP
        near = {totp_code(self.secret, at=(now + d) * STEP) for d in range(-self.skew - 2, self.skew + 3)}
        c = 0
        while f"{c:06d}" in near:
            c += 1
        return f"{c:06d}"


def main():
    src = os.environ.get("CB_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
    policy_file = os.path.abspath(os.path.join(src, "policies", "deny-secret-data.json"))
    assert os.path.exists(policy_file), policy_file

    auditfs = tempfile.mkdtemp(prefix="cbauditfs-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", auditfs], check=True)
    try:
        run(policy_file, auditfs)
    finally:
        subprocess.run(["umount", auditfs], check=False)
        os.rmdir(auditfs)
    print("issuance: all checks passed")


def run(policy_file, auditfs):
    with Moto(recording=True, load_managed_policies=True) as moto:
        key = moto.create_broker_user("credbroker")
        role = moto.create_role("ConsultantReadOnly", trusted=key)
        moto.allow_assume(key, role)
        # A role the broker's IAM user is not allowed to assume.
        forbidden = moto.create_role("AuditorReadOnly", trusted=key)
        moto.enable_auth()

        profiles = {
            "consultant-readonly": {"role_arn": role, "policy_arns": [READONLY], "policy": policy_file,
                                    "confidential_buckets": ["payroll-exports"], "max_duration": "1h",
                                    "source_identity": True},
            "billing": {"role_arn": role, "policy_arns": [BILLING], "max_duration": "1h"},
            "auditor": {"role_arn": forbidden, "policy_arns": [READONLY], "max_duration": "1h"},
        }
        audit_path = os.path.join(auditfs, "audit.jsonl")
        totp = {"skew_steps": SKEW, "max_failures": 3, "lockout_seconds": 60}
        with Broker(moto, profiles=profiles, totp=totp, audit_path=audit_path) as b:
            b.cli("admin", "key", "add", "main", input=f"{key.access_key_id} {key.secret_access_key}",
                  check=True)
            uid = os.getuid()
            r = b.cli("admin", "user", "add", "alice", "--profiles", "consultant-readonly", "--uid",
                      str(uid), check=True)
            uri = r.stdout.strip()
            check(uri.startswith("otpauth://totp/credbroker:alice?secret=") and "issuer=credbroker" in uri
                  and "\n" not in uri, f"user add prints only the otpauth URI when stdout is not a terminal")
            codes = Codes(otpauth_secret(uri), SKEW)
            b.cli("admin", "user", "add", "carol", "--profiles", "consultant-readonly", "--uid", "4242",
                  check=True)

            secrets = []  # every session secret and token handed out

            def issue(user="alice", profile="consultant-readonly", code=None, duration=None):
                req = {"op": "issue", "user": user, "profile": profile,
                       "code": code if code is not None else codes.fresh()}
                if duration is not None:
                    req["duration"] = duration
                r = b.request(req, timeout=60)
                if r.get("ok"):
                    secrets.extend([r["secret_access_key"], r["session_token"]])
                return r

            def last_audit():
                with open(audit_path) as f:
                    return json.loads(f.read().splitlines()[-1])

            def refused(r, code, user, what):
                got = r.get("error", {}).get("code")
                rec = last_audit()
                check(r.get("ok") is False and got == code and "access_key_id" not in r and
                      rec["outcome"] == "refused" and rec["reason"] == code and rec.get("user") == user,
                      f"{what}: {code} ({r.get('error', {}).get('message')}); audit reason {rec['reason']}")

            # 1. Issue, 7200 s asked: 3600 granted; the AssumeRole that went out.
            moto.reset_recording()
            r = issue(duration=7200)
            check(r.get("ok") is True and r["duration"] == 3600 and r.get("source_identity", "alice") == "alice" and
                  r["assumed_role_arn"].endswith(":assumed-role/ConsultantReadOnly/alice"),
                  f"issue: credentials for {r.get('assumed_role_arn')}, duration 7200 -> {r.get('duration')}")
            ar = moto.requests_for("AssumeRole")
            check(len(ar) == 1, "one AssumeRole reached AWS")
            f = ar[0]["form"]
            check(f.get("RoleArn") == role and f.get("RoleSessionName") == "alice" and
                  f.get("SourceIdentity") == "alice" and f.get("DurationSeconds") == "3600",
                  "AssumeRole: RoleSessionName=alice SourceIdentity=alice DurationSeconds=3600")
            check(f.get("PolicyArns.member.1.arn") == READONLY and "PolicyArns.member.2.arn" not in f,
                  f"AssumeRole: PolicyArns.member.1.arn={READONLY}")
            pol = json.loads(f["Policy"])
            denies = [s for s in pol["Statement"] if s["Effect"] == "Deny"]
            res = [x for s in denies for x in ([s["Resource"]] if isinstance(s.get("Resource"), str)
                                               else s.get("Resource", []))]
            check("arn:aws:s3:::payroll-exports" in res and "arn:aws:s3:::payroll-exports/*" in res and
                  any("secretsmanager:GetSecretValue" in (s["Action"] if isinstance(s["Action"], list)
                                                          else [s["Action"]]) for s in denies) and
                  len(f["Policy"]) <= 2048,
                  f"AssumeRole: the session policy ({len(f['Policy'])} chars) denies payroll-exports and /*, "
                  "and keeps the policy file's Deny")
            tags = {f.get(f"Tags.member.{i}.Key"): f.get(f"Tags.member.{i}.Value") for i in (1, 2)}
            check(tags == {"credbroker-user": "alice", "credbroker-profile": "consultant-readonly"} and
                  f.get("TransitiveTagKeys.member.1") == "credbroker-user",
                  f"AssumeRole: tags {tags}, transitive credbroker-user")
            sts = moto.client("sts", key=Key("", "", r["access_key_id"], r["secret_access_key"]),
                              session_token=r["session_token"])
            arn = sts.get_caller_identity()["Arn"]
            check(arn == "arn:aws:sts::123456789012:assumed-role/ConsultantReadOnly/alice",
                  f"the credentials work: GetCallerIdentity says {arn}")
            rec = last_audit()
            check(rec["event"] == "issue" and rec["outcome"] == "ok" and rec["user"] == "alice" and
                  rec["access_key_id"] == r["access_key_id"] and rec["duration"] == 3600 and
                  rec["source_identity"] == "alice" and rec["uid"] == uid,
                  "the issuance is in the audit log with user, key id, duration, source identity, uid")

            # 2. 60 s asked: raised to 900.
            moto.reset_recording()
            r = issue(duration=60)
            f = moto.requests_for("AssumeRole")[0]["form"]
            check(r.get("ok") and r["duration"] == 900 and f.get("DurationSeconds") == "900",
                  "duration 60 -> 900 (answer and AssumeRole)")

            # 3. A wrong code, then the right one still works.
            r = issue(code=codes.wrong())
            refused(r, "totp_invalid", "alice", "a wrong code")
            good = codes.fresh()
            r = issue(code=good)
            check(r.get("ok") is True, "after a wrong code the right one works")

            # 4. The same code again: replayed, also after a restart.
            refused(issue(code=good), "totp_replayed", "alice", "the same code again")
            b.restart()
            refused(issue(code=good), "totp_replayed", "alice", "the same code after a broker restart")
            refused(issue(code=" " + good[:3] + " " + good[3:]), "totp_replayed", "alice",
                    "the same code typed with spaces")

            # A replayed code is a failed second factor too: three in a row lock.
            st = b.request({"op": "status", "user": "alice"})
            check("locked_until" in st, f"the 3 replays count as failures: locked until {st.get('locked_until')}")
            b.cli("admin", "user", "unlock", "alice", check=True)

            # 5. Lockout after max_failures (3), even for a correct code; unlock clears it.
            refused(issue(code=codes.wrong()), "totp_invalid", "alice", "wrong code 1 of 3")
            refused(issue(code=codes.wrong()), "totp_invalid", "alice", "wrong code 2 of 3")
            refused(issue(code=codes.wrong()), "locked", "alice", "wrong code 3 of 3 locks")
            good = codes.fresh()
            refused(issue(code=good), "locked", "alice", "locked even with a correct code")
            st = b.request({"op": "status", "user": "alice"})
            check("locked_until" in st, f"status shows locked_until {st.get('locked_until')}")
            r = b.cli("admin", "user", "list", check=True)
            check("locked until" in r.stdout, "admin user list shows the lock")
            b.cli("admin", "user", "unlock", "alice", check=True)
            r = issue(code=good)
            check(r.get("ok") is True, "after admin user unlock a correct fresh-step code works")

            # 6. Disabled, then enabled.
            b.cli("admin", "user", "disable", "alice", check=True)
            good = codes.fresh()
            refused(issue(code=good), "user_disabled", "alice", "a disabled user")
            b.cli("admin", "user", "enable", "alice", check=True)
            check(issue(code=good).get("ok") is True, "enabled again, the same (unused) code works")

            # 7. Grants: not granted, unknown profile, another uid's user, no such user.
            refused(issue(profile="billing", code=codes.wrong()), "not_granted", "alice", "profile not granted")
            refused(issue(profile="nope", code=codes.wrong()), "profile_unknown", "alice", "unknown profile")
            refused(issue(user="carol", code="123456"), "unauthorized", "carol",
                    f"carol is bound to uid 4242, we are uid {uid}")
            refused(issue(user="nosuch", code="123456"), "unauthorized", "nosuch",
                    "no such user: the same answer as another uid's user")

            # 7b. STS says no: the error carries AWS's code and says how to fix it.
            r = b.cli("admin", "user", "add", "erin", "--profiles", "auditor", "--uid", str(uid), check=True)
            erin = Codes(otpauth_secret(r.stdout.strip()), SKEW)
            r = issue(user="erin", profile="auditor", code=erin.fresh())
            refused(r, "sts_denied", "erin", "a role the broker's IAM user may not assume")
            msg = r.get("error", {}).get("message", "")
            check("AccessDenied" in msg and "broker-user-policy.json" in msg and "trust policy" in msg
                  and "sts:SetSourceIdentity" in msg,
                  f"the refusal names AWS's code and the fix: {msg}")

            # 8. Expiry: in the past is refused at add; a few seconds ahead expires.
            r = b.cli("admin", "user", "add", "dave", "--profiles", "consultant-readonly", "--uid", str(uid),
                      "--expires", "2020-01-01", check=False)
            check(r.returncode != 0 and "(bad_request)" in r.stderr and "past" in r.stderr,
                  f"--expires in the past is refused: {r.stderr.strip()}")
            r = b.cli("admin", "user", "add", "dave", "--profiles", "consultant-readonly", "--uid", str(uid),
                      "--expires", "9999-12-31", check=False)
            check(r.returncode != 0 and "(bad_request)" in r.stderr and "9999-12-31" in r.stderr,
                  f"--expires beyond what users.json can hold is refused: {r.stderr.strip()}")
            until = int(time.time()) + 3
            when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(until))
            r = b.cli("admin", "user", "add", "dave", "--profiles", "consultant-readonly", "--uid", str(uid),
                      "--expires", when, check=True)
            dave = Codes(otpauth_secret(r.stdout.strip()), SKEW)
            deadline_poll(lambda: time.time() > until + 0.5, 10, "dave's expiry")
            refused(issue(user="dave", code=dave.fresh()), "grant_expired", "dave", f"expired at {when}")
            users = json.loads(b.cli("admin", "user", "list", "--json", check=True).stdout)
            check([u["expired"] for u in users if u["name"] == "dave"] == [True], "user list says expired")

            # 9. The audit log: every record verifies; a changed byte is named.
            with open(audit_path, "rb") as fh:
                lines = fh.read().splitlines(keepends=True)
            r = b.cli("admin", "audit", "verify", check=True)
            check(f"{len(lines)} records, chain OK" in r.stdout, f"audit verify: {r.stdout.strip()}")
            text = b"".join(lines).decode()
            leaked = [s for s in secrets if s in text]
            check(not leaked and len(secrets) >= 10,
                  f"none of the {len(secrets) // 2} sessions' secret keys or tokens is in the audit log")
            values = {v for l in lines for v in json.loads(l).values() if isinstance(v, str)}
            codes_seen = [c for c in codes.used + dave.used if c in values or f'"{c}"' in text]
            check(not codes_seen, f"none of the {len(codes.used) + len(dave.used)} TOTP codes is in the audit log")
            n = 5
            bad = lines[n - 1].replace(b'"user":"alice"', b'"user":"alicf"', 1)
            assert bad != lines[n - 1]
            with open(audit_path, "wb") as fh:
                fh.write(b"".join(lines[:n - 1] + [bad] + lines[n:]))
            r = b.cli("admin", "audit", "verify", check=False)
            check(r.returncode != 0 and "(audit_broken)" in r.stderr and f"line {n}" in r.stderr and
                  r.stderr.count("\n") == 1, f"one changed byte: {r.stderr.strip()}")
            with open(audit_path, "wb") as fh:
                fh.write(b"".join(lines))
            b.cli("admin", "audit", "verify", check=True)

            # The last record cut off: a shorter chain is still a chain, but the
            # sealed head file names a record the log no longer has; and a
            # restarted broker will not go on from such a log.
            with open(audit_path, "wb") as fh:
                fh.write(b"".join(lines[:-1]))
            r = b.cli("admin", "audit", "verify", check=False)
            check(r.returncode != 0 and "(audit_broken)" in r.stderr and "records removed at the end" in r.stderr,
                  f"the last record removed: {r.stderr.strip()}")
            b.stop()
            r = b.run_daemon()
            check(r.returncode != 0 and "its end does not verify" in r.stderr and r.stderr.count("\n") == 1,
                  f"...and the broker refuses to start on it: {r.stderr.strip()}")
            with open(audit_path, "wb") as fh:
                fh.write(b"".join(lines))
            b.start()
            b.cli("admin", "audit", "verify", check=True)

            # 10. The audit log's filesystem full: nothing is issued.
            filler = os.path.join(auditfs, "filler")
            fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
            for chunk in (65536, 4096, 512, 1):  # to the last byte
                try:
                    while True:
                        os.write(fd, b"\0" * chunk)
                except OSError:
                    pass
            os.close(fd)
            # The log's last page may still have room (tmpfs allocates whole
            # pages): refusals, each audited, use it up until one cannot be.
            for _ in range(64):
                size_before = os.path.getsize(audit_path)
                b.request({"op": "issue", "user": "alice", "profile": "nope", "code": "000000"})
                if os.path.getsize(audit_path) == size_before:
                    break
            check(os.path.getsize(audit_path) == size_before, "the audit log's filesystem is full")
            moto.reset_recording()
            r = issue()
            refused_ok = r.get("ok") is False and r["error"]["code"] == "audit_unavailable"
            check(refused_ok and not any(k in r for k in ("access_key_id", "secret_access_key",
                                                          "session_token")),
                  f"audit log full: audit_unavailable and no credentials ({r.get('error', {}).get('message')})")
            check(os.path.getsize(audit_path) == size_before, "and no torn record was left in the log")
            os.unlink(filler)
            r = issue()
            check(r.get("ok") is True, "with space again, issuance works")
            r = b.cli("admin", "audit", "verify", check=True)
            with open(audit_path, "rb") as fh:
                total = len(fh.read().splitlines())
            check(f"{total} records, chain OK" in r.stdout, f"and the chain verifies: {r.stdout.strip()}")

            err = b.stderr()
            check(not [s for s in secrets + [key.secret_access_key] if s in err],
                  "no secret or session token in the daemon's stderr")
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        print(f"FAIL: {e}", file=sys.stderr)
        raise
