# SPDX-License-Identifier: MIT
"""A real credbrokerd for the end-to-end tests, on a temp state dir.

    from cbmoto import Moto
    from cbbroker import Broker

    with Moto() as moto:
        key = moto.create_broker_user()
        role = moto.create_role("ConsultantReadOnly", trusted=key)
        with Broker(moto, profiles={"ro": {"role_arn": role}}) as b:
            b.cli("admin", "key", "add", "main",
                  input=f"{key.access_key_id} {key.secret_access_key}")
            r = b.request({"op": "ping"})        # raw frame, parsed answer
            assert r["ok"]
        # on exit: SIGTERM, asserts exit 0 and socket removed, temp dir gone

What Broker does:
- writes <tmp>/config.json: state_dir <tmp>/state, socket <tmp>/broker.sock,
  admins [os.getuid()], vault.key_file <tmp>/vault.key, audit.path (default
  <tmp>/audit.jsonl), aws endpoints = the Moto's (or sts_endpoint=...),
  totp settings, and `profiles` (each gets "key": "main" unless it says
  otherwise). extra={...} merges more top-level keys.
- runs `credbrokerd init --config C --key-file K` (asserting exit 0), then
  start(): `credbrokerd run --config C`, polling (bounded deadline) until the
  socket answers a ping, or raising with the daemon's stderr if it exits.
- request(obj_or_bytes, raw=False): one connection, one frame (4-byte
  big-endian length + JSON); returns the parsed answer (or raw bytes, or
  None when the broker closed without answering).
- cli(*args, input=None, check=None, uid=None): runs $CREDBROKER with
  --socket; returns subprocess.CompletedProcess (text). check=True/False
  asserts the exit status is 0 / non-zero. uid=N runs it as that uid (and
  gid) with setpriv.
- stop(): SIGTERM, asserts exit status 0 within a deadline and that the socket
  is gone. restart() = stop() + start(). reload() = SIGHUP and waits until
  the daemon's stderr says it reloaded (or failed to).
- stderr(): everything the daemon wrote to stderr (all runs), for asserts such
  as "no secret in the log".
- write_config(**changes): rewrite the config (e.g. before reload()).
Paths: CREDBROKERD and CREDBROKER from the environment (tests/e2e/meson.build).
"""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

CREDBROKERD = os.environ.get("CREDBROKERD", "credbrokerd")
CREDBROKER = os.environ.get("CREDBROKER", "credbroker")


def deadline_poll(predicate, timeout, what, interval=0.05):
    """Poll predicate() until it returns a true value (returned); raise
    TimeoutError after timeout seconds."""
    end = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() >= end:
            raise TimeoutError(f"{what}: not after {timeout} s")
        time.sleep(interval)


def frame(payload):
    """4-byte big-endian length, then the bytes (a dict is JSON-encoded)."""
    if not isinstance(payload, (bytes, bytearray)):
        payload = json.dumps(payload).encode()
    return struct.pack(">I", len(payload)) + payload


def recv_frame(sock, timeout=15):
    """Read one frame from sock; the payload bytes, or None when the peer
    closed before a whole frame arrived."""
    sock.settimeout(timeout)
    data = b""
    while True:
        if len(data) >= 4:
            n = struct.unpack(">I", data[:4])[0]
            if len(data) >= 4 + n:
                return data[4:4 + n]
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return None
        if not chunk:
            return None
        data += chunk


