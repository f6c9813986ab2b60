# SPDX-License-Identifier: MIT
"""Pseudo-terminals for the tests that need a program to ask on its terminal
(TOTP codes, the vault passphrase):

    master, slave = os.openpty()
    p = subprocess.Popen(cmd, pass_fds=(slave,), preexec_fn=terminal_owner(slave), ...)
    screen = read_until(master, b"): ", 30)   # the prompt is on the terminal
    echo = echo_on(slave)                      # is the terminal echoing?
    os.write(master, b"123456\\n")
    ... p ends ...
    screen += drain(master)                    # whatever else it showed
"""
import fcntl
import os
import select
import termios
import time


def terminal_owner(slave):
    """A preexec_fn making the pty slave the child's controlling terminal."""
    def become():
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    return become


def read_until(master, marker, timeout):
    """What the terminal shows, read until marker appears; AssertionError
    after timeout seconds."""
    screen = b""
    end = time.monotonic() + timeout
    while marker not in screen:
        assert time.monotonic() < end, f"{marker!r} never showed on the terminal: {screen!r}"
        if select.select([master], [], [], 0.5)[0]:
            screen += os.read(master, 1024)
    return screen


def drain(master):
    """Whatever the terminal has left to show, without waiting."""
    screen = b""
    while select.select([master], [], [], 0)[0]:
        try:
            chunk = os.read(master, 1024)
        except OSError:
            break
        if not chunk:
            break
        screen += chunk
    return screen


def echo_on(slave):
    return bool(termios.tcgetattr(slave)[3] & termios.ECHO)
