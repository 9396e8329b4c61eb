"""test_variants.py - every request variant round trip through the real server.

Each behaviour is checked in three combinations: compact replies with map
requests, named replies (SetEncoding) with map requests, and compact replies
with array-form requests. The assertions are about what the server did (the
content read back, the neighbour found, the path taken, the item deleted),
not only about the reply's shape.
"""

import itertools
import unittest

from serverutil import ServerTestCase, ask, pack, recv_payload, frame, unpack
from sutra_client import SutraError

_counter = itertools.count()


class VariantsBase:
    ENCODING = "compact"
    FORM = "map"

    def setUp(self):
        self.c = self.server.client(encoding=self.ENCODING, request_form=self.FORM)
        self.addCleanup(self.c.close)

    def name(self, tag):
        """A fresh client id (text, so the server MD5s it)."""
        return "%s-%s-%s-%d" % (tag, self.ENCODING, self.FORM, next(_counter))

    def learn(self, tag, content=None, vec=None, strength=1.0, confidence=0.9):
        cid = self.name(tag)
        self.c.learn_concept(cid, content or ("content of " + cid), vec, strength, confidence)
        return cid

    # ---- the Rust variants ----

    def test_learn_concept_v2_then_query(self):
        text = "v2 content " + self.name("v2")
        cid = self.c.learn_concept_v2(text, strength=0.75, confidence=0.25)
        self.assertRegex(cid, r"^[0-9a-f]{16}$")
        q = self.c.query_concept(cid)
        self.assertTrue(q["found"])
        self.assertEqual(q["content"], text)
        self.assertEqual(q["strength"], 0.75)
        self.assertEqual(q["confidence"], 0.25)
        self.assertEqual(self.c.learn_concept_v2(text), cid)

    def test_learn_batch_ids_in_input_order(self):
        texts = ["batch %s #%d" % (self.name("b"), i) for i in range(5)]
        ids = self.c.learn_batch(texts)
        self.assertEqual(len(ids), 5)
        self.assertEqual(len(set(ids)), 5)
        for text, cid in zip(texts, ids):
            self.assertEqual(self.c.query_concept(cid)["content"], text)
            self.assertEqual(self.c.learn_concept_v2(text), cid)

    def test_learn_concept_sequences_increase(self):
        s1 = self.c.learn_concept(self.name("s"), "one")
        s2 = self.c.learn_concept(self.name("s"), "two")
        self.assertIsInstance(s1, int)
        self.assertGreater(s2, s1)

    def test_query_missing_concept(self):
        q = self.c.query_concept(self.name("missing"))
        self.assertEqual((q["found"], q["content"], q["strength"], q["confidence"]),
                         (False, "", 0.0, 0.0))

    def test_learn_replaces_content_and_keeps_edges(self):
        a, b = self.learn("ra"), self.learn("rb")
        self.c.learn_association(a, b, 1, 0.5)
        self.c.learn_concept(a, "new content", None, 2.0, 0.5)
        q = self.c.query_concept(a)
        self.assertEqual((q["content"], q["strength"], q["confidence"]),
                         ("new content", 2.0, 0.5))
        self.assertEqual(len(self.c.get_neighbors(a)), 1)

    def test_association_is_seen_from_both_ends(self):
        a, b = self.learn("na"), self.learn("nb")
        seq = self.c.learn_association(a, b, 0, 0.8)
        self.assertIsInstance(seq, int)
        na, nb = self.c.get_neighbors(a), self.c.get_neighbors(b)
        self.assertEqual(len(na), 1)
        self.assertEqual(len(nb), 1)
        self.assertEqual(self.c.query_concept(na[0])["content"], "content of " + b)
        self.assertEqual(self.c.query_concept(nb[0])["content"], "content of " + a)

    def test_association_needs_both_concepts(self):
        a = self.learn("lonely")
        with self.assertRaises(SutraError):
            self.c.learn_association(a, self.name("absent"), 0, 0.5)

    def test_association_rejects_unknown_type(self):
        a, b = self.learn("ta"), self.learn("tb")
        with self.assertRaises(SutraError):
            self.c.learn_association(a, b, 5, 0.5)

    def test_find_path(self):
        a, b, c, d = (self.learn("p%d" % i) for i in range(4))
        self.c.learn_association(a, b)
        self.c.learn_association(c, b)  # traversed against its direction too
        self.c.learn_association(c, d)
        path = self.c.find_path(a, d, 5)
        self.assertEqual(len(path), 4)
        self.assertEqual([self.c.query_concept(p)["content"] for p in path],
                         ["content of " + x for x in (a, b, c, d)])
        self.assertIsNone(self.c.find_path(a, d, 2))
        self.assertEqual(len(self.c.find_path(a, a, 0)), 1)
        self.assertIsNone(self.c.find_path(a, self.learn("island"), 20))

    def test_vector_search_nearest_first(self):
        tag = self.name("vec")
        near = self.learn(tag + "near", vec=[1.0, 0.0, 0.0, 0.0])
        self.learn(tag + "far", vec=[0.0, 1.0, 0.0, 0.0])
        self.learn(tag + "mid", vec=[1.0, 1.0, 0.0, 0.0])
        hits = self.c.vector_search([0.9, 0.0, 0.0, 0.0], k=3, ef_search=50)
        self.assertGreaterEqual(len(hits), 3)
        self.assertEqual(self.c.query_concept(hits[0][0])["content"], "content of " + near)
        self.assertAlmostEqual(hits[0][1], 1.0, places=5)
        sims = [h[1] for h in hits]
        self.assertEqual(sims, sorted(sims, reverse=True))

    def test_vector_search_wrong_dimension_is_an_error(self):
        with self.assertRaises(SutraError):
            self.c.vector_search([1.0, 0.0], k=3)

    def test_learn_with_wrong_dimension_is_an_error(self):
        with self.assertRaises(SutraError):
            self.c.learn_concept(self.name("dim"), "x", [1.0, 2.0, 3.0])

    def test_semantic_queries_are_not_enabled(self):
        a = self.learn("sem")
        for call, args in ((self.c.find_path_semantic, (a, a)),
                           (self.c.find_temporal_chain, ()),
                           (self.c.find_causal_chain, (a,)),
                           (self.c.find_contradictions, ("science",)),
                           (self.c.query_by_semantic, ())):
            with self.assertRaises(SutraError) as cm:  # docs/PROTOCOL.md: until enabled
                call(*args)
            self.assertEqual(cm.exception.message,
                             "semantic analysis is not enabled on this server")
            self.assertTrue(self.c.health_check()["healthy"])

    def test_stats(self):
        before = self.c.get_stats()
        self.learn("st")
        after = self.c.get_stats()
        self.assertEqual(set(after), {"concepts", "edges", "vectors", "written", "dropped",
                                      "pending", "reconciliations", "uptime_seconds"})
        self.assertEqual(after["concepts"], before["concepts"] + 1)
        self.assertGreater(after["written"], before["written"])
        self.assertEqual(after["dropped"], 0)

    def test_flush_and_health(self):
        self.assertIsNone(self.c.flush())
        h = self.c.health_check()
        self.assertIs(h["healthy"], True)
        self.assertIsInstance(h["status"], str)
        self.assertIsInstance(h["uptime_seconds"], int)

    # ---- extensions ----

    def test_get_concept_has_every_field(self):
        a = self.name("gc")
        b = self.learn("gc-other")
        r = self.c.learn_concepts([{"concept_id": a, "content": "full", "vector": [1, 2, 3, 4],
                                    "strength": 3.0, "confidence": 0.5,
                                    "metadata": {"lang": "en", "src": "test"}}])
        self.assertEqual(len(r["concept_ids"]), 1)
        self.c.learn_association(a, b, 2, 0.5)
        g = self.c.get_concept(a)
        self.assertEqual(g["content"], "full")
        self.assertEqual(g["vector"], [1.0, 2.0, 3.0, 4.0])
        self.assertEqual((g["strength"], g["confidence"]), (3.0, 0.5))
        self.assertEqual(g["metadata"], {"lang": "en", "src": "test"})
        self.assertEqual((g["out_degree"], g["in_degree"]), (1, 0))
        self.assertGreater(g["created_us"], 1_600_000_000_000_000)
        self.assertGreaterEqual(g["updated_us"], g["created_us"])
        self.assertEqual(g["concept_id"], r["concept_ids"][0])
        self.assertIsNone(self.c.get_concept(self.name("nobody")))
        self.assertIsNone(self.c.get_concept(b)["vector"])

    def test_delete_concept_removes_it_and_its_edges(self):
        a, b = self.learn("da"), self.learn("db")
        self.c.learn_association(a, b)
        seq = self.c.delete_concept(a)
        self.assertIsInstance(seq, int)
        self.assertFalse(self.c.query_concept(a)["found"])
        self.assertEqual(self.c.get_neighbors(b), [])
        with self.assertRaises(SutraError):
            self.c.delete_concept(a)

    def test_delete_association(self):
        a, b = self.learn("xa"), self.learn("xb")
        self.c.learn_association(a, b, 3, 0.5)
        with self.assertRaises(SutraError):
            self.c.delete_association(a, b, 0)  # other type: absent
        self.assertIsInstance(self.c.delete_association(a, b, 3), int)
        self.assertEqual(self.c.get_neighbors(a), [])

    def test_get_neighbors_detailed(self):
        hub = self.learn("hub")
        outs = [self.learn("out%d" % i) for i in range(3)]
        src = self.learn("src")
        for i, o in enumerate(outs):
            self.c.learn_association(hub, o, i, 0.5)
        self.c.learn_association(src, hub, 1, 0.25)
        both = self.c.get_neighbors_detailed(hub)
        self.assertEqual(both["total"], 4)
        self.assertFalse(both["truncated"])
        dirs = sorted(n["direction"] for n in both["neighbors"])
        self.assertEqual(dirs, ["in", "out", "out", "out"])
        inn = self.c.get_neighbors_detailed(hub, "in")["neighbors"]
        self.assertEqual([(n["assoc_type"], n["confidence"]) for n in inn], [(1, 0.25)])
        self.assertEqual(inn[0]["concept_id"], self.c.get_concept(src)["concept_id"])
        self.assertEqual(self.c.get_neighbors_detailed(hub, "out", assoc_type=2)["total"], 1)
        lim = self.c.get_neighbors_detailed(hub, "both", limit=2)
        self.assertEqual((len(lim["neighbors"]), lim["total"], lim["truncated"]), (2, 4, True))

    def test_learn_concepts_is_atomic(self):
        a, b = self.name("ok"), self.name("bad")
        with self.assertRaises(SutraError):
            self.c.learn_concepts([{"concept_id": a, "content": "fine"},
                                   {"concept_id": b, "content": "bad", "vector": [1.0]}])
        self.assertFalse(self.c.query_concept(a)["found"])
        r = self.c.learn_concepts([{"concept_id": a, "content": "fine"},
                                   {"concept_id": b, "content": "good"}])
        self.assertEqual(len(r["concept_ids"]), 2)
        self.assertIsInstance(r["sequence"], int)
        self.assertEqual(self.c.query_concept(b)["content"], "good")

    def test_learn_associations_is_atomic(self):
        a, b, c = self.learn("aa"), self.learn("ab"), self.name("ac-absent")
        with self.assertRaises(SutraError):
            self.c.learn_associations([{"source_id": a, "target_id": b},
                                       {"source_id": a, "target_id": c}])
        self.assertEqual(self.c.get_neighbors(a), [])
        r = self.c.learn_associations([{"source_id": a, "target_id": b, "assoc_type": 4},
                                       {"source_id": b, "target_id": a, "confidence": 0.5}])
        self.assertEqual(r["count"], 2)
        self.assertEqual(self.c.get_neighbors_detailed(a)["total"], 2)

    def test_sync_and_checkpoint(self):
        seq = self.c.learn_concept(self.name("sy"), "durable")
        self.assertGreaterEqual(self.c.sync(), seq)
        self.assertGreaterEqual(self.c.checkpoint(), seq)
        self.assertGreaterEqual(self.c.stats_extended()["checkpoint_lsn"], seq)

    def test_server_info(self):
        info = self.c.server_info()
        self.assertEqual(info["dimension"], 4)
        self.assertEqual(info["response_encoding"], self.ENCODING)
        self.assertIn("compact", info["encodings"])
        self.assertIn("named", info["encodings"])
        self.assertEqual(info["durability"], "always")
        lim = info["limits"]
        self.assertEqual((lim["max_content_bytes"], lim["max_embedding_dim"],
                          lim["max_batch_items"], lim["max_path_depth"], lim["max_k"],
                          lim["max_frame_bytes"]),
                         (10485760, 2048, 1000, 20, 1000, 104857600))

    def test_stats_extended(self):
        self.learn("se")
        st = self.c.stats_extended()
        for f in ("concepts", "associations", "vectors", "wal_next_lsn", "wal_durable_lsn",
                  "ops_written", "read_only", "health_score", "recommendation", "uptime_us"):
            self.assertIn(f, st)
        self.assertEqual(st["concepts"], self.c.get_stats()["concepts"])
        self.assertEqual(st["ops_dropped"], 0)
        self.assertEqual(st["read_only"], 0)
        self.assertGreaterEqual(st["wal_durable_lsn"], 1)


