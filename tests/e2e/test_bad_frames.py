# SPDX-License-Identifier: MIT
"""Hostile and broken frames against the real daemon (docs/protocol.md,
"Framing"): each gets its documented error code, or a close where no answer
can be framed, and after EACH one a good ping is still answered. Then 100
concurrent pings while 20 silent connections are held open: all answered.
No AWS is involved (the STS endpoint is a closed loopback port).
"""
import json
import socket
import struct
import sys
import threading
import time

from cbbroker import Broker, check, frame, recv_frame

IO_TIMEOUT = 5  # the daemon's io timeout (broker/main.c), seconds


def error_code(payload):
    try:
        r = json.loads(payload)
    except (TypeError, ValueError):
        return None
    return r.get("error", {}).get("code") if isinstance(r, dict) and r.get("ok") is False else None


def exchange(b, data, close_write=False, timeout=IO_TIMEOUT + 10):
    """Send raw bytes on a fresh connection; the answer payload (None when
    the broker closed without one) and the seconds it took."""
    t0 = time.monotonic()
    with b.connect(timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        if close_write:
            s.shutdown(socket.SHUT_WR)
        got = recv_frame(s, timeout)
    return got, time.monotonic() - t0


def closed_after(s, timeout):
    """True when the broker closes s (EOF) within timeout, with nothing sent."""
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def hdr(n):
    return struct.pack(">I", n)


def ping_ok(b, after):
    r = b.request({"op": "ping"})
    check(r.get("ok") is True and "version" in r, f"  ...and a ping is answered after {after}")


def main():
    with Broker() as b:
        cases = [
            ("zero length", hdr(0), "bad_request"),
            ("huge length (4 GiB - 1)", hdr(0xFFFFFFFF), "too_large"),
            ("64 KiB + 1 announced", hdr(65537), "too_large"),
            ("64 KiB + 1 sent whole", hdr(65537) + b" " * 65537, "too_large"),
            ("not JSON", frame(b"not json!"), "bad_request"),
            ("a JSON array", frame(b'["op","ping"]  '), "bad_request"),
            ("a JSON string", frame(b'"ping"'), "bad_request"),
            ("a JSON number", frame(b"42"), "bad_request"),
            ("op missing", frame(b"{}"), "bad_request"),
            ("op not a string", frame(b'{"op":5}  '), "bad_request"),
            ("unknown op", frame(b'{"op":"shutdown"}  '), "unknown_op"),
            ("deeply nested JSON (100000 '[', over the cap)", hdr(100000) + b"[" * 100000, "too_large"),
            ("deeply nested JSON (60000 '[')", hdr(60000) + b"[" * 60000, "bad_request"),
            ("a NUL inside the JSON", frame(b'{"op":"pi\x00ng"}'), "bad_request"),
            ("a NUL after the JSON", frame(b'{"op":"ping"}\x00'), "bad_request"),
            ("a \\u0000 escape inside a string", frame(b'{"op":"ping","user":"alice\\u0000x"}'), "bad_request"),
            ("trailing JSON after the value", frame(b'{"op":"ping"}{}'), "bad_request"),
            ("binary, not UTF-8", frame(b"\xff\xfe\xfd\xfc\x00\x01\x02\x03"), "bad_request"),
        ]
        for what, data, want in cases:
            got, _ = exchange(b, data)
            code = error_code(got)
            check(code == want, f"{what}: {want} (got {code})")
            ping_ok(b, what)

        # Wrong field types: the message names the field.
        fields = [
            ({"op": "issue", "user": 5, "profile": "p", "code": "123456"}, "user"),
            ({"op": "issue", "user": "alice", "profile": ["p"], "code": "123456"}, "profile"),
            ({"op": "issue", "user": "alice", "profile": "p", "code": 123456}, "code"),
            ({"op": "issue", "user": "alice", "profile": "p", "code": "1", "duration": "1h"}, "duration"),
            ({"op": "issue", "user": "alice", "profile": "p", "code": "1", "duration": 1.5}, "duration"),
            ({"op": "issue", "user": "a" * 5000, "profile": "p", "code": "1"}, "user"),
            ({"op": "status", "user": {"name": "alice"}}, "user"),
            ({"op": "admin.user.add", "name": "alice", "profiles": "default", "uid": 0}, "profiles"),
            ({"op": "admin.user.add", "name": "alice", "profiles": ["default"], "uid": "0"}, "uid"),
            ({"op": "admin.user.add", "name": "alice", "profiles": ["default"], "uid": -5}, "uid"),
            ({"op": "admin.key.add", "name": True, "access_key_id": "A", "secret_access_key": "B"}, "name"),
        ]
        for req, field in fields:
            r = b.request(req)
            code = r.get("error", {}).get("code")
            msg = r.get("error", {}).get("message", "")
            check(code == "bad_request" and field in msg,
                  f"{json.dumps(req)[:70]}: bad_request naming '{field}' ({msg})")
            ping_ok(b, f"a wrong '{field}'")

        # JSON allows whitespace after the value: a ping ending in a newline is a ping.
        got, _ = exchange(b, frame(b'{"op":"ping"}\r\n \t'))
        check(json.loads(got).get("ok") is True, "a ping followed by JSON whitespace is answered")

        # Exactly 64 KiB is allowed: a ping padded with spaces to the cap.
        body = b'{"op":"ping"}'
        got, _ = exchange(b, hdr(65536) + body + b" " * (65536 - len(body)))
        check(json.loads(got).get("ok") is True, "a 64 KiB (exactly the cap) ping is answered")

        # Bytes after the frame on the same connection (one request per connection).
        got, _ = exchange(b, hdr(13) + b'{"op":"ping"}' + b"\x00\x00\x00\x0d{\"op\":\"ping\"}")
        code = error_code(got)
        check(code == "bad_request", f"a second frame after the first: bad_request (got {code})")
        ping_ok(b, "bytes after the frame")

        # Truncated, then the client closes: nothing to answer, daemon fine.
        got, took = exchange(b, hdr(100) + b'{"op":', close_write=True)
        check(got is None and took < IO_TIMEOUT,
              f"truncated then half-closed: closed at once, nothing answered ({took:.2f} s)")
        s = b.connect()
        s.sendall(hdr(100) + b'{"op":')
        s.close()
        ping_ok(b, "a truncated frame and a hard close")

        # Truncated, then silent: timeout after ~5 s, and others are served meanwhile.
        for what, data in (("truncated then silent", hdr(100) + b'{"op":'),
                           ("header cut in half", hdr(13)[:2]),
                           ("nothing sent at all", b"")):
            t0 = time.monotonic()
            with b.connect(IO_TIMEOUT + 10) as s:
                if data:
                    s.sendall(data)
                r = b.request({"op": "ping"}, timeout=2)
                served = time.monotonic() - t0
                got = recv_frame(s, IO_TIMEOUT + 10)
                took = time.monotonic() - t0
            check(r["ok"] and served < 2, f"{what}: others are served meanwhile ({served:.2f} s)")
            check(error_code(got) == "timeout" and IO_TIMEOUT - 0.5 <= took <= IO_TIMEOUT + 3,
                  f"{what}: timeout answered after {took:.1f} s")
            ping_ok(b, what)

        # 100 concurrent clients doing ping while 20 silent connections are open.
        silent = [b.connect() for _ in range(20)]
        results = [None] * 100
        start = threading.Barrier(101)

        def client(i):
            start.wait()
            try:
                results[i] = b.request({"op": "ping"}, timeout=IO_TIMEOUT + 10)
            except OSError as e:
                results[i] = {"ok": False, "exc": repr(e)}
        threads = [threading.Thread(target=client, args=(i,)) for i in range(100)]
        for t in threads:
            t.start()
        start.wait()
        t0 = time.monotonic()
        for t in threads:
            t.join(timeout=60)
        wall = time.monotonic() - t0
        answered = sum(1 for r in results if r and r.get("ok") is True)
        check(answered == 100, f"100 concurrent pings with 20 silent connections open: "
                               f"{answered}/100 answered in {wall:.2f} s")
        check(wall < IO_TIMEOUT, "no ping waited for the silent connections' timeout")
        # The silent ones are closed with timeout, not left hanging.
        codes = [error_code(recv_frame(s, IO_TIMEOUT + 10)) for s in silent]
        for s in silent:
            s.close()
        check(codes == ["timeout"] * 20, "the 20 silent connections each got timeout")
        ping_ok(b, "the load")
        err = b.stderr()
    check("Segmentation" not in err and "AddressSanitizer" not in err, "the daemon logged no crash")
    print("bad-frames: all checks passed")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        print(f"FAIL: {e}", file=sys.stderr)
        raise
