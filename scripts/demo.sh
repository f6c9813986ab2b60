#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Interim demo (the CLI engineer will replace it): the broker's AWS client
# against a local AWS account (moto, signatures and IAM checked). Creates a
# broker IAM user and key and a ConsultantReadOnly role, then shows
# GetCallerIdentity and AssumeRole working end to end with sts-probe, and
# that a wrong secret is refused. Never prints a secret key.
#   CB_DEMO_BUILD=DIR   build directory (default: build)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

build=${CB_DEMO_BUILD:-build}
echo "== Installing what is missing and building credbroker into $build/"
cb_install_packages
cb_find_python
cb_build "$build"

STS_PROBE="$CB_ROOT/$build/tests/tools/sts-probe" PYTHONPATH="$CB_ROOT/tests/lib" \
	exec "$CB_PYTHON" - <<'PY'
import json, os, subprocess, sys
from cbmoto import Moto

probe = os.environ["STS_PROBE"]

def say(text):
    print(f"\n== {text}", flush=True)

def run(moto, env, *args):
    cmd = [probe, "--endpoint", moto.endpoint, *args]
    print("$ sts-probe " + " ".join(args), flush=True)
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    for line in r.stdout.splitlines():
        print("    " + line)
    if r.stderr.strip():
        print("    (stderr) " + r.stderr.strip())
    return r.returncode

say("Starting a local AWS account (moto) on a free loopback port")
with Moto(recording=True) as moto:
    print(f"moto listens at {moto.endpoint}")

    say("As the AWS administrator: creating the broker's IAM user 'credbroker' and its access key")
    key = moto.create_broker_user("credbroker")
    print(f"user {key.arn}, access key {key.access_key_id} (the secret stays hidden)")

    say("Creating the role 'ConsultantReadOnly' that trusts the broker user "
        "(sts:AssumeRole, sts:SetSourceIdentity, sts:TagSession)")
    role = moto.create_role("ConsultantReadOnly", trusted=key)
    moto.allow_assume(key, role)
    print(f"role {role}; the broker user may assume it")

    say("Turning on signature and permission checking: from now on every request must be signed")
    moto.enable_auth()

    say("GetCallerIdentity with the broker key: STS says whose key this is "
        "(the broker refuses root-account keys this way)")
    if run(moto, key.env(), "caller-identity") != 0:
        sys.exit("demo: GetCallerIdentity failed")

    say("The same call with a wrong secret: refused, with AWS's reason")
    bad = key.env()
    bad["AWS_SECRET_ACCESS_KEY"] = "0" * 40
    if run(moto, bad, "caller-identity") != 3:
        sys.exit("demo: a wrong secret was not refused")

    say("AssumeRole for consultant 'alice': one hour, a session policy denying the payroll "
        "bucket, the ReadOnlyAccess managed policy, alice as SourceIdentity and a session tag; "
        "then the temporary credentials call GetCallerIdentity themselves")
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Action": "s3:*",
        "Resource": ["arn:aws:s3:::payroll-exports", "arn:aws:s3:::payroll-exports/*"]}]})
    if run(moto, key.env(), "assume-role", "--role-arn", role, "--session-name", "alice",
           "--duration", "3600", "--policy", policy,
           "--policy-arn", "arn:aws:iam::aws:policy/ReadOnlyAccess",
           "--source-identity", "alice", "--tag", "broker-user=alice",
           "--then-caller-identity") != 0:
        sys.exit("demo: AssumeRole failed")
    print("(moto accepts SourceIdentity and tags but does not echo them back; AWS does)")

    say("What reached AWS (moto's recording; parameters only, no signatures or secrets)")
    for req in moto.recorded_requests():
        form = dict(req["form"])
        if form.get("Policy"):
            form["Policy"] = f"<{len(form['Policy'])} characters of JSON>"
        if form.get("Action") in ("GetCallerIdentity", "AssumeRole"):
            print("    " + " ".join(f"{k}={v}" for k, v in form.items()))

    say("Stopping moto")
print("\nDemo finished: the broker's AWS client signs, assumes roles and is refused correctly.")
PY
