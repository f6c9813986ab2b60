# SPDX-License-Identifier: MIT
"""A local AWS account for the tests: moto_server on a free loopback port.

    from cbmoto import Moto

    with Moto(recording=True) as moto:            # started, ready, stopped on exit
        key = moto.create_broker_user("credbroker")      # IAM user + access key
        role = moto.create_role("ConsultantReadOnly", trusted=key)
        moto.allow_assume(key, role)                     # user may sts:AssumeRole it
        moto.enable_auth()          # from here on moto verifies SigV4 and IAM policies
        env = key.env()             # AWS_ACCESS_KEY_ID/SECRET for a child process
        ... run sts-probe / credbrokerd against moto.endpoint ...
        reqs = moto.recorded_requests()   # what reached moto, form bodies parsed

How moto authenticates (moto 5.x, read from moto/core/authorization.py):
every AWS action any client calls (any service) increments one counter in
the moto_server process; while it is below INITIAL_NO_AUTH_ACTION_COUNT the
request is served without looking at its signature. From then on each
request must be signed (SigV4) by an access key moto's IAM knows, with the
right secret, and the key's IAM policies must allow the action (STS
GetCallerIdentity included). /moto-api/reset-auth sets the count afresh;
enable_auth() uses it so that the set-up calls need not be counted. Passing
initial_no_auth=N instead starts moto with INITIAL_NO_AUTH_ACTION_COUNT=N.

What moto does not do: it accepts AssumeRole's SourceIdentity, Tags and
TransitiveTagKeys but ignores them (the recording shows they arrived), does
not evaluate role trust policies, and does not narrow sessions by the
session policy. GetCallerIdentity does return the IAM user's ARN for a key
created in moto, and the assumed-role ARN for temporary credentials.

The administrator side (boto3 clients from client()) always signs with the
moto-known "admin" key made by enable_auth(), so it keeps working after auth
is on.
"""
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from cbbroker import deadline_poll

ACCOUNT = "123456789012"
REGION = "us-east-1"


