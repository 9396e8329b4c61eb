"""test_connections.py - idle timeout, many concurrent connections, and the
connection cap.

Idle: with --idle-timeout-ms 1500 a client that trickles one byte a second
(never completing a request) and a silent client are both cut near 1.5 s,
while a client that completes a request every 0.4 s is kept; the three run
side by side so the module stays short. Concurrency: 1,000 connections are
opened at once (RLIMIT_NOFILE raised for this process and so the server it
starts) and every one gets its reply, twice. The cap: with
--max-connections 4 a fifth connection is closed (optionally after an Error
frame) while the four keep working, and a slot freed is reusable.
"""

import resource
import selectors
import socket
import struct
import threading
import time
import unittest

from serverutil import ServerTestCase, ask, frame, pack, recv_payload, reply_of

IDLE_MS = 1500


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class IdleTimeout(ServerTestCase):
    SERVER_ARGS = ("--idle-timeout-ms", str(IDLE_MS))

    def trickle(self, out):
        """Sends one byte a second of a valid frame; records when the server cut it."""
        data = frame(pack({"QueryConcept": {"concept_id": "slow"}}))
        with self.server.raw() as s:
            t0 = time.monotonic()
            try:
                for b in data:
                    s.sendall(bytes([b]))
                    s.settimeout(1.0)
                    try:
                        if s.recv(1) == b"":
                            break
                    except socket.timeout:
                        pass
                else:
                    out["trickle"] = None  # never cut
                    return
            except (BrokenPipeError, ConnectionResetError):
                pass
            out["trickle"] = time.monotonic() - t0

    def silent(self, out):
        with self.server.raw() as s:
            t0 = time.monotonic()
            s.settimeout(10)
            try:
                data = s.recv(1)
            except ConnectionResetError:
                data = b""
            out["silent"] = time.monotonic() - t0 if data == b"" else None

    def busy(self, out):
        with self.server.raw() as s:
            try:
                for _ in range(8):  # 3.2 s, over twice the timeout
                    time.sleep(0.4)
                    if ask(s, "HealthCheck")[0] != "HealthCheckOk":
                        out["busy"] = "bad reply"
                        return
                out["busy"] = "kept"
            except OSError as e:
                out["busy"] = "cut: %r" % e

    def test_idle_clients_are_cut_busy_ones_kept(self):
        out = {}
        threads = [threading.Thread(target=f, args=(out,))
                   for f in (self.trickle, self.silent, self.busy)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(out.get("busy"), "kept")
        for who in ("trickle", "silent"):
            took = out.get(who)
            self.assertIsNotNone(took, "%s client was never cut" % who)
            self.assertGreaterEqual(took, IDLE_MS / 1000 - 0.1, who)
            self.assertLess(took, IDLE_MS / 1000 + 2.0, who)


class ManyConnections(ServerTestCase):
    N = 1000
    SERVER_ARGS = ("--max-connections", "1100")

    @classmethod
    def setUpClass(cls):
        if raise_nofile(cls.N + 200) < cls.N + 100:
            raise unittest.SkipTest("RLIMIT_NOFILE cannot be raised to %d" % (cls.N + 200))
        super().setUpClass()

    def round(self, socks):
        """One HealthCheck on every socket; returns how many got HealthCheckOk."""
        sel = selectors.DefaultSelector()
        bufs = {}
        for s in socks:
            s.sendall(frame(pack("HealthCheck")))
            bufs[s] = bytearray()
            sel.register(s, selectors.EVENT_READ)
        ok, deadline = 0, time.monotonic() + 30
        while bufs and time.monotonic() < deadline:
            for key, _ in sel.select(1.0):
                s = key.fileobj
                chunk = s.recv(65536)
                buf = bufs[s]
                buf += chunk
                if len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
                    n = struct.unpack(">I", buf[:4])[0]
                    ok += reply_of(bytes(buf[4:4 + n]))[0] == "HealthCheckOk"
                    sel.unregister(s)
                    del bufs[s]
                elif not chunk:
                    sel.unregister(s)
                    del bufs[s]
        sel.close()
        return ok

    def test_thousand_concurrent_connections(self):
        socks = []
        try:
            for _ in range(self.N):
                socks.append(socket.create_connection(("127.0.0.1", self.server.port),
                                                      timeout=30))
            self.assertEqual(self.round(socks), self.N)
            self.assertEqual(self.round(socks), self.N)
        finally:
            for s in socks:
                s.close()
        self.assert_alive()


class ConnectionCap(ServerTestCase):
    CAP = 4
    SERVER_ARGS = ("--max-connections", str(CAP))

    def refused(self, s):
        """True if s is closed by the server, allowing one Error frame first."""
        s.settimeout(5)
        data = bytearray()
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
        except socket.timeout:
            return False
        if data:
            (n,) = struct.unpack(">I", data[:4])
            self.assertEqual(len(data), 4 + n, "only one Error frame may precede the close")
            self.assertEqual(reply_of(bytes(data[4:]))[0], "Error")
        return True

    def test_over_the_cap_is_refused_cleanly(self):
        held = [self.server.raw() for _ in range(self.CAP)]
        try:
            for s in held:
                self.assertEqual(ask(s, "HealthCheck")[0], "HealthCheckOk")
            for _ in range(20):  # refusals must not leak slots
                extra = self.server.raw()
                self.assertTrue(self.refused(extra))
                extra.close()
            for s in held:  # the admitted ones are untouched
                self.assertEqual(ask(s, "HealthCheck")[0], "HealthCheckOk")
            held.pop().close()
            self.assertTrue(self.served_soon(), "a freed slot was not reused")
            while held:
                held.pop().close()
            self.assertTrue(self.all_served_soon(self.CAP), "slots leaked")
        finally:
            for s in held:
                s.close()

    def all_served_soon(self, n):
        """n connections held at once are all served (retried while closes land)."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            socks = [self.server.raw() for _ in range(n)]
            try:
                for s in socks:
                    s.sendall(frame(pack("HealthCheck")))
                    s.settimeout(2)
                    if reply_of(recv_payload(s))[0] != "HealthCheckOk":
                        break
                else:
                    return True
            except (ConnectionError, socket.timeout):
                pass
            finally:
                for s in socks:
                    s.close()
            time.sleep(0.1)
        return False

    def served_soon(self):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with self.server.raw() as s:
                try:
                    s.sendall(frame(pack("HealthCheck")))
                    s.settimeout(2)
                    if reply_of(recv_payload(s))[0] == "HealthCheckOk":
                        return True
                except (ConnectionError, socket.timeout):
                    pass
            time.sleep(0.1)
        return False


if __name__ == "__main__":
    unittest.main(verbosity=2)
