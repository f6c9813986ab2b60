# SPDX-License-Identifier: MIT
"""The TLS gateway for remote users, against a real credbrokerd and moto.

A self-signed certificate for IP 127.0.0.1 is made with the openssl CLI;
broker users have a password and no uid. Asserted:

- start-up refusals, one line each, exit non-zero: a key file group/world
  readable, a certificate that does not load, a port already taken; then
  the corrected config starts;
- `credbroker --broker tls://... --ca CERT get --password-stdin` with the
  right password and an oathtool code prints credentials; the audit record
  names the TLS peer;
- wrong passwords count against the lockout: a flood locks the user, whose
  right password is then refused until an admin unlocks;
- a wrong password: unauthorized, no credentials; an unknown user: the very
  same line; then the right password works (recovery);
- --pin with the right fingerprint works; a wrong one is refused and the
  server sees no application byte (a stand-in TLS server with the same
  certificate counts them; with the right pin it does get the request);
- neither --ca nor --pin: the self-signed certificate is refused, nothing
  reaches the broker;
- a TLS 1.1 ClientHello gets a protocol_version alert;
- plaintext garbage and 20 silent TCP connections do not stop a concurrent
  good request (answered well before the 5 s deadline); the silent ones are
  closed by the broker at about 5 s;
- over the cap (128 open connections) a further connection is closed at
  once while local users are still served; once the silent ones time out,
  TLS serves again;
- admin ops over TLS: not_admin; ping over TLS: no uid, not admin;
- 8 threads of wrong-password TLS requests (Argon2id each) do not slow a
  local user's status (the hash is verified outside the state lock); the
  right password works afterwards;
- the daemon's stderr never holds the password or a TOTP code; SIGTERM
  stops it cleanly with the gateway running.
"""
import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time

from cbbroker import (CREDBROKER, Broker, check, deadline_poll, frame, otpauth_secret,
                      recv_frame, totp_code)
from cbmoto import Moto, free_port

PASSWORD = "correct horse battery staple 42"
PROFILE = "ro"
STEP = 30


def openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], capture_output=True, text=True, cwd=cwd, timeout=60)
    assert r.returncode == 0, f"openssl {args[0]}: {r.stderr}"
    return r.stdout


class User:
    """A broker user with a password, and TOTP codes for unused steps."""

    def __init__(self, broker, name):
        self.name = name
        r = broker.request({"op": "admin.user.add", "name": name, "profiles": [PROFILE],
                            "password": PASSWORD})
        assert r.get("ok") is True, f"admin.user.add {name}: {r}"
        self.secret = otpauth_secret(r["otpauth_uri"])
        self.last = -1

    def code(self):
        now = int(time.time()) // STEP
        step = max(self.last + 1, now)
        assert step <= now + 1, "test uses more than two codes per user"
        self.last = step
        return totp_code(self.secret, at=step * STEP)


