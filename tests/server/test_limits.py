"""test_limits.py - the six protocol limits, exactly at the limit and one past.

At the limit the request must succeed; one past it the reply is an Error
carrying the Rust server's text, and the same connection must go on working
(the next request gets its own reply). Every operation that carries a
limited value is checked, not just the first one that comes to mind. The
server runs with dimension 2048 so that a 2048-float embedding is accepted.
"""

import struct
import unittest

from serverutil import ServerTestCase, ask, frame, pack, recv_payload, reply_of

MAX_CONTENT = 10 * 1024 * 1024
MAX_DIM = 2048
MAX_BATCH = 1000
MAX_DEPTH = 20
MAX_K = 1000
MAX_FRAME = 100 * 1024 * 1024


def opts():
    return {"generate_embedding": False, "embedding_model": None,
            "extract_associations": False, "min_association_confidence": 0.5,
            "max_associations_per_concept": 10, "strength": 1.0, "confidence": 1.0}


def learn(cid, content="c", emb=()):
    return {"LearnConcept": {"concept_id": cid, "content": content, "embedding": list(emb),
                             "strength": 1.0, "confidence": 1.0}}


def item(cid, content="c", vector=None):
    return {"concept_id": cid, "content": content, "vector": vector, "strength": 1.0,
            "confidence": 1.0, "metadata": {}}