class Broker:
    """credbrokerd on a temporary directory; see the module docstring."""

    def __init__(self, moto=None, profiles=None, sts_endpoint=None, iam_endpoint=None,
                 totp=None, audit_path=None, extra=None, start=True):
        self.tmp = tempfile.mkdtemp(prefix="cbbroker-")
        os.chmod(self.tmp, 0o755)  # other uids (non-admin tests) must reach the socket
        self.config_path = os.path.join(self.tmp, "config.json")
        self.state_dir = os.path.join(self.tmp, "state")
        self.socket = os.path.join(self.tmp, "broker.sock")
        self.key_file = os.path.join(self.tmp, "vault.key")
        self.vault = os.path.join(self.state_dir, "vault")
        self.users_file = os.path.join(self.state_dir, "users.json")
        self.audit_path = audit_path or os.path.join(self.tmp, "audit.jsonl")
        endpoint = moto.endpoint if moto is not None else None
        self.config = {
            "state_dir": self.state_dir,
            "socket": self.socket,
            "admins": [os.getuid()],
            "vault": {"key_file": self.key_file},
            "aws": {"region": "us-east-1",
                    "sts_endpoint": sts_endpoint or endpoint or "http://127.0.0.1:9",
                    "iam_endpoint": iam_endpoint or endpoint or "http://127.0.0.1:9"},
            "audit": {"path": self.audit_path},
            "totp": totp or {"skew_steps": 1, "max_failures": 5, "lockout_seconds": 900},
            "profiles": {},
        }
        for name, p in (profiles or {"default": {"role_arn":
                                                 "arn:aws:iam::123456789012:role/Default"}}).items():
            self.config["profiles"][name] = {"key": "main", **p}
        self.config.update(extra or {})
        self.proc = None
        self._stderr_files = []
        self._start_now = start

    # ---- life cycle ----

    def __enter__(self):
        try:
            self.write_config()
            self.init()
            if self._start_now:
                self.start()
        except BaseException:
            self.close(check=False)
            raise
        return self

    def __exit__(self, exc_type, *exc):
        self.close(check=exc_type is None)
        return False

    def write_config(self, config=None, **changes):
        """Write self.config (updated with changes, or replaced by config)."""
        if config is not None:
            self.config = config
        self.config.update(changes)
        with open(self.config_path + ".tmp", "w") as f:
            json.dump(self.config, f, indent=2)
        os.replace(self.config_path + ".tmp", self.config_path)

    def init(self):
        r = subprocess.run([CREDBROKERD, "init", "--config", self.config_path, "--key-file",
                            self.key_file], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, f"credbrokerd init failed: {r.stderr}"

    def run_daemon(self, *extra, timeout=30):
        """Run `credbrokerd run` to completion (for runs expected to fail at
        start); CompletedProcess."""
        return subprocess.run([CREDBROKERD, "run", "--config", self.config_path, *extra],
                              capture_output=True, text=True, timeout=timeout)

    def start(self, timeout=30):
        assert self.proc is None, "already running"
        path = os.path.join(self.tmp, f"daemon-{len(self._stderr_files)}.err")
        self._stderr_files.append(path)
        err = open(path, "wb")
        self.proc = subprocess.Popen([CREDBROKERD, "run", "--config", self.config_path],
                                     stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        err.close()

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError(f"credbrokerd exited {self.proc.returncode} at start:\n"
                                   + self.stderr())
            try:
                return self.request({"op": "ping"}, timeout=2).get("ok") is True
            except OSError:
                return False
        deadline_poll(up, timeout, "credbrokerd socket")
        return self

    def stop(self, timeout=30):
        """SIGTERM; assert a clean exit (status 0) and the socket removed."""
        assert self.proc is not None, "not running"
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError("credbrokerd did not stop on SIGTERM within %d s" % timeout)
        finally:
            self.proc = None
        assert rc == 0, f"credbrokerd exited {rc} on SIGTERM:\n{self.stderr()}"
        assert not os.path.exists(self.socket), "credbrokerd left its socket behind"

    def restart(self):
        self.stop()
        return self.start()

    def reload(self, timeout=15):
        """SIGHUP; wait until stderr reports the reload (ok or failed).
        Returns the new stderr text."""
        before = len(self.stderr())
        self.proc.send_signal(signal.SIGHUP)
        deadline_poll(lambda: "reload" in self.stderr()[before:], timeout, "SIGHUP reload")
        return self.stderr()[before:]

    def close(self, check=True):
        try:
            if self.proc is not None:
                if check:
                    self.stop()
                else:
                    self.proc.kill()
                    self.proc.wait(timeout=10)
                    self.proc = None
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def stderr(self):
        out = []
        for p in self._stderr_files:
            try:
                with open(p, errors="replace") as f:
                    out.append(f.read())
            except OSError:
                pass
        return "".join(out)

    # ---- talking to it ----

    def connect(self, timeout=15):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(self.socket)
        return s

    def request(self, obj, raw=False, timeout=15):
        """One request frame (a dict, or bytes used as the payload); the
        parsed JSON answer, the raw payload with raw=True, or None when the
        broker closed without answering."""
        with self.connect(timeout) as s:
            s.sendall(frame(obj))
            data = recv_frame(s, timeout)
        if data is None or raw:
            return data
        return json.loads(data)

    @staticmethod
    def cli_path():
        return CREDBROKER

    def cli(self, *args, input=None, check=None, uid=None, env=None, timeout=60):
        cmd = [CREDBROKER, "--socket", self.socket, *args]
        if uid is not None:
            cmd = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *cmd]
        e = dict(os.environ if env is None else env)
        r = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout, env=e)
        if check is True:
            assert r.returncode == 0, f"{args} exited {r.returncode}: {r.stderr}"
        elif check is False:
            assert r.returncode != 0, f"{args} should have failed: {r.stdout}"
        return r


def totp_code(secret_b32, at=None):
    """The 6-digit code for the base32 secret at time `at` (default now),
    from oathtool, the reference implementation."""
    args = ["oathtool", "--totp", "-b", secret_b32]
    if at is not None:
        args.append("--now=@%d" % int(at))
    return subprocess.run(args, capture_output=True, text=True, check=True,
                          timeout=10).stdout.strip()


def otpauth_secret(uri):
    """The secret= parameter of an otpauth:// URI."""
    from urllib.parse import urlparse, parse_qs
    return parse_qs(urlparse(uri).query)["secret"][0]


def check(cond, what):
    """assert with a message, and a line on stdout for the test log."""
    if not cond:
        raise AssertionError(what)
    print("ok -", what, flush=True)