class World:
    def __init__(self, broker, tmp, port, cert):
        self.broker = broker
        self.tmp = tmp
        self.port = port
        self.cert = cert
        self.home = os.path.join(tmp, "home")
        os.makedirs(os.path.join(self.home, "run"), mode=0o700, exist_ok=True)

    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CREDBROKER_"))}
        env.update(HOME=self.home, XDG_RUNTIME_DIR=os.path.join(self.home, "run"))
        return env

    def cli(self, *args, user, port=None, password=PASSWORD, trust=None, timeout=60):
        trust = ["--ca", self.cert] if trust is None else trust
        cmd = [CREDBROKER, "--broker", f"tls://127.0.0.1:{port or self.port}", *trust,
               "--user", user, *args]
        if password is not None:
            cmd.append("--password-stdin")
        return subprocess.run(cmd, input=(password + "\n") if password is not None else None,
                              capture_output=True, text=True, timeout=timeout, env=self.env(),
                              start_new_session=True,
                              stdin=None if password is not None else subprocess.DEVNULL)

    def audit(self):
        with open(self.broker.audit_path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def tls_request(self, obj, timeout=10):
        ctx = ssl.create_default_context(cafile=self.cert)
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
                t.sendall(frame(obj))
                data = recv_frame(t, timeout)
        return None if data is None else json.loads(data)


def one_line(text):
    return len(text.strip().splitlines()) == 1


def creds_ok(r):
    if r.returncode != 0:
        return False
    out = json.loads(r.stdout)
    return (out.get("Version") == 1 and out.get("AccessKeyId", "").startswith("ASIA")
            and out.get("SecretAccessKey") and out.get("SessionToken") and out.get("Expiration"))


def tls11_client_hello():
    """A minimal TLS 1.1 ClientHello: what an old client sends first."""
    body = struct.pack(">H", 0x0302) + os.urandom(32) + b"\x00"
    suites = [0xc013, 0xc014, 0x002f, 0x0035]
    body += struct.pack(">H", 2 * len(suites)) + b"".join(struct.pack(">H", c) for c in suites)
    body += b"\x01\x00"  # compression: null only
    hs = b"\x01" + struct.pack(">I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs


class StandIn:
    """A TLS server with the broker's certificate that counts the
    application bytes a client sends, and answers one error frame."""

    def __init__(self, cert, key):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.received = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.sock.accept()
        conn.settimeout(10)
        got = b""
        try:
            with self.ctx.wrap_socket(conn, server_side=True) as t:
                while True:
                    if len(got) >= 4 and len(got) >= 4 + struct.unpack(">I", got[:4])[0]:
                        t.sendall(frame({"ok": False, "error": {"code": "internal",
                                                                "message": "stand-in"}}))
                        break
                    chunk = t.recv(65536)
                    if not chunk:
                        break
                    got += chunk
        except (ssl.SSLError, OSError):
            pass
        self.received = got

    def wait(self):
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "stand-in server stuck"
        self.sock.close()
        return self.received


def start_failures(b, tmp, cert, key, port):
    """Each bad TLS setting stops the daemon at start with one line."""
    good = dict(b.config["tls"])

    os.chmod(key, 0o644)
    r = b.run_daemon()
    check(r.returncode != 0 and "tls.key" in r.stderr and "group or others" in r.stderr
          and one_line(r.stderr) and "PRIVATE KEY" not in r.stderr,
          f"a world-readable key file is refused at start: {r.stderr.strip()}")
    os.chmod(key, 0o600)

    bad_cert = os.path.join(tmp, "bad.crt")
    with open(bad_cert, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    b.write_config(tls={**good, "cert": bad_cert})
    r = b.run_daemon()
    check(r.returncode != 0 and "tls.cert" in r.stderr and one_line(r.stderr),
          f"a certificate that does not load is refused: {r.stderr.strip()}")

    other_key = os.path.join(tmp, "other.key")
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
            other_key, cwd=tmp)
    os.chmod(other_key, 0o600)
    b.write_config(tls={**good, "key": other_key})
    r = b.run_daemon()
    check(r.returncode != 0 and "does not match" in r.stderr and one_line(r.stderr),
          f"a key that is not the certificate's is refused: {r.stderr.strip()}")

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        busy = taken.getsockname()[1]
        b.write_config(tls={**good, "listen": f"127.0.0.1:{busy}"})
        r = b.run_daemon()
    check(r.returncode != 0 and f"cannot listen on 127.0.0.1:{busy}" in r.stderr
          and one_line(r.stderr), f"a port in use is refused: {r.stderr.strip()}")
    check(not os.path.exists(b.socket), "...and no unix socket is left behind")
    b.write_config(tls=good)


def main():
    tmp = tempfile.mkdtemp(prefix="cbtls-")
    try:
        run(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(tmp):
    cert = os.path.join(tmp, "tls.crt")
    key = os.path.join(tmp, "tls.key")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=credbroker test",
            "-addext", "subjectAltName=IP:127.0.0.1", cwd=tmp)
    os.chmod(key, 0o600)
    fp = openssl("x509", "-in", cert, "-noout", "-fingerprint", "-sha256", cwd=tmp)
    pin = fp.strip().split("=", 1)[1]  # AB:CD:... as openssl prints it
    port = free_port()

    with Moto() as moto:
        k = moto.create_broker_user("credbroker")
        role = moto.create_role("ConsultantReadOnly", trusted=k)
        moto.allow_assume(k, role)
        moto.enable_auth()
        tls = {"listen": f"127.0.0.1:{port}", "cert": cert, "key": key}
        with Broker(moto, profiles={PROFILE: {"role_arn": role, "max_duration": "1h"}},
                    extra={"tls": tls}, start=False) as b:
            start_failures(b, tmp, cert, key, port)
            b.start()
            check(f"serving TLS on 127.0.0.1:{port}" in b.stderr(), "the daemon says it serves TLS")
            r = b.cli("admin", "key", "add", "main",
                      input=f"{k.access_key_id} {k.secret_access_key}\n")
            assert r.returncode == 0, r.stderr
            w = World(b, tmp, port, cert)
            rita, pete, cora = User(b, "rita"), User(b, "pete"), User(b, "cora")
            codes = []

            # Wrong password, unknown user: the same refusal, nothing issued.
            c = rita.code()
            codes.append(c)
            bad = w.cli("get", PROFILE, "--code", c, user="rita", password="not the password")
            check(bad.returncode == 4 and "(unauthorized)" in bad.stderr and bad.stdout == ""
                  and one_line(bad.stderr), f"a wrong password: unauthorized, exit 4: {bad.returncode} {bad.stdout!r} {bad.stderr.strip()}")
            nobody = w.cli("get", PROFILE, "--code", c, user="nobody")
            check(nobody.returncode == bad.returncode and nobody.stderr == bad.stderr
                  and nobody.stdout == "", "an unknown user gets the very same line")
            check(not any(a.get("outcome") == "ok" and a.get("event") == "issue" for a in w.audit()), "...and nothing was issued")

            # The right password with --ca: credentials. (The code was not
            # spent by the refusals: identity is checked before the code.)
            r = w.cli("get", PROFILE, "--code", c, user="rita")
            check(creds_ok(r) and r.stderr == "", f"--ca and the right password: credentials: {r.stderr.strip()}")
            secret = json.loads(r.stdout)["SecretAccessKey"]
            issued = [a for a in w.audit() if a.get("user") == "rita" and a.get("outcome") == "ok" and a.get("event") == "issue"]
            check(len(issued) == 1 and issued[0].get("peer") == "tls:127.0.0.1",
                  f"one issue record, peer tls:127.0.0.1: {issued}")

            # --pin, right and wrong; nothing sent on a wrong pin.
            c = pete.code()
            codes.append(c)
            r = w.cli("get", PROFILE, "--code", c, user="pete", trust=["--pin", pin])
            check(creds_ok(r), f"--pin with the right fingerprint: credentials: {r.stderr.strip()}")
            c = pete.code()
            codes.append(c)
            r = w.cli("get", PROFILE, "--code", c, user="pete",
                      trust=["--pin", pin.replace(":", "").lower()])
            check(creds_ok(r), f"the pin also as 64 lowercase hex digits: {r.stderr.strip()}")
            # aws-config carries the way the broker is verified into the
            # credential_process line (the CA by absolute path).
            r = w.cli("aws-config", PROFILE, user="pete", password=None)
            check(r.returncode == 0 and f"--ca {os.path.abspath(cert)}" in r.stdout
                  and f"--broker tls://127.0.0.1:{port}" in r.stdout,
                  f"aws-config keeps --broker and --ca: {r.stdout.strip()}")
            r = w.cli("aws-config", PROFILE, user="pete", password=None, trust=["--pin", pin])
            check(r.returncode == 0 and f"--pin {pin}" in r.stdout, f"aws-config keeps --pin: {r.stdout.strip()}")
            wrong_pin = ("00" if not pin.startswith("00") else "11") + pin[2:]
            before = len(w.audit())
            r = w.cli("get", PROFILE, "--code", "123456", user="pete", trust=["--pin", wrong_pin])
            check(r.returncode == 3 and "fingerprint" in r.stderr and one_line(r.stderr)
                  and r.stdout == "", f"a wrong pin is refused: {r.stderr.strip()}")
            check(len(w.audit()) == before, "...and the broker heard nothing of it")
            standin = StandIn(cert, key)
            r = w.cli("get", PROFILE, "--code", "123456", user="pete", port=standin.port,
                      trust=["--pin", wrong_pin])
            check(r.returncode == 3 and standin.wait() == b"",
                  "a wrong pin: the server receives not one application byte")
            standin = StandIn(cert, key)
            r = w.cli("get", PROFILE, "--code", "123456", user="pete", port=standin.port,
                      trust=["--pin", pin])
            got = standin.wait()
            check(r.returncode != 0 and len(got) > 4 and b'"op":"issue"' in got,
                  "...while with the right pin the request does arrive (the check above can fail)")
            r = w.cli("get", PROFILE, "--code", "123456", user="pete", trust=["--pin", "abc"])
            check(r.returncode != 0 and "--pin" in r.stderr and one_line(r.stderr),
                  f"a malformed pin is a clear error: {r.stderr.strip()}")

            # Verification is on: no --ca, no --pin.
            before = len(w.audit())
            r = w.cli("get", PROFILE, "--code", "123456", user="cora", trust=[])
            check(r.returncode == 3 and "certificate refused" in r.stderr and one_line(r.stderr),
                  f"a self-signed certificate without --ca/--pin is refused: {r.stderr.strip()}")
            check(len(w.audit()) == before, "...before anything reached the broker")

            # TLS 1.1: a protocol_version alert.
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(tls11_client_hello())
                reply = s.recv(64)
            check(len(reply) >= 7 and reply[0] == 0x15 and reply[5] == 2 and reply[6] == 70,
                  f"a TLS 1.1 ClientHello gets a fatal protocol_version alert: {reply.hex()}")
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.load_verify_locations(cert)
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
                    ver = t.version()
                    t.sendall(frame({"op": "ping"}))
                    pong = json.loads(recv_frame(t))
            check(ver == "TLSv1.2" and pong.get("ok") is True, "while TLS 1.2 is served")

            # Admin over TLS, ping over TLS.
            r = w.tls_request({"op": "admin.user.list"})
            check(r["ok"] is False and r["error"]["code"] == "not_admin", "admin ops over TLS: not_admin")
            r = w.tls_request({"op": "ping"})
            check(r["ok"] is True and r["uid"] is None and r["admin"] is False,
                  "ping over TLS: no uid, not admin")

            # Garbage and silent clients beside a good request.
            silent = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(20)]
            opened = time.monotonic()
            garbage = socket.create_connection(("127.0.0.1", port), timeout=10)
            garbage.sendall(b"GET / HTTP/1.0\r\n\r\n" + os.urandom(512))
            c = cora.code()
            codes.append(c)
            t0 = time.monotonic()
            r = w.cli("get", PROFILE, "--code", c, user="cora")
            took = time.monotonic() - t0
            check(creds_ok(r) and took < 4.0,
                  f"a good request beside garbage and 20 silent connections: served in {took:.2f} s")
            garbage.settimeout(10)
            try:
                rest = garbage.recv(4096)
                while rest and rest[:1] == b"\x15":  # an alert, then the close
                    rest = garbage.recv(4096)
            except ConnectionResetError:
                rest = b""
            check(rest == b"", "the garbage connection is closed by the broker")
            garbage.close()

            def closed(s):
                s.settimeout(0.05)
                try:
                    return s.recv(1) == b""
                except socket.timeout:
                    return False
                except ConnectionResetError:
                    return True
            deadline_poll(lambda: all(closed(s) for s in silent), 15, "silent connections closed")
            waited = time.monotonic() - opened
            check(4.0 <= waited <= 9.0, f"silent connections are closed at the deadline ({waited:.1f} s)")
            for s in silent:
                s.close()

            # Over the cap: further connections are closed at once, local
            # users are still served; after the deadline TLS serves again.
            hogs = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(128)]
            extra = socket.create_connection(("127.0.0.1", port), timeout=10)
            extra.settimeout(3)
            t0 = time.monotonic()
            try:
                probe = extra.recv(1)
            except ConnectionResetError:
                probe = b""
            check(probe == b"" and time.monotonic() - t0 < 2.0,
                  "the 129th TLS connection is closed at once")
            extra.close()
            check(b.request({"op": "ping"}).get("ok") is True, "...while the unix socket still serves")
            for s in hogs:
                s.close()
            pong = deadline_poll(lambda: _try_ping(w), 15, "TLS serving again after the hogs")
            check(pong, "TLS serves again once the hogs are gone")

            # A stream of wrong passwords (Argon2id each) does not slow local users.
            r = b.request({"op": "admin.user.add", "name": "lou", "profiles": [PROFILE],
                           "uid": os.getuid()})
            assert r.get("ok") is True, r
            # lou has no password: remote guesses at her name must not lock
            # her out of the local socket.
            for _ in range(8):
                r = w.tls_request({"op": "status", "user": "lou", "password": "guess"})
                assert r.get("error", {}).get("code") == "unauthorized", r
            with open(os.path.join(b.state_dir, "users.json")) as f:
                lou = next(u for u in json.load(f)["users"] if u["name"] == "lou")
            check(lou["failures"] == 0 and lou["locked_until"] == 0,
                  f"8 TLS guesses at a user without a password leave her unlocked: {lou}")
            idle = local_status_latency(b)
            flood = Flood(w)
            try:
                busy = local_status_latency(b)
            finally:
                refused = flood.stop()
            check(refused >= 8, f"the flood ran: {refused} wrong-password answers")
            check(busy[1] < 0.1,
                  f"local status beside a TLS wrong-password flood: avg {busy[1] * 1000:.0f} ms, "
                  f"max {busy[0] * 1000:.0f} ms (idle: avg {idle[1] * 1000:.0f} ms)")
            # The guesses counted: rita is locked, so even her right password
            # is refused, with the same line as a wrong one; an admin unlocks.
            r = w.tls_request({"op": "status", "user": "rita", "password": PASSWORD})
            check(r.get("ok") is False and r["error"]["code"] == "unauthorized",
                  f"after the flood rita is locked: her right password is refused: {r}")
            check(b.cli("admin", "user", "unlock", "rita").returncode == 0, "admin user unlock rita")
            r = w.tls_request({"op": "status", "user": "rita", "password": PASSWORD})
            check(r.get("ok") is True and r.get("user") == "rita",
                  "after the unlock the right password works again (status over TLS)")

            log = b.stderr()
            check(PASSWORD not in log and "not the password" not in log
                  and secret not in log and not any(cd in log for cd in codes),
                  "the daemon's stderr holds no password, code or secret")
        check(True, "SIGTERM stopped the daemon cleanly with the gateway running")


