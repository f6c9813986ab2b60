# SPDX-License-Identifier: MIT
"""A vault unlocked by a passphrase (Argon2id) instead of a key file.

- `credbrokerd init --passphrase-fd N` creates the vault; `run --passphrase-fd N`
  with the same passphrase serves, and stops cleanly on SIGTERM;
- the wrong passphrase: `run` exits non-zero with one line naming the vault and
  "authentication failed", and the right one still works afterwards;
- no terminal and no --passphrase-fd: one line saying how to give it;
- on a terminal the prompt appears there, echo is off while typing, and the
  broker serves once the passphrase is typed;
- the passphrase never appears on stdout, stderr or in the state directory.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

from cbbroker import CREDBROKERD, check, deadline_poll, frame, recv_frame
from cbpty import drain, echo_on, read_until, terminal_owner

PASSPHRASE = "correct horse battery staple"


def ping(sock_path):
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(sock_path)
            s.sendall(frame({"op": "ping"}))
            data = recv_frame(s, 5)
        return data is not None and json.loads(data).get("ok") is True
    except OSError:
        return False


def with_fd(args, secret, timeout=120):
    """Run credbrokerd with secret on a pipe given as --passphrase-fd."""
    r, w = os.pipe()
    os.write(w, secret.encode() + b"\n")
    os.close(w)
    try:
        return subprocess.run([CREDBROKERD, *args, "--passphrase-fd", str(r)], pass_fds=(r,),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    finally:
        os.close(r)


def serve_with_fd(cfg_path, sock_path, secret):
    """Start `run --passphrase-fd`; return the process once it answers a ping."""
    r, w = os.pipe()
    os.write(w, secret.encode() + b"\n")
    os.close(w)
    p = subprocess.Popen([CREDBROKERD, "run", "--config", cfg_path, "--passphrase-fd", str(r)],
                         pass_fds=(r,), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    os.close(r)
    deadline_poll(lambda: p.poll() is not None or ping(sock_path), 120, "the broker to serve")
    return p


def stop(p):
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    return p.returncode, out, err


def main():
    tmp = tempfile.mkdtemp(prefix="cb-passphrase-")
    try:
        run(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("passphrase: all checks passed")


def run(tmp):
    state = os.path.join(tmp, "state")
    sock_path = os.path.join(tmp, "broker.sock")
    cfg_path = os.path.join(tmp, "config.json")
    with open(cfg_path, "w") as f:
        json.dump({"state_dir": state, "socket": sock_path, "admins": [os.getuid()], "vault": {},
                   "aws": {"sts_endpoint": "http://127.0.0.1:9", "iam_endpoint": "http://127.0.0.1:9"},
                   "profiles": {"ro": {"role_arn": "arn:aws:iam::123456789012:role/R", "key": "main",
                                       "policy_arns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]}}}, f)
    said = []

    r = with_fd(["init", "--config", cfg_path], PASSPHRASE)
    said += [r.stdout, r.stderr]
    check(r.returncode == 0 and "unlocked by the passphrase" in r.stdout,
          f"init --passphrase-fd creates the vault: {r.stdout.strip()} {r.stderr.strip()}")

    p = serve_with_fd(cfg_path, sock_path, PASSPHRASE)
    check(p.poll() is None, "run --passphrase-fd with the right passphrase serves")
    rc, out, err = stop(p)
    said += [out, err]
    check(rc == 0 and not os.path.exists(sock_path), f"SIGTERM stops it cleanly: {rc}")

    r = with_fd(["run", "--config", cfg_path], "not the passphrase")
    said += [r.stdout, r.stderr]
    check(r.returncode != 0 and r.stderr.count("\n") == 1 and "authentication failed" in r.stderr
          and os.path.join(state, "vault") in r.stderr,
          f"the wrong passphrase: one line naming the vault: {r.stderr.strip()}")

    r = subprocess.run([CREDBROKERD, "run", "--config", cfg_path], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30, start_new_session=True)
    check(r.returncode != 0 and r.stderr.count("\n") == 1 and "--passphrase-fd" in r.stderr,
          f"no terminal: one line saying how to give the passphrase: {r.stderr.strip()}")

    # On a terminal: the prompt shows there, echo is off, then it serves.
    master, slave = os.openpty()

    p = subprocess.Popen([CREDBROKERD, "run", "--config", cfg_path], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, pass_fds=(slave,),
                         preexec_fn=terminal_owner(slave))
    screen = read_until(master, b"passphrase: ", 30)
    echo_at_prompt = echo_on(slave)
    os.write(master, PASSPHRASE.encode() + b"\n")
    deadline_poll(lambda: p.poll() is not None or ping(sock_path), 120, "the broker to serve")
    check(p.poll() is None and not echo_at_prompt,
          "on a terminal: asked there with echo off, and serves once it is typed")
    screen += drain(master)
    rc, out, err = stop(p)
    said += [out, err, screen.decode(errors="replace")]
    os.close(master)
    os.close(slave)
    check(rc == 0, "and stops cleanly")

    # The passphrase is nowhere it should not be.
    leaked = [s for s in said if PASSPHRASE in s]
    for root, _, files in os.walk(tmp):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                if PASSPHRASE.encode() in f.read():
                    leaked.append(name)
    check(not leaked, f"the passphrase is on no output and in no file: {leaked[:2]}")


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, TimeoutError) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
