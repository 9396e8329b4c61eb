"""test_durability.py - acknowledged writes survive SIGKILL and SIGTERM.

Eight client threads write through the server with durability=always, each
logging what was acknowledged: concepts (LearnConcept with a known id and
content) and associations between its own consecutive concepts. The server
is killed with SIGKILL at a random moment, restarted on the same data
directory, and every acknowledged write must be there with its content;
then the next cycle writes more on top. SUTRA_CRASH_CYCLES sets the number
of kill cycles (default 3). A final run stops the server with SIGTERM under
the same load: it must exit 0 and lose nothing that was acknowledged.
"""

import os
import random
import signal
import threading
import time
import unittest

from serverutil import Server, frame, pack, recv_payload, reply_of
from sutra_client import SutraError

THREADS = 8
CYCLES = int(os.environ.get("SUTRA_CRASH_CYCLES", "3"))


class Writer(threading.Thread):
    """Writes until the connection fails or stop is set; logs acknowledgements."""

    def __init__(self, server, tag, stop):
        super().__init__(daemon=True)
        self.server, self.tag, self.stop = server, tag, stop
        self.concepts = {}  # id -> content, acknowledged
        self.assocs = []    # (source, target), acknowledged
        self.error = None
        self.refused = None

    def run(self):
        try:
            c = self.server.client(timeout=30)
        except OSError as e:
            self.error = e
            return
        prev, i = None, 0
        try:
            while not self.stop.is_set():
                cid = "%s-%d" % (self.tag, i)
                content = "content %s %s" % (cid, "x" * (i % 50))
                c.learn_concept(cid, content, None, 1.0, 0.5)
                self.concepts[cid] = content
                if prev is not None and i % 3 == 0:
                    c.learn_association(prev, cid, i % 5, 0.5)
                    self.assocs.append((prev, cid))
                prev, i = cid, i + 1
        except (OSError, EOFError):
            pass  # the server went away: whatever was acknowledged is logged
        except SutraError as e:  # refused while shutting down: not acknowledged
            self.refused = e.message
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e
        finally:
            c.close()


def run_load(server, cycle, seconds, stop_fn):
    """Runs THREADS writers, calls stop_fn after `seconds`; returns the writers."""
    stop = threading.Event()
    writers = [Writer(server, "c%d-t%d" % (cycle, t), stop) for t in range(THREADS)]
    for w in writers:
        w.start()
    time.sleep(seconds)
    rc = stop_fn()
    stop.set()
    for w in writers:
        w.join(60)
    return writers, rc


class Durability(unittest.TestCase):
    def setUp(self):
        self.server = Server(durability="always").start()
        self.addCleanup(self.server.cleanup)
        self.concepts, self.assocs = {}, []

    def restart(self):
        self.server.start()

    def collect(self, writers):
        for w in writers:
            self.assertIsNone(w.error, "writer failed unexpectedly: %r" % (w.error,))
            self.concepts.update(w.concepts)
            self.assocs.extend(w.assocs)

    def verify(self):
        """Every acknowledged write so far is present."""
        with self.server.client(timeout=30) as c:
            for cid, content in self.concepts.items():
                q = c.query_concept(cid)
                self.assertTrue(q["found"], "acknowledged concept %s lost" % cid)
                self.assertEqual(q["content"], content, cid)
            ids = {}
            for src, dst in self.assocs:
                if dst not in ids:
                    ids[dst] = c.get_concept(dst)["concept_id"]
                found = [n["concept_id"] for n in
                         c.get_neighbors_detailed(src, "out")["neighbors"]]
                self.assertIn(ids[dst], found, "acknowledged association %s->%s lost"
                              % (src, dst))

    def test_sigkill_cycles(self):
        rnd = random.Random()
        for cycle in range(CYCLES):
            writers, rc = run_load(self.server, cycle, rnd.uniform(0.3, 1.2),
                                   self.server.kill)
            self.assertEqual(rc, -signal.SIGKILL)
            self.collect(writers)
            self.restart()
            self.verify()
        self.assertGreater(len(self.concepts), 0, "no write was acknowledged")
        self.assertGreater(len(self.assocs), 0, "no association was acknowledged")

    def test_sigterm_under_load_loses_nothing(self):
        writers, rc = run_load(self.server, 0, 0.8, self.server.stop)
        self.assertEqual(rc, 0, "exit status on SIGTERM under load\n" + self.server.log_tail())
        self.collect(writers)
        self.assertGreater(len(self.concepts), 0, "no write was acknowledged")
        self.restart()
        self.verify()
        self.assertEqual(self.server.stop(), 0)


class CleanShutdown(unittest.TestCase):
    """A clean stop makes everything acknowledged durable whatever the mode,
    and checkpoints plus the log tail recover together after a kill."""

    def write_pipelined(self, server, tag, n):
        with server.raw() as s:
            s.sendall(b"".join(frame(pack({"LearnConcept": {
                "concept_id": "%s-%d" % (tag, i), "content": "%s content %d" % (tag, i),
                "embedding": [], "strength": 1.0, "confidence": 1.0}})) for i in range(n)))
            for _ in range(n):
                self.assertEqual(reply_of(recv_payload(s))[0], "LearnConceptOk")

    def assert_present(self, server, tag, n):
        with server.client() as c:
            for i in range(n):
                q = c.query_concept("%s-%d" % (tag, i))
                self.assertEqual(q["content"], "%s content %d" % (tag, i))

    def test_durability_none_survives_sigterm(self):
        for mode in ("none", "interval:60000"):
            server = Server(durability=mode).start()
            try:
                with server.client() as c:
                    self.assertEqual(c.server_info()["durability"], mode)
                self.write_pipelined(server, "m", 2000)
                self.assertEqual(server.stop(), 0)
                server.start()
                self.assert_present(server, "m", 2000)
                self.assertEqual(server.stop(), 0)
            finally:
                server.cleanup()

    def test_checkpoint_then_kill(self):
        server = Server().start()
        try:
            self.write_pipelined(server, "before", 1000)
            with server.client() as c:
                self.assertGreaterEqual(c.checkpoint(), 1000)
            self.write_pipelined(server, "after", 1000)
            self.assertEqual(server.kill(), -signal.SIGKILL)
            server.start()
            self.assert_present(server, "before", 1000)
            self.assert_present(server, "after", 1000)
            self.assertEqual(server.stop(), 0)
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
