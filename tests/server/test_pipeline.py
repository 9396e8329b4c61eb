"""test_pipeline.py - pipelined requests on one connection.

A client may send many requests before reading any reply. The server keeps
consecutive writes of a connection in flight together, but replies leave
strictly in request order, a read waits for the writes sent before it on its
connection (so it sees them), and a write may rely on an earlier one still
in flight (an association to a concept learned just before it). Checked
here, each time with every request sent in a single write: 500 LearnConcept
then a QueryConcept of each, and the same interleaved; writes whose
validation fails in the middle of a pipeline (a missing association
endpoint, a wrong embedding dimension, an undecodable frame) get their Error
in place while the others succeed; Sync and Checkpoint inside a pipeline;
large writes that exceed what one connection may keep in flight; all of it
also with a per-connection limit of 3 in flight (the pipeline stalls at the
limit and resumes) and of 1; a peer that half-closes after a burst gets every
reply, and one that closes at once leaves the server healthy. SIGTERM right
after a pipelined burst answers every request of it, exits 0, and the
writes are there after a restart. A bad max_inflight_per_connection fails
at start-up naming the setting.
"""

import signal
import socket
import subprocess
import unittest

from serverutil import (SERVER, Server, ServerTestCase, frame, pack, read_until_closed,
                        recv_payload, reply_of)

N = 500


def learn(cid, content, embedding=()):
    return frame(pack({"LearnConcept": {"concept_id": cid, "content": content,
                                        "embedding": list(embedding), "strength": 1.0,
                                        "confidence": 0.5}}))


def query(cid):
    return frame(pack({"QueryConcept": {"concept_id": cid}}))


def associate(src, dst):
    return frame(pack({"LearnAssociation": {"source_id": src, "target_id": dst,
                                            "assoc_type": 1, "confidence": 0.5}}))


def burst(sock, frames):
    """Sends every frame in one write, then reads one reply per frame."""
    sock.sendall(b"".join(frames))
    return [reply_of(recv_payload(sock)) for _ in frames]


class Pipelined(ServerTestCase):
    def check_learns(self, replies):
        """Every reply is LearnConceptOk, with sequences in request order."""
        seqs = []
        for i, (variant, fields) in enumerate(replies):
            self.assertEqual(variant, "LearnConceptOk", (i, fields))
            seqs.append(fields["sequence"])
        self.assertEqual(seqs, sorted(seqs))
        self.assertEqual(len(set(seqs)), len(seqs))

    def check_query(self, reply, content):
        variant, fields = reply
        self.assertEqual(variant, "QueryConceptOk")
        self.assertTrue(fields["found"], content)
        self.assertEqual(fields["content"], content)

    def test_learns_then_queries_in_one_write(self):
        tag = self.id().rsplit(".", 1)[-1]
        ids = ["%s-%d" % (tag, i) for i in range(N)]
        with self.server.raw() as s:
            replies = burst(s, [learn(cid, "content of " + cid) for cid in ids] +
                            [query(cid) for cid in ids])
        self.check_learns(replies[:N])
        for cid, reply in zip(ids, replies[N:]):
            self.check_query(reply, "content of " + cid)

    def test_each_query_right_after_its_learn(self):
        tag = self.id().rsplit(".", 1)[-1]
        frames = []
        for i in range(N):
            cid = "%s-%d" % (tag, i)
            frames += [learn(cid, "first " + cid), learn(cid, "second " + cid), query(cid)]
        with self.server.raw() as s:
            replies = burst(s, frames)
        for i in range(N):
            cid = "%s-%d" % (tag, i)
            self.check_learns(replies[3 * i:3 * i + 2])
            self.check_query(replies[3 * i + 2], "second " + cid)  # the later write won

    def test_failures_in_the_middle_keep_their_place(self):
        tag = self.id().rsplit(".", 1)[-1]
        a, b, c = tag + "-a", tag + "-b", tag + "-c"
        frames = [learn(a, "a"), learn(b, "b"),
                  associate(a, b),                       # 2: relies on 0 and 1, in flight
                  associate(a, tag + "-missing"),        # 3: Error (target missing)
                  learn(c, "c", embedding=[1.0, 2.0]),   # 4: Error (dimension 2, not 4)
                  frame(b"\xc1"),                        # 5: Error (undecodable)
                  associate(tag + "-missing", c),        # 6: Error (source missing)
                  learn(c, "c"),                         # 7
                  associate(b, c),                       # 8: relies on 7, in flight
                  frame(pack({"GetNeighbors": {"concept_id": b}})),
                  query(c)]
        for rounds in range(3):  # also with earlier replies still being written
            with self.server.raw() as s:
                replies = burst(s, frames * 4)
            for k in range(4):
                r = replies[k * len(frames):(k + 1) * len(frames)]
                got = [v for v, _ in r]
                self.assertEqual(got, ["LearnConceptOk", "LearnConceptOk", "LearnAssociationOk",
                                       "Error", "Error", "Error", "Error", "LearnConceptOk",
                                       "LearnAssociationOk", "GetNeighborsOk",
                                       "QueryConceptOk"], (rounds, k, r))
                self.assertIn("not found", r[3][1]["message"])
                self.assertIn("target", r[3][1]["message"])
                self.assertIn("dimension", r[4][1]["message"])
                self.assertIn("source", r[6][1]["message"])
                self.assertEqual(len(r[9][1]["neighbor_ids"]), 2)  # a and c
                self.check_query(r[10], "c")

    def test_blocking_calls_inside_a_pipeline(self):
        tag = self.id().rsplit(".", 1)[-1]
        ids = ["%s-%d" % (tag, i) for i in range(100)]
        frames = ([learn(cid, cid) for cid in ids[:50]] + [frame(pack("Sync"))] +
                  [learn(cid, cid) for cid in ids[50:]] + [frame(pack("Checkpoint"))] +
                  [frame(pack("Flush"))] + [query(cid) for cid in ids])
        with self.server.raw() as s:
            replies = burst(s, frames)
        self.check_learns(replies[:50])
        self.assertEqual(replies[50][0], "SyncOk")
        self.assertGreaterEqual(replies[50][1]["durable_lsn"], replies[49][1]["sequence"])
        self.check_learns(replies[51:101])
        self.assertEqual(replies[101][0], "CheckpointOk")
        self.assertGreaterEqual(replies[101][1]["checkpoint_lsn"], replies[100][1]["sequence"])
        self.assertEqual(replies[102][0], "FlushOk")
        for cid, reply in zip(ids, replies[103:]):
            self.check_query(reply, cid)

    def test_large_writes_in_a_pipeline(self):
        # 6 x 1.5 MB: more than the server lets one connection keep in flight
        # behind others, so some wait for the earlier ones; all in order.
        tag = self.id().rsplit(".", 1)[-1]
        ids = ["%s-%d" % (tag, i) for i in range(6)]
        contents = [("%d" % i) * (1536 * 1024) for i in range(6)]
        with self.server.raw() as s:
            replies = burst(s, [learn(cid, body) for cid, body in zip(ids, contents)] +
                            [learn(tag + "-small", "small")] + [query(cid) for cid in ids])
        self.check_learns(replies[:7])
        for body, reply in zip(contents, replies[7:]):
            self.check_query(reply, body)

    def test_half_close_after_a_burst_gets_every_reply(self):
        tag = self.id().rsplit(".", 1)[-1]
        ids = ["%s-%d" % (tag, i) for i in range(200)]
        with self.server.raw() as s:
            s.sendall(b"".join(learn(cid, cid) for cid in ids))
            s.shutdown(socket.SHUT_WR)
            replies = [reply_of(recv_payload(s)) for _ in ids]
            self.assertEqual(read_until_closed(s, 10), (True, b""))
        self.check_learns(replies)

    def test_close_with_writes_in_flight(self):
        tag = self.id().rsplit(".", 1)[-1]
        for round_ in range(20):
            s = self.server.raw()
            s.sendall(b"".join(learn("%s-%d-%d" % (tag, round_, i), "x") for i in range(300)))
            if round_ % 2:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00" * 2)
            s.close()  # with unread replies (and, every other time, a reset)
        self.assert_alive()