class Limits(ServerTestCase):
    DIMENSION = MAX_DIM

    def setUp(self):
        self.s = self.server.raw(timeout=60)
        self.addCleanup(self.s.close)

    def over(self, obj, text):
        """obj is refused with exactly text, and the connection still works."""
        self.assertEqual(ask(self.s, obj), ("Error", {"message": text}))
        self.assert_alive(self.s)

    def ok(self, obj, variant):
        got = ask(self.s, obj)
        self.assertEqual(got[0], variant, got if got[0] == "Error" else got[0])
        return got[1]

    def test_content(self):
        at, past = "a" * MAX_CONTENT, "b" * (MAX_CONTENT + 1)
        text = "Content too large: %d bytes (max: %d)" % (MAX_CONTENT + 1, MAX_CONTENT)
        cid = self.ok({"LearnConceptV2": {"content": at, "options": opts()}},
                      "LearnConceptV2Ok")["concept_id"]
        with self.server.client(timeout=60) as c:
            self.assertEqual(len(c.query_concept(cid)["content"]), MAX_CONTENT)
        self.over({"LearnConceptV2": {"content": past, "options": opts()}}, text)
        self.over(learn("big", past), text)
        self.over({"LearnBatch": {"contents": ["small", past], "options": opts()}}, text)
        self.over({"LearnConcepts": {"concepts": [item("big2", past)]}}, text)

    def test_content_counts_bytes_not_characters(self):
        past = "\u00e9" * (MAX_CONTENT // 2) + "x"  # 2 bytes per character
        self.over(learn("utf8", past),
                  "Content too large: %d bytes (max: %d)" % (MAX_CONTENT + 1, MAX_CONTENT))

    def test_embedding_dimension(self):
        text = "Embedding dimension too large: %d (max: %d)" % (MAX_DIM + 1, MAX_DIM)
        at, past = [0.5] * MAX_DIM, [0.5] * (MAX_DIM + 1)
        self.ok(learn("dim-at", emb=at), "LearnConceptOk")
        self.over(learn("dim-past", emb=past), text)
        self.ok({"VectorSearch": {"query_vector": at, "k": 1, "ef_search": 10}},
                "VectorSearchOk")
        self.over({"VectorSearch": {"query_vector": past, "k": 1, "ef_search": 10}}, text)
        self.over({"LearnConcepts": {"concepts": [item("dim-past2", vector=past)]}}, text)

    def test_batch(self):
        text = "Batch too large: %d items (max: %d)" % (MAX_BATCH + 1, MAX_BATCH)
        at = ["batch item %d" % i for i in range(MAX_BATCH)]
        ids = self.ok({"LearnBatch": {"contents": at, "options": opts()}},
                      "LearnBatchOk")["concept_ids"]
        self.assertEqual(len(set(ids)), MAX_BATCH)
        self.over({"LearnBatch": {"contents": at + ["one more"], "options": opts()}}, text)
        items = [item("ci%d" % i) for i in range(MAX_BATCH)]
        self.assertEqual(len(self.ok({"LearnConcepts": {"concepts": items}},
                                     "LearnConceptsOk")["concept_ids"]), MAX_BATCH)
        self.over({"LearnConcepts": {"concepts": items + [item("ci-extra")]}}, text)
        assocs = [{"source_id": "ci%d" % i, "target_id": "ci%d" % (i + 1), "assoc_type": 0,
                   "confidence": 0.5} for i in range(MAX_BATCH)]
        assocs[-1]["target_id"] = "ci0"
        self.assertEqual(self.ok({"LearnAssociations": {"associations": assocs}},
                                 "LearnAssociationsOk")["count"], MAX_BATCH)
        self.over({"LearnAssociations": {"associations": assocs + assocs[:1]}}, text)

    def test_path_depth(self):
        text = "Path depth too large: %d (max: %d)" % (MAX_DEPTH + 1, MAX_DEPTH)
        ids = ["chain%d" % i for i in range(MAX_DEPTH + 1)]
        for cid in ids:
            self.ok(learn(cid), "LearnConceptOk")
        for a, b in zip(ids, ids[1:]):
            self.ok({"LearnAssociation": {"source_id": a, "target_id": b, "assoc_type": 0,
                                          "confidence": 1.0}}, "LearnAssociationOk")
        r = self.ok({"FindPath": {"start_id": ids[0], "end_id": ids[-1],
                                  "max_depth": MAX_DEPTH}}, "FindPathOk")
        self.assertEqual((r["found"], len(r["path"])), (True, MAX_DEPTH + 1))
        self.over({"FindPath": {"start_id": ids[0], "end_id": ids[-1],
                                "max_depth": MAX_DEPTH + 1}}, text)
        filt = {"semantic_type": None, "domain_context": None, "temporal_after": None,
                "temporal_before": None, "has_causal_relation": False, "min_confidence": 0.0,
                "required_terms": []}
        self.over({"FindPathSemantic": {"start_id": ids[0], "end_id": ids[1], "filter": filt,
                                        "max_depth": MAX_DEPTH + 1, "max_paths": 1}}, text)
        self.over({"FindCausalChain": {"start_id": ids[0], "causal_type": "causes",
                                       "max_depth": MAX_DEPTH + 1}}, text)

    def test_k(self):
        q = [1.0] + [0.0] * (MAX_DIM - 1)
        self.ok(learn("k-one", emb=q), "LearnConceptOk")
        hits = self.ok({"VectorSearch": {"query_vector": q, "k": MAX_K, "ef_search": 10}},
                       "VectorSearchOk")["results"]
        self.assertGreaterEqual(len(hits), 1)
        self.assertLessEqual(len(hits), MAX_K)
        self.over({"VectorSearch": {"query_vector": q, "k": MAX_K + 1, "ef_search": 10}},
                  "k too large: %d (max: %d)" % (MAX_K + 1, MAX_K))

    def test_frame(self):
        health = pack("HealthCheck")
        at = health + b"\x00" * (MAX_FRAME - len(health))  # bytes after the value are ignored
        self.s.sendall(frame(at))
        self.assertEqual(reply_of(recv_payload(self.s))[0], "HealthCheckOk")
        past = at + b"\x00"
        # the oversized payload is skipped: the request behind it is answered
        self.s.sendall(frame(past) + frame(pack("Flush")))
        self.assertEqual(reply_of(recv_payload(self.s)),
                         ("Error", {"message": "Message too large: %d bytes (max: %d)"
                                    % (MAX_FRAME + 1, MAX_FRAME)}))
        self.assertEqual(reply_of(recv_payload(self.s))[0], "FlushOk")
        self.assert_alive(self.s)


class SmallerConfiguredLimits(ServerTestCase):
    """--max-frame-bytes is honoured and reported by ServerInfo."""

    SERVER_ARGS = ("--max-frame-bytes", "65536", "--max-connections", "77",
                   "--idle-timeout-ms", "123456")

    def test_configured_frame_limit(self):
        with self.server.raw() as s:
            lim = ask(s, "ServerInfo")[1]["limits"]
            self.assertEqual((lim["max_frame_bytes"], lim["max_connections"],
                              lim["idle_timeout_ms"]), (65536, 77, 123456))
            pad = pack("HealthCheck")
            s.sendall(frame(pad + b"\x00" * (65536 - len(pad))))
            self.assertEqual(reply_of(recv_payload(s))[0], "HealthCheckOk")
            s.sendall(struct.pack(">I", 65537) + b"\x01" * 65537 + frame(pack("Flush")))
            self.assertEqual(reply_of(recv_payload(s)),
                             ("Error", {"message": "Message too large: 65537 bytes (max: 65536)"}))
            self.assertEqual(reply_of(recv_payload(s))[0], "FlushOk")


if __name__ == "__main__":
    unittest.main(verbosity=2)
