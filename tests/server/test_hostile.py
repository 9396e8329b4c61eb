"""test_hostile.py - bad bytes get an Error (or a clean close), never a crash,
a desync or a big allocation.

Framing abuse (oversized, truncated, zero-length, split byte by byte),
MessagePack garbage, wrong field types, unknown variants, deep nesting, and
tiny frames declaring huge arrays/strings/maps while the server's resident
memory is watched. After each abuse the same connection (when the server
kept it open) and a fresh one must still be answered in order.
"""

import random
import socket
import struct
import time
import unittest

from serverutil import (ServerTestCase, ask, frame, pack, read_until_closed, recv_payload,
                        reply_of)
from sutra_client import RESPONSES

FRAME_LIMIT = 65536


class Framing(ServerTestCase):
    SERVER_ARGS = ("--max-frame-bytes", str(FRAME_LIMIT))

    def test_oversized_frame_is_skipped(self):
        with self.server.raw() as s:
            for size in (FRAME_LIMIT + 1, 3 * FRAME_LIMIT + 7):
                s.sendall(struct.pack(">I", size) + bytes(size) + frame(pack("HealthCheck")))
                self.assertEqual(reply_of(recv_payload(s)),
                                 ("Error", {"message": "Message too large: %d bytes (max: %d)"
                                            % (size, FRAME_LIMIT)}))
                self.assertEqual(reply_of(recv_payload(s))[0], "HealthCheckOk")

    def test_oversized_payload_in_pieces(self):
        size = 2 * FRAME_LIMIT
        with self.server.raw() as s:
            s.sendall(struct.pack(">I", size))
            self.assertEqual(reply_of(recv_payload(s))[0], "Error")
            for _ in range(8):
                s.sendall(bytes(size // 8))
                time.sleep(0.01)
            self.assert_alive(s)

    def test_huge_declared_length_then_close(self):
        with self.server.raw() as s:
            s.sendall(b"\xff\xff\xff\xff" + b"abc")
            self.assert_error(reply_of(recv_payload(s)), "Message too large: 4294967295")
        self.assert_alive()

    def test_truncated_frames_then_close(self):
        for data in (b"\x00", b"\x00\x00\x00", b"\x00\x00\x00\x10", b"\x00\x00\x00\x10\x81\xac",
                     frame(pack({"QueryConcept": {"concept_id": "ab"}}))[:-1]):
            with self.server.raw() as s:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                # closed, without an answer to a request it never fully received
                self.assertEqual(read_until_closed(s, 5), (True, b""), data)
        self.assert_alive()

    def test_zero_length_frame(self):
        with self.server.raw() as s:
            s.sendall(frame(b""))
            self.assert_error(reply_of(recv_payload(s)))
            self.assert_alive(s)

    def test_pipelined_and_split_requests(self):
        with self.server.raw() as s:
            reqs = [pack({"QueryConcept": {"concept_id": "p%d" % i}}) for i in range(500)]
            s.sendall(b"".join(frame(r) for r in reqs) + frame(pack("Flush")))
            for _ in range(500):
                self.assertEqual(reply_of(recv_payload(s))[0], "QueryConceptOk")
            self.assertEqual(reply_of(recv_payload(s))[0], "FlushOk")
            data = frame(pack({"LearnConcept": {"concept_id": "split", "content": "byte by byte",
                                                "embedding": [], "strength": 1.0,
                                                "confidence": 1.0}}))
            for i in range(len(data)):
                s.sendall(data[i:i + 1])
            self.assertEqual(reply_of(recv_payload(s))[0], "LearnConceptOk")
            self.assertEqual(ask(s, {"QueryConcept": {"concept_id": "split"}})[1]["content"],
                             "byte by byte")

    def test_http_request_is_refused(self):
        with self.server.raw() as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            s.settimeout(5)
            try:
                head = s.recv(4)
            except ConnectionResetError:
                head = b""
            if head:  # an Error frame, then the rest skipped or the connection closed
                (n,) = struct.unpack(">I", head)
                body = s.recv(n)
                self.assertEqual(reply_of(body)[0], "Error")
        self.assert_alive()


class BadPayloads(ServerTestCase):
    def setUp(self):
        self.s = self.server.raw()
        self.addCleanup(self.s.close)

    def check_error(self, payload):
        """payload gets an Error reply and the connection stays in step."""
        self.s.sendall(frame(payload))
        variant, fields = reply_of(recv_payload(self.s))
        self.assertEqual(variant, "Error", payload)
        self.assertTrue(fields["message"])
        self.assert_alive(self.s)

    def test_msgpack_garbage(self):
        for payload in (b"\xc1", b"\x81", b"\x81\xac", b"\x92\x01", b"\xdd\x00\x00",
                        b"\xdb\xff\xff\xff\xff", b"\x81\xa5Flush\xdc", b"\xff" * 16,
                        b"\x81\xa4QueryConcept"[:6]):
            self.check_error(payload)

    def test_random_bytes(self):
        rnd = random.Random(20240501)
        for _ in range(300):
            payload = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 40)))
            self.s.sendall(frame(payload))
            variant, _ = reply_of(recv_payload(self.s))  # any valid reply variant
            self.assertIn(variant, RESPONSES)
        self.assert_alive(self.s)

    def test_wrong_types(self):
        for obj in ({"QueryConcept": {"concept_id": 5}},
                    {"QueryConcept": {"concept_id": None}},
                    {"QueryConcept": 5},
                    {"QueryConcept": "ab"},
                    {"LearnConcept": {"concept_id": "a", "content": "c", "embedding": [],
                                      "strength": "high", "confidence": 1.0}},
                    {"LearnConcept": {"concept_id": "a", "content": "c", "embedding": "v",
                                      "strength": 1.0, "confidence": 1.0}},
                    {"LearnConcept": {"concept_id": "a", "content": "c", "embedding": ["x"],
                                      "strength": 1.0, "confidence": 1.0}},
                    {"FindPath": {"start_id": "a", "end_id": "b", "max_depth": -1}},
                    {"FindPath": {"start_id": "a", "end_id": "b", "max_depth": 2 ** 40}},
                    {"FindPath": {"start_id": "a", "end_id": "b", "max_depth": 1.5}},
                    {"VectorSearch": {"query_vector": [1, 0, 0, 0], "k": "3", "ef_search": 1}},
                    {"LearnBatch": {"contents": "abc", "options": {}}},
                    {"LearnBatch": {"contents": [1, 2], "options": {}}},
                    {"SetEncoding": {"named": "yes"}},
                    {"LearnAssociation": {"source_id": "a", "target_id": "b", "assoc_type": -1,
                                          "confidence": 0.5}},
                    [1, 2], {"a": 1, "b": 2}, None, True, 3.5, {}):
            self.check_error(pack(obj))

    def test_unknown_variants(self):
        for obj in ("Frobnicate", {"Frobnicate": {}}, {"Frobnicate": None}, 16, 99, -1,
                    {16: {}}, {2 ** 40: []}, "", {"": {}}, "LearnConcept"):
            self.check_error(pack(obj))

    def test_deep_nesting(self):
        for depth in (40, 1000, 100000):
            deep = b"\x91" * depth + b"\x00"
            payload = (b"\x81" + pack("QueryConcept") + b"\x82" + pack("concept_id") +
                       pack("ab") + pack("x") + deep)
            self.check_error(payload)
            self.check_error(b"\x81\xa4deep" + deep)

    def test_nesting_inside_the_limit_is_skipped(self):
        payload = (b"\x81" + pack("QueryConcept") + b"\x82" + pack("concept_id") + pack("ab") +
                   pack("x") + b"\x91" * 8 + b"\x00")
        self.s.sendall(frame(payload))
        self.assertEqual(reply_of(recv_payload(self.s))[0], "QueryConceptOk")


