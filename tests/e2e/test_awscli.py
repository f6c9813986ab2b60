# SPDX-License-Identifier: MIT
"""The real clients: the AWS CLI (every distinct `aws` found: the pip v1
beside the test Python, Debian's v2 at /usr/bin/aws) and botocore/boto3 use
`credbroker credential-process` from ~/.aws/config, with a private HOME.

- the config stanza is what `credbroker aws-config` prints;
- after `credbroker get PROFILE --code ...`, `aws sts get-caller-identity
  --profile PROFILE` names the assumed role with the user's session name,
  without a prompt and without reaching the broker again (audit counted);
- with the cache wiped and no terminal, the client fails and its error shows
  credbroker's one line;
- the same with boto3.Session(profile_name=...).
Fails (never skips) when no `aws` can be found.
"""
import json
import os
import shutil
import subprocess

from cbbroker import check
from cbcli import Setup, USER

PROFILE = "ro"
HINT = f"run 'credbroker get {PROFILE}' in a terminal first"


def aws_clients():
    """Distinct AWS CLIs: the first `aws` on PATH (the pip v1 beside the
    test Python, when present) and /usr/bin/aws, told apart by version."""
    found = {}
    for exe in (shutil.which("aws"), "/usr/bin/aws"):
        if exe is None or not os.access(exe, os.X_OK):
            continue
        r = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
        version = (r.stdout + r.stderr).split()[0] if r.returncode == 0 else None
        if version and version not in found:
            found[version] = exe
    return found


def main():
    clients = aws_clients()
    assert clients, "no AWS CLI found (neither on PATH nor /usr/bin/aws): cannot test it"
    print("# AWS CLIs under test:", ", ".join(f"{v} ({e})" for v, e in clients.items()), flush=True)

    with Setup(profiles=(PROFILE,), region="us-east-1") as s:
        env = s.env(AWS_CONFIG_FILE=os.path.join(s.home, ".aws", "config"),
                    AWS_SHARED_CREDENTIALS_FILE=os.path.join(s.home, ".aws", "credentials"),
                    AWS_EC2_METADATA_DISABLED="true", AWS_PAGER="")
        os.makedirs(os.path.join(s.home, ".aws"), mode=0o700)

        r = s.cli("get", PROFILE, "--code", s.code(), "--format", "json")
        check(r.returncode == 0, f"credbroker get with a code: {r.stderr.strip()}")
        session = json.loads(r.stdout)
        want_arn = session["assumed_role_arn"]
        check(want_arn.endswith(f"assumed-role/ConsultantReadOnly/{USER}"),
              f"the session is the role with the user's session name: {want_arn}")
        issued = len(s.issues())

        r = s.cli("aws-config", PROFILE)
        check(r.returncode == 0 and "credential_process = " in r.stdout, "aws-config prints a stanza")
        with open(env["AWS_CONFIG_FILE"], "w") as f:
            f.write(r.stdout)
        print("# ~/.aws/config:\n# " + r.stdout.strip().replace("\n", "\n# "), flush=True)

        def aws(exe):
            return subprocess.run([exe, "sts", "get-caller-identity", "--profile", PROFILE,
                                   "--endpoint-url", s.moto.endpoint, "--output", "json"],
                                  capture_output=True, text=True, env=env, timeout=120,
                                  stdin=subprocess.DEVNULL, start_new_session=True)

        for version, exe in clients.items():
            r = aws(exe)
            check(r.returncode == 0, f"{version}: get-caller-identity succeeds: {r.stderr.strip()}")
            ident = json.loads(r.stdout)
            check(ident["Arn"] == want_arn and ident["Account"] == "123456789012",
                  f"{version}: moto sees the assumed role with the user's session name")
            check(session["secret_access_key"] not in r.stdout + r.stderr,
                  f"{version}: the secret key appears in no output")
        check(len(s.issues()) == issued, "every client was served from the cache: no new issue record")

        # Python SDK, in this process.
        os.environ.update({k: env[k] for k in ("HOME", "XDG_RUNTIME_DIR", "CREDBROKER_USER",
                                               "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
                                               "AWS_EC2_METADATA_DISABLED")})
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
            os.environ.pop(k, None)
        import boto3
        import botocore
        ident = boto3.Session(profile_name=PROFILE).client(
            "sts", endpoint_url=s.moto.endpoint, region_name="us-east-1").get_caller_identity()
        check(ident["Arn"] == want_arn, f"boto3 {boto3.__version__}: the same identity")

        # Cache wiped, no terminal: each client fails with credbroker's line.
        r = s.cli("logout")
        check(r.returncode == 0 and s.cache_files() == [], "logout wipes the cache")
        for version, exe in clients.items():
            r = aws(exe)
            check(r.returncode != 0 and HINT in r.stderr and "credbroker: " in r.stderr,
                  f"{version}: without cache and terminal it fails showing credbroker's line: "
                  f"{r.stderr.strip()}")
        try:
            # A fresh Session: botocore caches credentials per session object.
            boto3.Session(profile_name=PROFILE).client(
                "sts", endpoint_url=s.moto.endpoint, region_name="us-east-1").get_caller_identity()
            raise AssertionError("boto3 got credentials with an empty cache and no terminal")
        except botocore.exceptions.CredentialRetrievalError as e:
            check(HINT in str(e), f"boto3: CredentialRetrievalError with credbroker's line: {e}")

        # And back: a code in a terminal-less get, then the clients work again.
        r = s.cli("get", PROFILE, "--code", s.code())
        check(r.returncode == 0, "a new get recovers")
        for version, exe in clients.items():
            r = aws(exe)
            check(r.returncode == 0 and json.loads(r.stdout)["Arn"] == want_arn,
                  f"{version}: works again from the new cache")


if __name__ == "__main__":
    main()
    print("all AWS CLI / botocore checks passed")