def local_status_latency(b, n=20, span=1.0):
    """(max, average) seconds of `status` requests on the unix socket: at
    least n of them, and for at least span seconds."""
    took = []
    start = time.monotonic()
    while len(took) < n or time.monotonic() - start < span:
        t0 = time.monotonic()
        r = b.request({"op": "status", "user": "lou"})
        took.append(time.monotonic() - t0)
        assert r.get("ok") is True, r
    return max(took), sum(took) / len(took)


class Flood:
    """8 threads sending TLS `status` requests with a wrong password, until
    stop(); counts the unauthorized answers. Returns once the first arrived."""

    def __init__(self, w):
        self.w = w
        self.refused = 0
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(8)]
        for t in self.threads:
            t.start()
        deadline_poll(lambda: self.refused > 0, 30, "first flood answer")

    def _run(self):
        while not self.done.is_set():
            try:
                r = self.w.tls_request({"op": "status", "user": "rita", "password": "guess"})
            except (OSError, ssl.SSLError):
                continue
            if r and r.get("error", {}).get("code") == "unauthorized":
                with self.lock:
                    self.refused += 1

    def stop(self):
        self.done.set()
        for t in self.threads:
            t.join(timeout=30)
        return self.refused


def _try_ping(w):
    try:
        r = w.tls_request({"op": "ping"}, timeout=3)
        return r is not None and r.get("ok") is True
    except (OSError, ssl.SSLError):
        return False


if __name__ == "__main__":
    main()