class SmallLimit(Pipelined):
    """The same with at most 3 writes of a connection in flight."""
    SERVER_ARGS = ("--max-inflight-per-connection", "3")


class OneInFlight(Pipelined):
    """The same with one request at a time (the behaviour before pipelining)."""
    SERVER_ARGS = ("--max-inflight-per-connection", "1")


class Shutdown(unittest.TestCase):
    def test_sigterm_right_after_a_burst_answers_all_of_it(self):
        server = Server()
        self.addCleanup(server.cleanup)
        server.start()
        ids = ["term-%d" % i for i in range(N)]
        with server.raw() as s:
            s.sendall(frame(pack("HealthCheck")))  # the connection is established
            self.assertEqual(reply_of(recv_payload(s))[0], "HealthCheckOk")
            s.sendall(b"".join(learn(cid, "kept " + cid) for cid in ids))
            server.send_signal(signal.SIGTERM)
            replies = [reply_of(recv_payload(s)) for _ in ids]
            self.assertEqual(read_until_closed(s, 10), (True, b""))
        self.assertEqual(server.stop(), 0, server.log_tail())
        self.assertEqual([v for v, _ in replies], ["LearnConceptOk"] * N)
        seqs = [f["sequence"] for _, f in replies]
        self.assertEqual(seqs, sorted(seqs))
        server.start()
        with server.raw() as s:
            for cid, (variant, fields) in zip(ids, burst(s, [query(cid) for cid in ids])):
                self.assertEqual(variant, "QueryConceptOk")
                self.assertTrue(fields["found"], cid)
                self.assertEqual(fields["content"], "kept " + cid)
        self.assertEqual(server.stop(), 0, server.log_tail())


class Setting(unittest.TestCase):
    def test_bad_limit_fails_at_start_naming_the_setting(self):
        if not SERVER:
            raise unittest.SkipTest("SUTRA_SERVER is not set")
        for value in ("0", "1025", "many"):
            p = subprocess.run([SERVER, "--max-inflight-per-connection", value, "--data-dir",
                                "/nonexistent/never-created"], capture_output=True, text=True,
                               timeout=20, stdin=subprocess.DEVNULL)
            self.assertEqual(p.returncode, 2, (value, p.stderr))
            self.assertIn("max_inflight_per_connection", p.stderr)
            self.assertIn(value, p.stderr)
        p = subprocess.run([SERVER, "--print-config"], capture_output=True, text=True,
                           timeout=20, stdin=subprocess.DEVNULL)
        self.assertIn("max_inflight_per_connection = 64", p.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