@dataclass
class Key:
    """An IAM user's long-term access key in moto."""
    user_name: str
    arn: str
    access_key_id: str
    secret_access_key: str = field(repr=False)

    def env(self, base=None):
        """os.environ (or base) plus this key as AWS_* variables, with no
        session token, profile or config file getting in the way."""
        env = dict(os.environ if base is None else base)
        for k in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE"):
            env.pop(k, None)
        env["AWS_ACCESS_KEY_ID"] = self.access_key_id
        env["AWS_SECRET_ACCESS_KEY"] = self.secret_access_key
        return env


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Moto:
    """moto_server on 127.0.0.1, started by __enter__/start() and always
    stopped by __exit__/stop(). Attributes: endpoint ("http://127.0.0.1:PORT",
    for STS and IAM alike), port, region, workdir (a temporary directory with
    moto.log and the recording, removed on stop)."""

    def __init__(self, initial_no_auth=None, recording=False,
                 load_managed_policies=False, region=REGION, start_timeout=60):
        self.initial_no_auth = initial_no_auth
        self.recording = recording
        self.load_managed_policies = load_managed_policies
        self.region = region
        self.start_timeout = start_timeout
        self.proc = None
        self.port = None
        self.endpoint = None
        self.workdir = None
        self._admin = None

    # ---- life cycle ----

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        exe = shutil.which("moto_server")
        if exe is None:
            raise RuntimeError("moto_server is not on PATH (source scripts/setup.sh; cb_find_python)")
        self.workdir = tempfile.mkdtemp(prefix="cbmoto-")
        env = dict(os.environ)
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
            env.pop(k, None)
        env["MOTO_RECORDER_FILEPATH"] = os.path.join(self.workdir, "recording.jsonl")
        if self.initial_no_auth is not None:
            env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(self.initial_no_auth)
        if self.recording:
            env["MOTO_ENABLE_RECORDING"] = "True"
        if self.load_managed_policies:
            env["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
        # A port found free can be taken before moto binds it: try a few.
        for _ in range(3):
            self.port = free_port()
            self.endpoint = f"http://127.0.0.1:{self.port}"
            log = open(os.path.join(self.workdir, "moto.log"), "ab")
            self.proc = subprocess.Popen(
                [exe, "-H", "127.0.0.1", "-p", str(self.port)],
                cwd=self.workdir, env=env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            log.close()
            try:
                deadline_poll(self._ready, self.start_timeout, "moto_server")
                return self
            except (TimeoutError, RuntimeError):
                self._kill()
        self.stop()
        raise RuntimeError("moto_server did not start; see its log above")

    def _ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError("moto_server exited:\n" + self.log_tail())
        try:
            with urllib.request.urlopen(self.endpoint + "/moto-api/data.json", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, ConnectionError, OSError):
            return False

    def _kill(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None

    def stop(self):
        """Stop moto and remove its directory; safe to call twice."""
        self._kill()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def log_tail(self, n=40):
        try:
            with open(os.path.join(self.workdir, "moto.log"), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    # ---- moto's own API ----

    def _post(self, path, data=b""):
        # text/plain: a form content type would leave moto's request.data empty.
        req = urllib.request.Request(self.endpoint + path, data=data, method="POST",
                                     headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read()

    def _get(self, path):
        with urllib.request.urlopen(self.endpoint + path, timeout=10) as r:
            return r.read()

    def reset_auth(self, count):
        """Serve the next `count` actions unauthenticated, then check all."""
        self._post("/moto-api/reset-auth", str(count).encode())

    def enable_auth(self):
        """From now on moto verifies every request's signature and IAM
        permissions. Creates first (unauthenticated) an "admin" user with
        AdministratorAccess-like rights that client() signs with."""
        if self._admin is None:
            iam = self.client("iam")
            self._admin = self._user_with_key(iam, "cbmoto-admin")
            iam.put_user_policy(UserName="cbmoto-admin", PolicyName="all",
                                PolicyDocument=json.dumps(_policy("Allow", "*", "*")))
        self.reset_auth(0)

    def start_recording(self):
        self._post("/moto-api/recorder/start-recording")

    def stop_recording(self):
        self._post("/moto-api/recorder/stop-recording")

    def reset_recording(self):
        self._post("/moto-api/recorder/reset-recording")

    def recorded_requests(self):
        """Every request moto recorded (needs recording=True or
        start_recording()), oldest first, as dicts with method, url, headers,
        body (bytes) and form (the body parsed as a form, one value per key;
        {} when it is not one)."""
        out = []
        for line in self._get("/moto-api/recorder/download-recording").decode().splitlines():
            if not line.strip():
                continue
            e = json.loads(line)
            body = e.get("body") or ""
            body = base64.b64decode(body) if e.get("body_encoded") else body.encode()
            try:
                form = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True,
                                                   strict_parsing=True))
            except (ValueError, UnicodeDecodeError):
                form = {}
            out.append({"method": e.get("method"), "url": e.get("url"),
                        "headers": e.get("headers", {}), "body": body, "form": form})
        return out

    def requests_for(self, action):
        """The recorded requests whose form Action is `action`."""
        return [r for r in self.recorded_requests() if r["form"].get("Action") == action]

    # ---- the AWS side, via boto3 ----

    def client(self, service, key=None, session_token=None):
        """A boto3 client for moto. Signs with key (a Key), else with the
        admin key once enable_auth() ran, else with dummy credentials."""
        import boto3
        k = key or self._admin
        return boto3.client(
            service, endpoint_url=self.endpoint, region_name=self.region,
            aws_access_key_id=k.access_key_id if k else "testing",
            aws_secret_access_key=k.secret_access_key if k else "testing",
            aws_session_token=session_token)

    def _user_with_key(self, iam, name):
        user = iam.create_user(UserName=name)["User"]
        ak = iam.create_access_key(UserName=name)["AccessKey"]
        return Key(user_name=name, arn=user["Arn"], access_key_id=ak["AccessKeyId"],
                   secret_access_key=ak["SecretAccessKey"])

    def create_broker_user(self, name="credbroker"):
        """An IAM user with one access key, allowed sts:GetCallerIdentity
        (which moto, unlike AWS, checks). Returns a Key. Two or three calls."""
        iam = self.client("iam")
        key = self._user_with_key(iam, name)
        iam.put_user_policy(UserName=name, PolicyName="whoami",
                            PolicyDocument=json.dumps(_policy("Allow", "sts:GetCallerIdentity", "*")))
        return key

    def create_role(self, name, trusted, max_session_duration=43200, require_external_id=None):
        """A role whose trust policy lets the Key `trusted` call
        sts:AssumeRole, sts:SetSourceIdentity and sts:TagSession (optionally
        only with sts:ExternalId = require_external_id), and whose own policy
        allows sts:GetCallerIdentity so its sessions can say who they are.
        Returns the role ARN."""
        iam = self.client("iam")
        stmt = {"Effect": "Allow", "Principal": {"AWS": trusted.arn},
                "Action": ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"]}
        if require_external_id is not None:
            stmt["Condition"] = {"StringEquals": {"sts:ExternalId": require_external_id}}
        role = iam.create_role(RoleName=name, MaxSessionDuration=max_session_duration,
                               AssumeRolePolicyDocument=json.dumps(
                                   {"Version": "2012-10-17", "Statement": [stmt]}))["Role"]
        iam.put_role_policy(RoleName=name, PolicyName="whoami",
                            PolicyDocument=json.dumps(_policy("Allow", "sts:GetCallerIdentity", "*")))
        return role["Arn"]

    def allow_assume(self, key, role_arns, policy_name="assume-roles"):
        """Give the Key's user an inline policy allowing sts:AssumeRole,
        sts:SetSourceIdentity and sts:TagSession on role_arns (a str or list)
        and iam:PutRolePolicy on them (for revoke-sessions)."""
        arns = [role_arns] if isinstance(role_arns, str) else list(role_arns)
        doc = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"],
             "Resource": arns},
            {"Effect": "Allow", "Action": "iam:PutRolePolicy", "Resource": arns}]}
        self.client("iam").put_user_policy(UserName=key.user_name, PolicyName=policy_name,
                                           PolicyDocument=json.dumps(doc))


def _policy(effect, action, resource):
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": effect, "Action": action, "Resource": resource}]}