class CompactMapRequests(VariantsBase, ServerTestCase):
    ENCODING, FORM = "compact", "map"


class NamedMapRequests(VariantsBase, ServerTestCase):
    ENCODING, FORM = "named", "map"


class CompactArrayRequests(VariantsBase, ServerTestCase):
    ENCODING, FORM = "compact", "array"


class SetEncoding(ServerTestCase):
    """SetEncoding switches this connection's replies, and only this connection's."""

    def learn_raw(self, sock, cid):
        sock.sendall(frame(pack({"LearnConcept": {"concept_id": cid, "content": "e",
                                                  "embedding": [], "strength": 1.0,
                                                  "confidence": 1.0}})))
        return unpack(recv_payload(sock))

    def test_switch_and_back(self):
        with self.server.raw() as s, self.server.raw() as other:
            self.assertIsInstance(self.learn_raw(s, "e1")["LearnConceptOk"], list)
            self.assertEqual(ask(s, {"SetEncoding": {"named": True}}),
                             ("SetEncodingOk", {"named": True}))
            r = self.learn_raw(s, "e2")
            self.assertEqual(set(r["LearnConceptOk"]), {"sequence"})
            self.assertIsInstance(self.learn_raw(other, "e3")["LearnConceptOk"], list)
            err = unpack(ask_raw(s, pack({"QueryConcept": {}})))
            self.assertIsInstance(err["Error"], dict)
            self.assertIsInstance(err["Error"]["message"], str)
            self.assertEqual(unpack(ask_raw(s, pack("Flush"))), "FlushOk")
            ask(s, {"SetEncoding": {"named": False}})
            self.assertIsInstance(self.learn_raw(s, "e4")["LearnConceptOk"], list)

    def test_extension_replies_are_named_on_a_compact_connection(self):
        reqs = [{"LearnConcepts": {"concepts": [{"concept_id": "x1", "content": "x"},
                                                {"concept_id": "x2", "content": "y"}]}},
                {"LearnAssociations": {"associations": [{"source_id": "x1", "target_id": "x2",
                                                         "assoc_type": 0, "confidence": 1.0}]}},
                {"DeleteAssociation": {"source_id": "x1", "target_id": "x2", "assoc_type": 0}},
                {"DeleteConcept": {"concept_id": "x1"}}, "Sync", "Checkpoint",
                {"GetConcept": {"concept_id": "x2"}}, {"GetNeighborsDetailed": {"concept_id": "x2"}},
                "StatsExtended", "ServerInfo", {"DeleteConcept": {"concept_id": "x1"}}]
        with self.server.raw() as s:
            for req in reqs:
                reply = unpack(ask_raw(s, pack(req)))
                self.assertIsInstance(reply, dict, req)
                (payload,) = reply.values()
                self.assertIsInstance(payload, dict, (req, reply))
            # the Rust variants on the same connection stay compact
            self.assertIsInstance(unpack(ask_raw(s, pack("HealthCheck")))["HealthCheckOk"], list)

    def test_named_flag_at_startup(self):
        from serverutil import Server
        srv = Server(["--response-encoding", "named"]).start()
        try:
            with srv.raw() as s:
                info = unpack(ask_raw(s, pack("ServerInfo")))["ServerInfoOk"]
                self.assertEqual(info["response_encoding"], "named")
                r = unpack(ask_raw(s, pack("HealthCheck")))
                self.assertEqual(set(r["HealthCheckOk"]), {"healthy", "status", "uptime_seconds"})
                ask(s, {"SetEncoding": {"named": False}})
                r = unpack(ask_raw(s, pack("HealthCheck")))
                self.assertIsInstance(r["HealthCheckOk"], list)
            self.assertEqual(srv.stop(), 0)
        finally:
            srv.cleanup()


def ask_raw(sock, payload):
    sock.sendall(frame(payload))
    return recv_payload(sock)


if __name__ == "__main__":
    unittest.main(verbosity=2)
