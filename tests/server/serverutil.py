"""serverutil.py - runs the real sutra-server for the black-box tests.

Server starts $SUTRA_SERVER on a free loopback port with a fresh data
directory (or a given one, to restart on the same data), waits until it
accepts connections, and stops it with SIGTERM, returning the exit status so
tests can assert a clean shutdown (0). The server's stderr goes to a log file
whose tail is attached to failures. Raw-socket helpers speak the framing
directly (4-byte big-endian length + MessagePack) for the tests that must
send bytes no client would.
"""

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

import msgpack

from sutra_client import SutraClient, parse_reply, unpack

SERVER = os.environ.get("SUTRA_SERVER", "")
HOST = "127.0.0.1"


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """One sutra-server process. Extra flags go through `args` (a list)."""

    def __init__(self, args=(), data_dir=None, dimension=4, durability="always"):
        if not SERVER or not os.path.exists(SERVER):
            raise unittest.SkipTest("SUTRA_SERVER is not set to a built sutra-server")
        self.own_dir = data_dir is None
        self.root = tempfile.mkdtemp(prefix="sutra-srv-")
        self.data_dir = data_dir or os.path.join(self.root, "data")
        self.args = list(args)
        self.dimension = dimension
        self.durability = durability
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.root, "server.log")
        self.log = None

    def command(self):
        return [SERVER, "--host", HOST, "--port", str(self.port), "--data-dir", self.data_dir,
                "--dimension", str(self.dimension), "--durability", self.durability] + self.args

    def start(self, timeout=15.0):
        for _ in range(5):  # the port may be taken between free_port() and bind
            self.port = free_port()
            self.log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=self.log,
                                         stdin=subprocess.DEVNULL)
            if self._wait_ready(timeout):
                return self
            self.log.close()
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        raise RuntimeError("sutra-server did not start:\n" + self.log_tail())

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                socket.create_connection((HOST, self.port), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.02)
        return False

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=30.0):
        """Sends sig and waits; returns the exit status (negative: killed by a signal)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("sutra-server did not exit within %.0f s of signal %d\n%s"
                                 % (timeout, sig, self.log_tail()))
        self.log.close()
        self.proc = None
        return rc

    def kill(self):
        return self.stop(signal.SIGKILL)

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.log:
            self.log.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return "(no log)"

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def client(self, **kw):
        kw.setdefault("timeout", 20)
        return SutraClient(HOST, self.port, **kw)

    def raw(self, timeout=20):
        s = socket.create_connection((HOST, self.port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s


# ---- raw framing ----

def frame(payload):
    return struct.pack(">I", len(payload)) + payload


def pack(obj, single_float=True):
    return msgpack.packb(obj, use_bin_type=True, use_single_float=single_float)


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return bytes(buf)


def recv_payload(sock):
    (n,) = struct.unpack(">I", recv_exact(sock, 4))
    return recv_exact(sock, n)


def roundtrip_raw(sock, payload):
    """Sends payload framed; returns the reply payload bytes."""
    sock.sendall(frame(payload))
    return recv_payload(sock)


def reply_of(payload_bytes):
    """(variant, fields) of reply bytes in either encoding."""
    return parse_reply(unpack(payload_bytes))


def ask(sock, obj):
    """Sends obj (packed) and returns (variant, fields) of the reply."""
    return reply_of(roundtrip_raw(sock, pack(obj)))


def read_until_closed(sock, timeout):
    """(closed, data): whether the peer closed sock (EOF or reset) within
    timeout, and every byte read until then."""
    deadline, data = time.monotonic() + timeout, bytearray()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False, bytes(data)
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return False, bytes(data)
        except (ConnectionResetError, BrokenPipeError):
            return True, bytes(data)
        if not chunk:
            return True, bytes(data)
        data += chunk


class ServerTestCase(unittest.TestCase):
    """One server per test class; subclasses set SERVER_ARGS / DIMENSION."""

    SERVER_ARGS = ()
    DIMENSION = 4

    @classmethod
    def setUpClass(cls):
        cls.server = Server(cls.SERVER_ARGS, dimension=cls.DIMENSION).start()

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.server.stop()
            if rc != 0:
                raise AssertionError("sutra-server exited with %s on SIGTERM\n%s"
                                     % (rc, cls.server.log_tail()))
        finally:
            cls.server.cleanup()

    def assert_alive(self, sock=None):
        """The server still answers (on sock if given, else a new connection)."""
        if sock is None:
            with self.server.raw() as s:
                self.assertEqual(ask(s, "HealthCheck")[0], "HealthCheckOk")
        else:
            self.assertEqual(ask(sock, "HealthCheck")[0], "HealthCheckOk")

    def assert_error(self, reply, contains=None):
        variant, fields = reply
        self.assertEqual(variant, "Error", "expected an Error, got %r" % (reply,))
        if contains is not None:
            self.assertIn(contains, fields["message"])
        return fields["message"]


def main():
    unittest.main(verbosity=2)


if __name__ == "__main__":
    sys.exit("import this module from a test")