class Backpressure(ServerTestCase):
    """A client that pipelines many large replies and pauses before reading
    is served completely once it reads again (the server's output high-water
    mark must throttle it, not stall it)."""

    FAN = 1000  # a GetNeighborsOk of about 35 kB
    N = 600     # about 21 MB of replies, several times the server's output cap

    def test_pipeline_of_large_replies_with_a_paused_reader(self):
        with self.server.client() as c:
            c.learn_concept("hub", "hub")
            c.learn_concepts([{"concept_id": "leaf%d" % i, "content": "leaf"}
                              for i in range(self.FAN)])
            c.learn_associations([{"source_id": "hub", "target_id": "leaf%d" % i}
                                  for i in range(self.FAN)])
        for attempt in range(5):  # a stall depends on how the flushes fall: several tries
            with self.server.raw(timeout=5) as s:
                s.sendall(b"".join(frame(pack({"GetNeighbors": {"concept_id": "hub"}}))
                                   for _ in range(self.N)))
                time.sleep(0.3)
                for i in range(self.N):
                    try:
                        variant, fields = reply_of(recv_payload(s))
                    except socket.timeout:
                        self.fail("attempt %d stalled after %d of %d replies"
                                  % (attempt, i, self.N))
                    self.assertEqual((variant, len(fields["neighbor_ids"])),
                                     ("GetNeighborsOk", self.FAN))


class Memory(ServerTestCase):
    """Tiny frames declaring enormous containers allocate nothing."""

    BOMBS = (
        b"\x81\xaaLearnBatch\x82\xa8contents\xdd\xff\xff\xff\xff",
        b"\x81\xaaLearnBatch\xdd\xff\xff\xff\xff",
        b"\x81\xacLearnConcept\xdf\xff\xff\xff\xff",
        b"\x81\xacLearnConcept\x85\xaaconcept_id\xdb\xff\xff\xff\xf0",
        b"\x81\xacLearnConcept\x95\xa1a\xa1c\xdd\x7f\xff\xff\xff",
        b"\x81\xacVectorSearch\x93\xdd\xff\xff\xff\xff",
        b"\x81\xadLearnConcepts\x81\xa8concepts\xdd\x10\x00\x00\x00",
        b"\xdf\xff\xff\xff\xff",
        b"\xc6\xff\xff\xff\xff",
        b"\xc9\xff\xff\xff\xff\x01",
    )

    def test_declared_sizes_do_not_allocate(self):
        with self.server.raw() as s:
            for bomb in self.BOMBS * 10:  # warm up allocator and arenas
                s.sendall(frame(bomb))
                self.assertEqual(reply_of(recv_payload(s))[0], "Error", bomb)
            before = self.server.rss_kb()
            for _ in range(100):
                s.sendall(b"".join(frame(b) for b in self.BOMBS))
                for b in self.BOMBS:
                    self.assertEqual(reply_of(recv_payload(s))[0], "Error", b)
            after = self.server.rss_kb()
            self.assert_alive(s)
        self.assertLess(after - before, 1024, "VmRSS grew from %d kB to %d kB" % (before, after))


if __name__ == "__main__":
    unittest.main(verbosity=2)
