# SPDX-License-Identifier: MIT
"""The user-facing CLI verbs against a real credbrokerd and moto (signature
checks on), with a private HOME and XDG_RUNTIME_DIR and no terminal:

- every verb's --help exits 0;
- credential-process with no cache and no terminal fails with ONE line that
  says to run `credbroker get PROFILE`;
- a wrong code: totp_invalid, exit 4, one line, no secret; then the right
  code works: the credential_process JSON, exactly its five keys;
- the session is cached (0600 file in a 0700 directory) and served without
  reaching the broker (audit records counted), as process, env and json;
- exec: the child sees the session and no AWS_PROFILE, its exit status and
  its death by a signal come back, a SIGTERM to credbroker is passed on;
- status, aws-config; a cache file with an unsafe mode is refused once and
  replaced; logout wipes, and credential-process then fails again;
- with a terminal, credential-process asks the code there, echo off, and
  prints only the JSON on stdout;
- console --print exchanges the cached session at a (local, TLS-verified)
  federation endpoint for the login URL; an untrusted certificate gets
  nothing;
- 50 concurrent `credential-process`, each on its own terminal, empty cache:
  one asks for the code, one broker request, 50 identical answers;
- 50 concurrent `get --code` with an empty cache: one broker request, 50
  identical answers, one intact cache file;
- an unreachable broker: one clear line, exit 3.
"""
import fcntl
import http.server
import json
import os
import re
import select
import signal
import ssl
import subprocess
import threading
import time
import urllib.parse

from cbbroker import check, deadline_poll
from cbcli import Setup, USER
from cbpty import drain, echo_on, read_until, terminal_owner

PROFILE = "ro"
VERBS = ["get", "credential-process", "exec", "aws-config", "console", "status", "logout"]
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def waiters(ino):
    """How many flock waiters are blocked on inode ino (/proc/locks "->" lines)."""
    with open("/proc/locks") as f:
        return sum(1 for line in f if "->" in line and f":{ino} " in line)


def on_terminal(s, args, answer, timeout=60):
    """Run credbroker with a pseudo-terminal as its controlling terminal
    (stdin /dev/null, stdout and stderr pipes). When the prompt shows on the
    terminal, note whether echo is on, type answer. Returns (exit status,
    stdout, stderr, what the terminal showed, (echo on at the prompt, echo
    on after the exit))."""
    master, slave = os.openpty()
    p = subprocess.Popen(s.cmd(*args), env=s.env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, pass_fds=(slave,),
                         preexec_fn=terminal_owner(slave))
    screen, echo = b"", None
    try:
        screen = read_until(master, b"): ", timeout)
        echo = echo_on(slave)
        os.write(master, answer.encode() + b"\n")
        out, err = p.communicate(timeout=timeout)
        echo = (echo, echo_on(slave))
        screen += drain(master)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
        os.close(slave)
    return p.returncode, out, err, screen.decode(errors="replace"), echo


