# SPDX-License-Identifier: MIT
"""What the CLI's end-to-end tests share: a moto account with a role, a
running credbrokerd holding the IAM key, one broker user bound to our uid,
TOTP codes that respect "each time step once", and a private HOME and
XDG_RUNTIME_DIR for the CLI.

    from cbcli import Setup
    with Setup(profiles=("ro",)) as s:
        r = s.cli("get", "ro", "--code", s.code())
        s.issues()          # audit records with event "issue"
"""
import json
import os
import shutil
import subprocess
import tempfile
import time

from cbbroker import Broker, CREDBROKER, otpauth_secret, totp_code
from cbmoto import Moto

USER = "alice"
STEP = 30
SKEW = 10  # the widest totp.skew_steps the config accepts


class Setup:
    def __init__(self, profiles=("ro",), region="eu-west-1"):
        self.profile_names = profiles
        self.region = region
        self.moto = None
        self.broker = None
        self.home = None
        self._last_step = -1

    def __enter__(self):
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self):
        self.moto = Moto().__enter__()
        key = self.moto.create_broker_user("credbroker")
        self.role_arn = self.moto.create_role("ConsultantReadOnly", trusted=key)
        self.moto.allow_assume(key, self.role_arn)
        self.moto.enable_auth()  # moto checks every signature from here on
        profiles = {p: {"role_arn": self.role_arn, "max_duration": "1h", "region": self.region}
                    for p in self.profile_names}
        # A wide TOTP window (the most config allows) lets each test take
        # fresh future steps instead of waiting for the clock to move on.
        self.broker = Broker(self.moto, profiles=profiles,
                             totp={"skew_steps": SKEW, "max_failures": 5,
                                   "lockout_seconds": 900}).__enter__()
        r = self.broker.cli("admin", "key", "add", "main",
                            input=f"{key.access_key_id} {key.secret_access_key}\n")
        assert r.returncode == 0, f"admin key add: {r.stderr}"
        r = self.broker.request({"op": "admin.user.add", "name": USER,
                                 "profiles": list(self.profile_names), "uid": os.getuid()})
        assert r.get("ok") is True, f"admin.user.add: {r}"
        self.totp_secret = otpauth_secret(r["otpauth_uri"])
        self.home = tempfile.mkdtemp(prefix="cbcli-home-")
        self.runtime = os.path.join(self.home, "run")
        os.mkdir(self.runtime, 0o700)
        self.socket = self.broker.socket

    def __exit__(self, exc_type, *exc):
        try:
            if self.broker is not None:
                self.broker.__exit__(exc_type, None, None)
        finally:
            if self.moto is not None:
                self.moto.stop()
            if self.home is not None:
                shutil.rmtree(self.home, ignore_errors=True)
        return False

    # ---- the CLI's world ----

    def env(self, **extra):
        """A clean environment: our HOME and XDG_RUNTIME_DIR, no AWS_* or
        CREDBROKER_* from outside."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AWS_", "CREDBROKER_"))}
        env.update(HOME=self.home, XDG_RUNTIME_DIR=self.runtime, CREDBROKER_USER=USER)
        env.update(extra)
        return env

    def cache_dir(self):
        return os.path.join(self.runtime, "credbroker")

    def cache_files(self):
        d = self.cache_dir()
        return sorted(os.path.join(d, n) for n in os.listdir(d) if n.endswith(".json")) \
            if os.path.isdir(d) else []

    def cmd(self, *args):
        return [CREDBROKER, "--socket", self.socket, *args]

    def cli(self, *args, env=None, timeout=60, **kw):
        """Run credbroker in a new session: no controlling terminal, so it
        can never prompt (or hang on) the terminal running the tests."""
        return subprocess.run(self.cmd(*args), capture_output=True, text=True, timeout=timeout,
                              env=env or self.env(), stdin=subprocess.DEVNULL,
                              start_new_session=True, **kw)

    # ---- broker side ----

    def code(self):
        """A TOTP code for a step not used yet: the current step or one of
        the next SKEW (all inside the window). When they are all used, wait
        for the clock to reach the next boundary (a computed instant, polled
        with a bound), since a step is accepted once, ever."""
        now_step = int(time.time()) // STEP
        step = max(self._last_step + 1, now_step)
        if step > now_step + SKEW:
            boundary = (step - SKEW) * STEP
            deadline = time.monotonic() + 2 * STEP
            while time.time() < boundary:
                assert time.monotonic() < deadline, "clock did not reach the next TOTP step"
                time.sleep(min(0.2, max(0.01, boundary - time.time())))
        self._last_step = step
        return totp_code(self.totp_secret, at=step * STEP)

    def wrong_code(self):
        """A well-formed code that is not valid in the window."""
        valid = {totp_code(self.totp_secret, at=(int(time.time()) // STEP + d) * STEP)
                 for d in range(-SKEW - 1, SKEW + 2)}
        for c in ("000000", "111111", "123456", "999999"):
            if c not in valid:
                return c
        raise AssertionError("unlucky: every fallback code is valid")

    def audit(self):
        try:
            with open(self.broker.audit_path) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def issues(self):
        return [r for r in self.audit() if r.get("event") == "issue"]