class FakeFederation:
    """signin.aws.amazon.com/federation on 127.0.0.1 over TLS with a
    self-signed certificate for localhost (trusted only via SSL_CERT_FILE).
    Records the Session of each getSigninToken; answers a fixed token."""

    def __init__(self, tmp):
        self.cert = os.path.join(tmp, "fed-cert.pem")
        self.key = os.path.join(tmp, "fed-key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", self.key, "-out", self.cert,
                        "-days", "2", "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost"], check=True, capture_output=True, timeout=60)
        self.sessions = []

    def __enter__(self):
        fed = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                q = urllib.parse.urlsplit(self.path)
                form = dict(urllib.parse.parse_qsl(q.query))
                if q.path != "/federation" or form.get("Action") != "getSigninToken":
                    self.send_error(400)
                    return
                fed.sessions.append(json.loads(form["Session"]))
                body = json.dumps({"SigninToken": "tok/en+1"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://localhost:{self.server.server_address[1]}/federation"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
        return False


def one_line(stderr):
    return len(stderr.strip().splitlines()) == 1


def main():
    with Setup(profiles=(PROFILE,)) as s:
        secrets_seen = []

        def no_secret(text, what):
            for sec in secrets_seen + [s.totp_secret]:
                assert sec not in text, f"{what}: a secret reached stderr"

        # --help, all of them.
        for v in VERBS:
            r = s.cli(v, "--help")
            check(r.returncode == 0 and "usage: credbroker " + v in r.stdout,
                  f"`credbroker {v} --help` exits 0 with its usage")
        r = s.cli("--help")
        check(r.returncode == 0 and all(v in r.stdout for v in VERBS), "`credbroker --help` lists the verbs")

        # No cache, no terminal.
        r = s.cli("credential-process", PROFILE)
        check(r.returncode == 7 and one_line(r.stderr) and f"credbroker get {PROFILE}" in r.stderr
              and r.stdout == "",
              f"credential-process without cache or terminal: exit 7, one line: {r.stderr.strip()}")
        check(s.issues() == [], "...and nothing reached the broker")

        # A wrong code, then the right one.
        wrong = s.wrong_code()
        r = s.cli("get", PROFILE, "--code", wrong)
        check(r.returncode == 4 and "(totp_invalid)" in r.stderr and one_line(r.stderr)
              and r.stderr.startswith("credbroker: ") and wrong not in r.stderr and r.stdout == "",
              f"a wrong code: exit 4, one line with totp_invalid: {r.stderr.strip()}")
        check(s.cache_files() == [], "...and nothing was cached")

        code = s.code()
        r = s.cli("get", PROFILE, "--code", code)
        check(r.returncode == 0 and r.stderr == "", f"then the right code works: {r.stderr.strip()}")
        out = json.loads(r.stdout)
        check(list(out) == ["Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"]
              and out["Version"] == 1 and RFC3339.match(out["Expiration"])
              and out["AccessKeyId"].startswith("ASIA"),
              "get prints exactly the credential_process JSON")
        secrets_seen += [out["SecretAccessKey"], out["SessionToken"], code]
        no_secret(r.stderr, "get")
        check(len(s.issues()) == 1, "one issue record in the audit log")

        files = s.cache_files()
        check(len(files) == 1 and os.stat(files[0]).st_mode & 0o777 == 0o600
              and os.stat(s.cache_dir()).st_mode & 0o777 == 0o700,
              "the session is cached: one 0600 file in a 0700 directory")

        # Served from the cache: the broker is not asked again.
        r = s.cli("get", PROFILE)
        check(r.returncode == 0 and json.loads(r.stdout) == out, "get without a code serves the cache")
        r = s.cli("credential-process", PROFILE)
        check(r.returncode == 0 and json.loads(r.stdout) == out and r.stderr == "",
              "credential-process serves the cache, no prompt")
        r = s.cli("get", PROFILE, "--code", code)
        check(r.returncode == 0 and json.loads(r.stdout) == out,
              "get with the code already used serves the session that code fetched")
        r = s.cli("get", PROFILE, "--format", "env")
        check(r.returncode == 0 and f"export AWS_ACCESS_KEY_ID='{out['AccessKeyId']}'" in r.stdout
              and f"export AWS_SECRET_ACCESS_KEY='{out['SecretAccessKey']}'" in r.stdout
              and f"export AWS_SESSION_TOKEN='{out['SessionToken']}'" in r.stdout
              and f"export AWS_CREDENTIAL_EXPIRATION='{out['Expiration']}'" in r.stdout
              and "export AWS_REGION='eu-west-1'" in r.stdout, "--format env prints export lines")
        shell = subprocess.run(["sh", "-c", r.stdout + 'printf %s "$AWS_SESSION_TOKEN"'],
                               capture_output=True, text=True, timeout=10)
        check(shell.stdout == out["SessionToken"], "...that a shell evaluates back to the token")
        r = s.cli("get", PROFILE, "--format", "json")
        j = json.loads(r.stdout)
        check(r.returncode == 0 and j["access_key_id"] == out["AccessKeyId"] and j["profile"] == PROFILE
              and j["region"] == "eu-west-1" and f"/{USER}" in j.get("assumed_role_arn", "")
              and "code_hash" not in j, "--format json has the whole session")
        r = s.cli("get", PROFILE, "--format", "yaml")
        check(r.returncode == 2 and one_line(r.stderr), "an unknown format: usage error, exit 2")
        check(len(s.issues()) == 1, "still one issue record: every one of those was a cache hit")

        # console, against a local federation endpoint with its own certificate.
        with FakeFederation(s.home) as fed:
            env = s.env(CREDBROKER_FEDERATION_URL=fed.url, SSL_CERT_FILE=fed.cert)
            r = s.cli("console", PROFILE, "--print", env=env)
            check(r.returncode == 0 and r.stdout == (
                f"{fed.url}?Action=login&Issuer=credbroker&Destination=https%3A%2F%2Fconsole.aws."
                f"amazon.com%2Fconsole%2Fhome%3Fregion%3Deu-west-1&SigninToken=tok%2Fen%2B1\n"),
                f"console --print: the login URL with the sign-in token: {r.stdout!r} {r.stderr!r}")
            check(fed.sessions == [{"sessionId": out["AccessKeyId"], "sessionKey": out["SecretAccessKey"],
                                    "sessionToken": out["SessionToken"]}],
                  "...after getSigninToken with the cached session, over verified TLS")
            no_secret(r.stderr, "console")
            login_url = r.stdout.strip()
            # Without --print: the browser gets a 0600 page, never the URL in its argv.
            bindir = os.path.join(s.home, "bin")
            os.makedirs(bindir, exist_ok=True)
            with open(os.path.join(bindir, "xdg-open"), "w") as f:
                f.write('#!/bin/sh\nprintf %s "$*" > "$HOME/xdg-argv"\n'
                        'cp "${1#file://}" "$HOME/xdg-page"\n')
            os.chmod(os.path.join(bindir, "xdg-open"), 0o755)
            env_open = dict(env, PATH=bindir + os.pathsep + env["PATH"])
            r = s.cli("console", PROFILE, env=env_open)
            argv = open(os.path.join(s.home, "xdg-argv")).read()
            page = argv[len("file://"):]
            check(r.returncode == 0 and argv.startswith("file://" + s.cache_dir())
                  and "SigninToken" not in argv and os.stat(page).st_mode & 0o777 == 0o600
                  and login_url in open(os.path.join(s.home, "xdg-page")).read(),
                  "console opens a 0600 page that redirects; the URL is in no command line")
            r = s.cli("console", PROFILE, "--print", env=s.env(CREDBROKER_FEDERATION_URL=fed.url))
            check(r.returncode == 6 and one_line(r.stderr) and "certificate refused" in r.stderr
                  and len(fed.sessions) == 2 and r.stdout == "",
                  f"an endpoint whose certificate is not trusted gets nothing: {r.stderr.strip()}")
        check(len(s.issues()) == 1, "console used the cached session")

        # exec
        probe = os.path.join(s.home, "child-env")
        r = s.cli("exec", PROFILE, "--", "sh", "-c", f'env > "{probe}"; exit 7',
                  env=s.env(AWS_PROFILE="someone-else", AWS_DEFAULT_PROFILE="x"))
        child = dict(line.split("=", 1) for line in open(probe).read().splitlines() if "=" in line)
        check(r.returncode == 7, "exec returns the command's exit status (7)")
        check(child.get("AWS_ACCESS_KEY_ID") == out["AccessKeyId"]
              and child.get("AWS_SECRET_ACCESS_KEY") == out["SecretAccessKey"]
              and child.get("AWS_SESSION_TOKEN") == out["SessionToken"]
              and child.get("AWS_CREDENTIAL_EXPIRATION") == out["Expiration"]
              and child.get("AWS_REGION") == "eu-west-1"
              and "AWS_PROFILE" not in child and "AWS_DEFAULT_PROFILE" not in child,
              "the child sees the session and region, and no AWS_PROFILE")
        os.unlink(probe)
        r = s.cli("exec", PROFILE, "--", "sh", "-c", "kill -TERM $$")
        check(r.returncode == 128 + signal.SIGTERM, "a child killed by SIGTERM: exit 143")
        r = s.cli("exec", PROFILE, "--", "/nonexistent/program")
        check(r.returncode == 127 and one_line(r.stderr), "a missing command: exit 127, one line")
        ready = os.path.join(s.home, "ready")
        p = subprocess.Popen(s.cmd("exec", PROFILE, "--", "sh", "-c",
                                   f'trap "exit 42" TERM; : > "{ready}"; while :; do sleep 0.05; done'),
                             env=s.env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True)
        try:
            deadline_poll(lambda: os.path.exists(ready), 20, "exec child start")
            p.send_signal(signal.SIGTERM)
            rc = p.wait(timeout=20)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        check(rc == 42, f"SIGTERM to credbroker exec is passed to the child (its trap exits 42): {rc}")

        # status and aws-config
        r = s.cli("status")
        check(r.returncode == 0 and "reachable" in r.stdout and f"uid: {os.getuid()}" in r.stdout
              and f"user: {USER}" in r.stdout and s.role_arn in r.stdout
              and re.search(rf"^  {PROFILE}  (0h59|1h00)m left \(until {out['Expiration']}\)$",
                           r.stdout, re.M) is not None,
              "status: reachable, uid, user, the grant, the cached session's time left")
        r = s.cli("aws-config", PROFILE)
        check(r.returncode == 0 and r.stdout == (
            f"[profile {PROFILE}]\ncredential_process = {os.path.realpath(s.cmd()[0])} --socket "
            f"{s.socket} --user {USER} credential-process {PROFILE}\nregion = eu-west-1\n"),
            "aws-config prints the stanza with this program's path, socket, user, region")

        # An unsafe cache file is not trusted: said once, fetched anew.
        os.chmod(files[0], 0o644)
        code = s.code()
        r = s.cli("get", PROFILE, "--code", code)
        check(r.returncode == 0 and r.stderr.count("ignoring cached session") == 1
              and one_line(r.stderr), f"a 0644 cache file is refused, once: {r.stderr.strip()}")
        out2 = json.loads(r.stdout)
        check(out2["AccessKeyId"] != out["AccessKeyId"] and len(s.issues()) == 2,
              "...and a new session is fetched")
        check(os.stat(files[0]).st_mode & 0o777 == 0o600, "...and the file is 0600 again")
        secrets_seen += [out2["SecretAccessKey"], out2["SessionToken"]]

        # logout
        r = s.cli("logout", PROFILE)
        check(r.returncode == 0 and "1 cached session wiped" in r.stdout and s.cache_files() == [],
              "logout PROFILE wipes the session file")
        r = s.cli("credential-process", PROFILE)
        check(r.returncode == 7 and one_line(r.stderr), "after logout credential-process needs a code again")

        # With a terminal: the code is asked on it, echo off, and stdout
        # carries only the JSON (it belongs to the AWS CLI).
        code = s.code()
        rc, out_tty, err_tty, screen, echo_was_on = on_terminal(s, ["credential-process", PROFILE], code)
        check("TOTP code for alice (profile ro)" in screen and echo_was_on == (False, True),
              "credential-process asks for the code on the terminal, with echo off, restored after")
        check(rc == 0 and list(json.loads(out_tty))[0] == "Version" and "TOTP" not in out_tty
              and err_tty == "" and code not in screen,
              "...prints only the JSON on stdout, and the code is not echoed")
        check(len(s.issues()) == 3, "...after one request to the broker")
        r = s.cli("credential-process", PROFILE)
        check(r.returncode == 0 and r.stdout == out_tty, "...and the next call is served from the cache")
        s.cli("logout", PROFILE)

        # 50 at once, empty cache, one code. The test holds the entry's lock
        # until all 50 are blocked on it (read from /proc/locks), so every
        # one of them goes through "wait, check, fetch or serve".
        code = s.code()
        before = len(s.issues())
        lock_path = files[0][:-len(".json")] + ".lock"
        held = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        fcntl.flock(held, fcntl.LOCK_EX)
        procs = []
        try:
            for _ in range(50):
                procs.append(subprocess.Popen(s.cmd("get", PROFILE, "--code", code), env=s.env(),
                                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                              stderr=subprocess.PIPE, text=True,
                                              start_new_session=True))
            ino = os.fstat(held).st_ino
            deadline_poll(lambda: waiters(ino) == 50, 60, "50 callers blocked on the lock")
            check(True, "50 callers with an empty cache are all waiting on the entry's lock")
        finally:
            t0 = time.monotonic()
            os.close(held)
            results = [(p.wait(timeout=120), *p.communicate(timeout=120)) for p in procs]
        elapsed = time.monotonic() - t0
        rcs = [rc for rc, _, _ in results]
        outs = {out for _, out, _ in results}
        reached = len(s.issues()) - before
        check(rcs == [0] * 50, f"50 concurrent gets all succeed: {sorted(set(rcs))} "
              f"{[e for rc, _, e in results if rc][:1]}")
        check(reached == 1, f"exactly one reached the broker ({reached} issue records)")
        check(len(outs) == 1 and json.loads(outs.pop())["Version"] == 1,
              "all 50 outputs are identical credential_process JSON")
        names = os.listdir(s.cache_dir())
        check(len(s.cache_files()) == 1 and not [n for n in names if ".tmp" in n],
              f"one cache file, no temp file left ({sorted(names)})")
        print(f"# 50 concurrent gets, from lock release to the last exit: {elapsed:.2f} s, "
              f"{reached} broker request, 1 distinct output",
              flush=True)
        for _, _, err in results:
            no_secret(err, "concurrent get")

        # The same with credential-process, as the AWS CLI runs it from
        # parallel scripts: 50 at once, empty cache, each with a terminal of
        # its own. The first to take the entry's lock asks on its terminal;
        # the other 49 wait on the lock and are served what it fetched.
        s.cli("logout", PROFILE)
        code = s.code()
        before = len(s.issues())
        held = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        fcntl.flock(held, fcntl.LOCK_EX)
        procs, ttys = [], []
        try:
            for _ in range(50):
                master, slave = os.openpty()
                ttys.append((master, slave))
                procs.append(subprocess.Popen(s.cmd("credential-process", PROFILE), env=s.env(),
                                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                              stderr=subprocess.PIPE, text=True, pass_fds=(slave,),
                                              preexec_fn=terminal_owner(slave)))
            ino = os.fstat(held).st_ino
            deadline_poll(lambda: waiters(ino) == 50, 60, "50 credential-process blocked on the lock")
        finally:
            os.close(held)
        screens = [b""] * 50

        def drain(timeout):
            ready, _, _ = select.select([m for m, _ in ttys], [], [], timeout)
            for m in ready:
                i = [t[0] for t in ttys].index(m)
                try:
                    screens[i] += os.read(m, 1024)
                except OSError:
                    pass
        end = time.monotonic() + 60
        while not any(b"): " in sc for sc in screens):
            assert time.monotonic() < end, "no credential-process asked for a code"
            drain(0.5)
        asker = next(i for i, sc in enumerate(screens) if b"): " in sc)
        os.write(ttys[asker][0], code.encode() + b"\n")
        results = [(p.wait(timeout=120), *p.communicate(timeout=120)) for p in procs]
        drain(0)
        for m, sl in ttys:
            os.close(m)
            os.close(sl)
        prompts = sum(1 for sc in screens if b"): " in sc)
        reached = len(s.issues()) - before
        outs = {out for _, out, _ in results}
        check([rc for rc, _, _ in results] == [0] * 50,
              f"50 concurrent credential-process all succeed: {[e for rc, _, e in results if rc][:1]}")
        check(prompts == 1, f"exactly one of them asked on its terminal ({prompts} did)")
        check(reached == 1, f"exactly one reached the broker ({reached} issue records)")
        check(len(outs) == 1 and json.loads(outs.pop())["Version"] == 1,
              "all 50 print the identical credential_process JSON")
        check(len(s.cache_files()) == 1 and not [n for n in os.listdir(s.cache_dir()) if ".tmp" in n],
              "one cache file, no temp file left")
        for _, _, err in results:
            no_secret(err, "concurrent credential-process")

        # logout without a profile wipes everything, including what a cache
        # write killed half-way left behind (a temp file holding a session).
        stale = os.path.join(s.cache_dir(), "0123abcd.json.tmp.Xy12Zq")
        fd = os.open(stale, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, b'{"secret_access_key":"leftover"}')
        os.close(fd)
        r = s.cli("logout")
        check(r.returncode == 0 and s.cache_files() == []
              and not os.path.exists(os.path.join(s.cache_dir(), "console.html"))
              and not os.path.exists(stale),
              "logout wipes every cached session, the console's sign-in page and a crashed write's temp file")

        # Broker trouble: one clear line.
        r = subprocess.run([os.environ["CREDBROKER"], "--socket", "/nonexistent/broker.sock", "get",
                            PROFILE, "--code", "123456"], capture_output=True, text=True,
                           env=s.env(), stdin=subprocess.DEVNULL, start_new_session=True, timeout=30)
        check(r.returncode == 3 and one_line(r.stderr) and "(broker_unreachable)" in r.stderr,
              f"no broker: exit 3, one line: {r.stderr.strip()}")

        for text in (s.broker.stderr(),):
            for sec in secrets_seen:
                assert sec not in text, "a secret reached the daemon's log"
        check(True, "no secret in the daemon's stderr")


if __name__ == "__main__":
    main()
    print("all CLI checks passed")
