"""test_graph_queries.py - the graph query extensions through the real server.

Small graphs whose answers are known by construction (learned with the batch
extensions) are queried with FindPathEx, FindPaths, FindBestPath, KHop and
HybridSearch: association types and directions, depth exactly at the bound
and one past, cycles, ties between shortest paths, k shortest paths, a
longer path beating a shorter one on confidence, k-hop truncation, the
order of hybrid results, and visit budgets running out (an Error for the
path queries, truncated results for KHop and HybridSearch). Every limit is
tried at the limit and one past: past it the reply is an Error with the
documented text and the same connection goes on working. Finally sutra-cli's
path, khop and hybrid commands.
"""

import itertools
import json
import os
import subprocess
import unittest

from serverutil import ServerTestCase, ask, frame, pack, recv_payload, reply_of
from sutra_client import SutraError, unpack

CLI = os.environ.get("SUTRA_CLI", "")
MAX_DEPTH = 20
MAX_VISITED = 2000000
MAX_PATHS = 1000
MAX_KHOP = 100000
MAX_HYBRID = 10000
MAX_K = 1000

_counter = itertools.count()


class GraphBase(ServerTestCase):
    """Helpers: tagged concepts without vectors (so that vector searches in other
    classes see only their own), typed and weighted links, id lookups."""

    def setUp(self):
        self.c = self.server.client(timeout=60)
        self.addCleanup(self.c.close)
        self.ids = {}  # name -> stored id (32 hex)

    def names(self, *parts):
        tag = "%s-%d" % (type(self).__name__, next(_counter))
        return ["%s-%s" % (tag, p) for p in parts]

    def learn(self, names, vectors=None):
        items = [{"concept_id": n, "content": n, "vector": (vectors or {}).get(n)}
                 for n in names]
        for name, cid in zip(names, self.c.learn_concepts(items)["concept_ids"]):
            self.ids[name] = cid

    def link(self, *edges):
        """edges: (source, target[, type[, confidence]])."""
        items = []
        for e in edges:
            items.append({"source_id": e[0], "target_id": e[1],
                          "assoc_type": e[2] if len(e) > 2 else 0,
                          "confidence": e[3] if len(e) > 3 else 1.0})
        self.c.learn_associations(items)

    def id_list(self, names):
        return [self.ids[n] for n in names]

    def path(self, a, b, **query):
        return self.c.find_path_ex(a, b, **query)

    def paths(self, a, b, **kw):
        r = self.c.find_paths(a, b, **kw)
        return r["paths"], r["truncated"]


class Paths(GraphBase):
    def test_types_and_direction(self):
        a, b, c, d = self.names("a", "b", "c", "d")
        self.learn([a, b, c, d])
        self.link((a, b, 1), (b, c, 1), (a, c, 0), (d, a, 2))
        self.assertEqual(self.path(a, c), self.id_list([a, c]))
        self.assertEqual(self.path(a, c, assoc_type=1), self.id_list([a, b, c]))
        self.assertIsNone(self.path(a, c, assoc_type=2))
        self.assertEqual(self.path(a, c, direction="out"), self.id_list([a, c]))
        self.assertIsNone(self.path(a, c, direction="in"))
        self.assertEqual(self.path(c, a, direction="in"), self.id_list([c, a]))
        self.assertEqual(self.path(c, a, direction="in", assoc_type=1), self.id_list([c, b, a]))
        self.assertEqual(self.path(c, a), self.id_list([c, a]))  # both ways by default
        self.assertEqual(self.path(c, d, direction="in"), self.id_list([c, a, d]))
        self.assertIsNone(self.path(c, d, direction="out"))
        self.assertEqual(self.path(d, c, assoc_type=2), None)
        self.assertEqual(self.path(a, a, assoc_type=4, max_depth=0), self.id_list([a]))
        # the same answers from the other path queries
        self.assertEqual(self.paths(a, c, assoc_type=1, direction="out"),
                         ([self.id_list([a, b, c])], False))
        self.assertEqual(self.c.find_best_path(c, a, direction="in", assoc_type=1)[0],
                         self.id_list([c, b, a]))
        self.assertEqual(self.paths(a, c, direction="in"), ([], False))
        self.assertIsNone(self.c.find_best_path(a, c, assoc_type=3))

    def test_no_path_answers_like_find_path(self):
        a, b, absent = self.names("a", "b", "absent")
        self.learn([a, b])
        with self.server.raw() as s:
            for end in (b, absent):
                plain = ask(s, {"FindPath": {"start_id": a, "end_id": end, "max_depth": 5}})
                ex = ask(s, {"FindPathEx": {"start_id": a, "end_id": end,
                                            "query": {"max_depth": 5}}})
                self.assertEqual(plain, ("FindPathOk", {"found": False, "path": []}))
                self.assertEqual(ex, plain)
            self.assertEqual(ask(s, {"FindPaths": [a, absent, None, None, None]}),
                             ("FindPathsOk", {"paths": [], "truncated": False}))
            self.assertEqual(ask(s, {"FindBestPath": [absent, b, None]}),
                             ("FindBestPathOk", {"found": False, "path": [],
                                                 "confidence": 0.0}))
            self.assertEqual(ask(s, {"KHop": {"concept_id": absent}}),
                             ("KHopOk", {"results": [], "truncated": False}))
        self.link((a, b))
        self.assertEqual(self.c.find_path(a, b), self.path(a, b))

    def test_depth_at_the_bound(self):
        chain = self.names(*range(MAX_DEPTH + 2))  # 21 hops end to end
        self.learn(chain)
        self.link(*[(x, y, 2, 0.5) for x, y in zip(chain, chain[1:])])
        first, at, past = chain[0], chain[MAX_DEPTH], chain[MAX_DEPTH + 1]
        self.assertEqual(self.path(first, at, max_depth=MAX_DEPTH), self.id_list(chain[:-1]))
        self.assertEqual(self.path(first, at), self.id_list(chain[:-1]))  # default 20
        self.assertIsNone(self.path(first, at, max_depth=MAX_DEPTH - 1))
        self.assertIsNone(self.path(first, past))
        self.assertIsNone(self.path(first, chain[1], max_depth=0))
        self.assertEqual(self.paths(first, at, k_shortest=True),
                         ([self.id_list(chain[:-1])], False))
        self.assertEqual(self.paths(first, past), ([], False))
        best = self.c.find_best_path(first, at, direction="out")
        self.assertEqual(best[0], self.id_list(chain[:-1]))
        self.assertAlmostEqual(best[1], 0.5 ** MAX_DEPTH, places=12)
        self.assertIsNone(self.c.find_best_path(first, past))
        hops = self.c.khop(first, direction="out")
        self.assertEqual([(r["concept_id"], r["depth"]) for r in hops["results"]],
                         list(zip(self.id_list(chain[1:-1]), range(1, MAX_DEPTH + 1))))
        self.assertFalse(hops["truncated"])
        self.assertAlmostEqual(hops["results"][-1]["confidence"], 0.5 ** MAX_DEPTH, places=12)
        with self.server.raw() as s:
            for req in ({"FindPathEx": [first, past, {"max_depth": MAX_DEPTH + 1}]},
                        {"FindPaths": [first, past, [None, None, MAX_DEPTH + 1, None], 1, True]},
                        {"FindBestPath": {"start_id": first, "end_id": past,
                                          "query": {"max_depth": MAX_DEPTH + 1}}},
                        {"KHop": {"concept_id": first, "query": {"max_depth": MAX_DEPTH + 1}}},
                        {"HybridSearch": {"query_vector": [1, 0, 0, 0],
                                          "query": {"max_depth": MAX_DEPTH + 1}}}):
                self.assertEqual(ask(s, req), ("Error", {
                    "message": "Path depth too large: %d (max: %d)" % (MAX_DEPTH + 1,
                                                                      MAX_DEPTH)}), req)
                self.assert_alive(s)

    def test_cycles(self):
        ring = self.names(0, 1, 2, 3)
        self.learn(ring)
        self.link(*[(ring[i], ring[(i + 1) % 4]) for i in range(4)])
        self.assertEqual(self.path(ring[0], ring[3], direction="out"), self.id_list(ring))
        self.assertEqual(self.path(ring[0], ring[3]), self.id_list([ring[0], ring[3]]))
        got, truncated = self.paths(ring[0], ring[2], k_shortest=True)
        self.assertEqual(sorted(got), sorted([self.id_list(ring[:3]),
                                              self.id_list([ring[0], ring[3], ring[2]])]))
        self.assertFalse(truncated)  # a ring has no other simple path
        self.assertEqual(self.paths(ring[0], ring[0], k_shortest=True),
                         ([self.id_list(ring[:1])], False))
        hops = self.c.khop(ring[0], direction="out", max_depth=MAX_DEPTH)
        self.assertEqual([(r["concept_id"], r["depth"]) for r in hops["results"]],
                         list(zip(self.id_list(ring[1:]), [1, 2, 3])))
        self.assertFalse(hops["truncated"])
        self.assertEqual(self.c.find_best_path(ring[1], ring[0], direction="out")[0],
                         self.id_list(ring[1:] + ring[:1]))

    def test_ties_and_k_shortest(self):
        s, x1, x2, y1, y2, z1, z2, z3, t = self.names("s", "x1", "x2", "y1", "y2", "z1", "z2",
                                                      "z3", "t")
        self.learn([s, x1, x2, y1, y2, z1, z2, z3, t])
        self.link((s, x1), (x1, t), (s, x2), (x2, t), (s, y1), (y1, y2), (y2, t),
                  (s, z1), (z1, z2), (z2, z3), (z3, t))
        shortest = sorted([self.id_list([s, x1, t]), self.id_list([s, x2, t])])
        self.assertIn(self.path(s, t), shortest)
        got, truncated = self.paths(s, t)
        self.assertEqual((sorted(got), truncated), (shortest, False))
        got, truncated = self.paths(s, t, max_paths=1)
        self.assertEqual(len(got), 1)
        self.assertIn(got[0], shortest)
        self.assertTrue(truncated)
        got, truncated = self.paths(s, t, max_paths=2)
        self.assertEqual((sorted(got), truncated), (shortest, False))
        got, truncated = self.paths(s, t, max_paths=3, k_shortest=True)
        self.assertEqual(sorted(got[:2]), shortest)
        self.assertEqual(got[2:], [self.id_list([s, y1, y2, t])])
        self.assertTrue(truncated)
        got, truncated = self.paths(s, t, max_paths=10, k_shortest=True)
        self.assertEqual(sorted(got[:2]), shortest)
        self.assertEqual(got[2:], [self.id_list([s, y1, y2, t]),
                                   self.id_list([s, z1, z2, z3, t])])
        self.assertFalse(truncated)
        # max_depth bounds the longer paths too; direction turns them round
        got, _ = self.paths(s, t, max_paths=10, k_shortest=True, max_depth=3)
        self.assertEqual(len(got), 3)
        got, _ = self.paths(t, s, max_paths=10, k_shortest=True, direction="in")
        self.assertEqual(sorted(got[:2]), sorted(p[::-1] for p in shortest))
        self.assertEqual(len(got), 4)
        self.assertEqual(self.paths(s, t, direction="in"), ([], False))
        # a deleted association is no longer followed
        self.c.delete_association(x1, t, 0)
        self.assertEqual(self.paths(s, t), ([self.id_list([s, x2, t])], False))

    def test_best_path_prefers_confidence(self):
        p, r1, r2, q = self.names("p", "r1", "r2", "q")
        self.learn([p, r1, r2, q])
        self.link((p, q, 0, 0.2), (p, r1, 3, 0.9), (r1, r2, 3, 0.9), (r2, q, 3, 0.9))
        path, conf = self.c.find_best_path(p, q)
        self.assertEqual(path, self.id_list([p, r1, r2, q]))
        self.assertAlmostEqual(conf, 0.9 ** 3, places=6)
        self.assertEqual(self.path(p, q), self.id_list([p, q]))  # fewest hops
        path, conf = self.c.find_best_path(p, q, max_depth=2)  # the long one is out of reach
        self.assertEqual(path, self.id_list([p, q]))
        self.assertAlmostEqual(conf, 0.2, places=6)
        path, conf = self.c.find_best_path(p, q, assoc_type=0)
        self.assertEqual((path, round(conf, 6)), (self.id_list([p, q]), 0.2))
        self.assertEqual(self.c.find_best_path(p, p), (self.id_list([p]), 1.0))
        self.assertIsNone(self.c.find_best_path(q, p, direction="out"))

    def test_array_form_and_named_replies(self):
        a, b, c = self.names("a", "b", "c")
        self.learn([a, b, c])
        self.link((a, b, 1, 0.5), (b, c, 1, 0.5))
        want = self.id_list([a, b, c])
        for enc, form in (("compact", "array"), ("named", "map")):
            with self.server.client(encoding=enc, request_form=form) as cl:
                self.assertEqual(cl.find_path_ex(a, c, assoc_type=1, direction="out"), want)
                self.assertEqual(cl.find_paths(a, c, max_paths=2)["paths"], [want])
                self.assertEqual(cl.find_best_path(a, c)[0], want)
                self.assertEqual(len(cl.khop(a, limit=5)["results"]), 2)
        with self.server.raw() as s:  # extensions answer named on a compact connection
            for req in ({"FindPathEx": [a, c, None]}, {"FindPaths": [a, c, None, None, None]},
                        {"FindBestPath": [a, c, [1, "out", 2, 10]]}, {"KHop": [a, None, 2]}):
                s.sendall(frame(pack(req)))
                raw = unpack(recv_payload(s))
                self.assertIsInstance(next(iter(raw.values())), dict, raw)
            # a plain FindPath still answers in the compact form
            s.sendall(frame(pack({"FindPath": [a, c, 3]})))
            self.assertEqual(unpack(recv_payload(s)), {"FindPathOk": [True, want]})


class KHop(GraphBase):
    def test_truncation_and_order(self):
        hub = self.names("hub")[0]
        leaves = self.names(*range(10))
        second = self.names(*("m%d" % i for i in range(10)))
        self.learn([hub] + leaves + second)
        self.link(*[(hub, l, 0, 0.5 + i / 100) for i, l in enumerate(leaves)])
        self.link(*[(l, m, 1, 0.5) for l, m in zip(leaves, second)])
        one = self.c.khop(hub, max_depth=1, limit=10)
        self.assertEqual(sorted(r["concept_id"] for r in one["results"]),
                         sorted(self.id_list(leaves)))
        self.assertFalse(one["truncated"])
        for r in one["results"]:
            i = self.id_list(leaves).index(r["concept_id"])
            self.assertEqual(r["depth"], 1)
            self.assertAlmostEqual(r["confidence"], 0.5 + i / 100, places=6)
        cut = self.c.khop(hub, max_depth=1, limit=9)
        self.assertEqual(len(cut["results"]), 9)
        self.assertTrue(cut["truncated"])
        both = self.c.khop(hub, max_depth=2)
        self.assertEqual([r["depth"] for r in both["results"]], [1] * 10 + [2] * 10)
        self.assertFalse(both["truncated"])
        for r in both["results"][10:]:
            i = self.id_list(second).index(r["concept_id"])
            self.assertAlmostEqual(r["confidence"], (0.5 + i / 100) * 0.5, places=6)
        self.assertEqual(len(self.c.khop(hub, max_depth=2, limit=20)["results"]), 20)
        self.assertTrue(self.c.khop(hub, max_depth=2, limit=19)["truncated"])
        self.assertEqual(len(self.c.khop(hub, max_depth=2, assoc_type=0)["results"]), 10)
        self.assertEqual(self.c.khop(hub, direction="in")["results"], [])
        up = self.c.khop(second[3], direction="in")
        self.assertEqual([(r["concept_id"], r["depth"]) for r in up["results"]],
                         [(self.ids[leaves[3]], 1), (self.ids[hub], 2)])
        self.assertEqual(self.c.khop(hub, max_depth=0), {"results": [], "truncated": False})

    def test_budget_truncates(self):
        hub = self.names("hub")[0]
        leaves = self.names(*range(30))
        self.learn([hub] + leaves)
        self.link(*[(hub, l) for l in leaves])
        r = self.c.khop(hub, max_visited=10)
        self.assertTrue(r["truncated"])
        self.assertLess(len(r["results"]), 10)
        self.assertTrue(set(x["concept_id"] for x in r["results"]) <= set(self.id_list(leaves)))
        r = self.c.khop(hub, max_visited=31)
        self.assertEqual((len(r["results"]), r["truncated"]), (30, False))


class Budget(GraphBase):
    """A path query that exhausts its visit budget is an Error; the connection lives on."""

    def test_path_queries_fail(self):
        root, end = self.names("root", "end")
        fan = self.names(*range(40))
        self.learn([root, end] + fan)
        self.link(*[(root, f) for f in fan] + [(fan[-1], end)])
        with self.server.raw() as s:
            for req in ({"FindPathEx": [root, end, {"max_visited": 10}]},
                        {"FindPaths": [root, end, {"max_visited": 10}, None, True]},
                        {"FindBestPath": [root, end, {"max_visited": 10}]}):
                msg = self.assert_error(ask(s, req), "the traversal visited more than")
                self.assertIn("(max_visited)", msg)
                self.assert_alive(s)
            # the same searches within a sufficient budget
            ok = ask(s, {"FindPathEx": [root, end, {"max_visited": 100}]})
            self.assertEqual(ok[1]["path"], self.id_list([root, fan[-1], end]))
            self.assertEqual(ask(s, {"FindBestPath": [root, end, None]})[1]["path"],
                             self.id_list([root, fan[-1], end]))
        with self.assertRaises(SutraError):
            self.c.find_path_ex(root, end, max_visited=10)
        self.assertEqual(self.c.find_path_ex(root, end), self.id_list([root, fan[-1], end]))


class Limits(GraphBase):
    """Each limit at the limit and one past; after an Error the connection works."""

    def setUp(self):
        super().setUp()
        self.s = self.server.raw(timeout=60)
        self.addCleanup(self.s.close)
        self.a, self.b = self.names("a", "b")
        self.learn([self.a, self.b])
        self.link((self.a, self.b))

    def ok(self, obj, variant):
        got = ask(self.s, obj)
        self.assertEqual(got[0], variant, got)
        return got[1]

    def over(self, obj, text):
        self.assertEqual(ask(self.s, obj), ("Error", {"message": text}))
        self.assert_alive(self.s)

    def q(self, variant, **query):
        return {variant: {"start_id": self.a, "end_id": self.b, "query": query}}

    def test_max_visited(self):
        for v in ("FindPathEx", "FindPaths", "FindBestPath"):
            self.ok(self.q(v, max_visited=MAX_VISITED), v.replace("Ex", "") + "Ok")
            self.over(self.q(v, max_visited=MAX_VISITED + 1),
                      "%s.query.max_visited: must be 1..%d, got %d"
                      % (v, MAX_VISITED, MAX_VISITED + 1))
            self.over(self.q(v, max_visited=0),
                      "%s.query.max_visited: must be 1..%d, got 0" % (v, MAX_VISITED))
        self.ok({"KHop": {"concept_id": self.a, "query": {"max_visited": MAX_VISITED}}}, "KHopOk")
        self.over({"KHop": {"concept_id": self.a, "query": {"max_visited": 2 ** 64 - 1}}},
                  "KHop.query.max_visited: must be 1..%d, got %d" % (MAX_VISITED, 2 ** 64 - 1))

    def test_counts(self):
        got = self.ok({"FindPaths": [self.a, self.b, None, MAX_PATHS, True]}, "FindPathsOk")
        self.assertEqual(got["paths"], [self.id_list([self.a, self.b])])
        for n in (MAX_PATHS + 1, 0):
            self.over({"FindPaths": [self.a, self.b, None, n, True]},
                      "FindPaths.max_paths: must be 1..%d, got %d" % (MAX_PATHS, n))
        self.assertEqual(self.ok({"KHop": [self.a, None, MAX_KHOP]}, "KHopOk")["results"][0]
                         ["concept_id"], self.ids[self.b])
        for n in (MAX_KHOP + 1, 0, 2 ** 40):
            self.over({"KHop": [self.a, None, n]},
                      "KHop.limit: must be 1..%d, got %d" % (MAX_KHOP, n))
        self.over({"KHop": [self.a, None, -1]}, "KHop.limit: expected uint, got negative int")
        info = self.c.server_info()["limits"]
        self.assertEqual((info["max_visited"], info["max_paths"], info["max_khop_limit"],
                          info["max_hybrid_limit"], info["max_path_depth"]),
                         (MAX_VISITED, MAX_PATHS, MAX_KHOP, MAX_HYBRID, MAX_DEPTH))

    def test_field_values(self):
        self.over(self.q("FindPathEx", direction="up"),
                  'FindPathEx.query.direction: expected "out", "in" or "both"')
        self.over(self.q("FindBestPath", assoc_type=5),
                  "Invalid association type 5 (allowed 0..4: semantic, causal, temporal, "
                  "hierarchical, compositional)")
        self.over({"FindPathEx": [self.a, self.b, [1, "out", 2]]},
                  "FindPathEx.query: expected an array of 4 fields, got 3")
        self.over({"FindPaths": {"start_id": self.a, "end_id": self.b, "query": 7}},
                  "FindPaths.query: expected a map or an array of 4 fields, got uint")
        self.over({"FindPaths": {"start_id": self.a, "end_id": self.b, "k_shortest": 1}},
                  "FindPaths.k_shortest: expected bool, got uint")
        self.over({"FindBestPath": {"end_id": self.b}}, "FindBestPath: missing field start_id")
        self.over({"KHop": {"limit": 3}}, "KHop: missing field concept_id")
        self.over({"HybridSearch": {"k_seeds": 3}}, "HybridSearch: missing field query_vector")
        self.over({"FindPathEx": [self.a, self.b, {"max_depth": -1}]},
                  "FindPathEx.query.max_depth: expected u32, got negative int")
        # nil is "not given" everywhere, and unknown keys are ignored
        got = self.ok({"FindPaths": {"start_id": self.a, "end_id": self.b, "max_paths": None,
                                     "k_shortest": None, "query": {
                                         "assoc_type": None, "direction": None,
                                         "max_depth": None, "max_visited": None,
                                         "colour": "red"}}}, "FindPathsOk")
        self.assertEqual(got["paths"], [self.id_list([self.a, self.b])])

    def test_huge_declared_vector(self):
        # a few bytes declaring four billion components: refused before any allocation
        payload = pack({"HybridSearch": {"query_vector": []}})
        self.assertEqual(payload[-1:], b"\x90")
        self.s.sendall(frame(payload[:-1] + b"\xdd\xff\xff\xff\xff"))
        self.assertEqual(reply_of(recv_payload(self.s)), (
            "Error", {"message": "HybridSearch.query_vector: truncated or invalid MessagePack"}))
        self.assert_alive(self.s)


class Hybrid(GraphBase):
    """HybridSearch on a server whose only vectors are this class's, learned once.

    Seeds for q = [1, 0, 0, 0]: s1 (similarity 1), s2 (0.6), far (0: weighs
    nothing, so it is never expanded and n6 is never reached). Scores are
    similarity x path confidence x 0.85^hops."""

    KEYS = ("s1", "s2", "far", "n1", "n2", "n3", "n4", "n5", "n6")
    graph = None  # (key -> name, name -> stored id)

    def setUp(self):
        super().setUp()
        self.q = [1.0, 0.0, 0.0, 0.0]
        if Hybrid.graph is None:
            names = self.names(*self.KEYS)
            s1, s2, far, n1, n2, n3, n4, n5, n6 = names
            self.learn(names, {s1: [1, 0, 0, 0], s2: [0.6, 0.8, 0, 0], far: [0, 0, 0, 1]})
            self.link((s1, n1, 0, 0.9), (n1, n2, 0, 0.9), (n2, n5, 0, 1.0), (s2, n3, 0, 1.0),
                      (s1, n4, 2, 0.5), (far, n6, 0, 1.0))
            Hybrid.graph = (dict(zip(self.KEYS, names)), dict(self.ids))
        self.n, ids = Hybrid.graph
        self.ids.update(ids)

    def hybrid(self, **kw):
        kw.setdefault("k_seeds", 2)
        r = self.c.hybrid_search(self.q, ef_search=50, **kw)
        scores = [h["score"] for h in r["results"]]
        self.assertEqual(scores, sorted(scores, reverse=True))
        return r

    def order(self, r):
        back = {self.ids[v]: k for k, v in self.n.items()}
        return [back[h["concept_id"]] for h in r["results"]]

    def test_ordering_and_scores(self):
        r = self.hybrid()  # depth 2 by default
        self.assertEqual(self.order(r), ["s1", "n1", "s2", "n2", "n3", "n4"])
        self.assertFalse(r["truncated"])
        want = {"s1": (1.0, 1.0, 1.0, 0), "n1": (0.765, 1.0, 0.9, 1),
                "s2": (0.6, 0.6, 1.0, 0), "n2": (0.585225, 1.0, 0.81, 2),
                "n3": (0.51, 0.6, 1.0, 1), "n4": (0.425, 1.0, 0.5, 1)}
        for h, name in zip(r["results"], self.order(r)):
            score, sim, conf, hops = want[name]
            self.assertAlmostEqual(h["score"], score, places=5)
            self.assertAlmostEqual(h["similarity"], sim, places=5)
            self.assertAlmostEqual(h["path_confidence"], conf, places=6)
            self.assertEqual(h["hops"], hops)
        self.assertEqual(self.order(self.hybrid(max_depth=3)),
                         ["s1", "n1", "s2", "n2", "n3", "n5", "n4"])
        self.assertEqual(self.order(self.hybrid(max_depth=1)), ["s1", "n1", "s2", "n3", "n4"])
        self.assertEqual(self.order(self.hybrid(max_depth=0)), ["s1", "s2"])
        self.assertEqual(self.order(self.hybrid(k_seeds=1)), ["s1", "n1", "n2", "n4"])
        # the far seed has similarity 0: it weighs nothing and is not expanded
        self.assertEqual(self.order(self.hybrid(k_seeds=3)), self.order(r))
        self.assertEqual(self.order(self.hybrid(assoc_type=0)), ["s1", "n1", "s2", "n2", "n3"])
        self.assertEqual(self.order(self.hybrid(direction="in")), ["s1", "s2"])
        self.assertEqual(self.order(self.hybrid(direction="out")), self.order(r))
        # limit: exactly the number found, then one fewer
        self.assertEqual((len(self.hybrid(limit=6)["results"]), self.hybrid(limit=6)["truncated"]),
                         (6, False))
        cut = self.hybrid(limit=3)
        self.assertEqual((self.order(cut), cut["truncated"]), (["s1", "n1", "s2"], True))
        budget = self.hybrid(max_visited=1)
        self.assertTrue(budget["truncated"])

    def test_limits(self):
        with self.server.raw() as s:
            def req(**kw):
                body = {"query_vector": self.q}
                body.update(kw)
                return {"HybridSearch": body}

            def over(obj, text):
                self.assertEqual(ask(s, obj), ("Error", {"message": text}))
                self.assert_alive(s)

            got = ask(s, req(k_seeds=MAX_K, limit=MAX_HYBRID))
            self.assertEqual(got[0], "HybridSearchOk")
            self.assertEqual(len(got[1]["results"]), 6)  # far adds nothing
            for k in (MAX_K + 1, 0):
                over(req(k_seeds=k), "HybridSearch.k_seeds: must be 1..%d, got %d" % (MAX_K, k))
            for n in (MAX_HYBRID + 1, 0):
                over(req(limit=n), "HybridSearch.limit: must be 1..%d, got %d" % (MAX_HYBRID, n))
            over(req(query={"max_visited": MAX_VISITED + 1}),
                 "HybridSearch.query.max_visited: must be 1..%d, got %d"
                 % (MAX_VISITED, MAX_VISITED + 1))
            for dim in (3, 5):
                over(req(query_vector=[0.5] * dim),
                     "Query vector dimension mismatch: got %d, expected 4" % dim)
            over(req(query_vector=[0.5] * 2049), "Embedding dimension too large: 2049 (max: 2048)")
            self.assert_error(ask(s, req(query_vector=[float("nan"), 0, 0, 1])), "finite")
            self.assert_alive(s)
            got = ask(s, {"HybridSearch": [self.q, None, None, None, None]})
            self.assertEqual(got[0], "HybridSearchOk")


class Cli(GraphBase):
    """sutra-cli path (with the graph options), khop and hybrid."""

    def setUp(self):
        if not CLI or not os.path.exists(CLI):
            self.skipTest("SUTRA_CLI is not set to a built sutra-cli")
        super().setUp()

    def cli(self, *args):
        return subprocess.run([CLI, "--port", str(self.server.port)] + list(args),
                              capture_output=True, text=True, timeout=30)

    def json(self, *args, rc=0):
        p = self.cli("--json", *args)
        self.assertEqual(p.returncode, rc, (args, p.stdout, p.stderr))
        return json.loads(p.stdout)

    def test_commands(self):
        s, x, y, z, t = self.names("s", "x", "y", "z", "t")
        self.learn([s, x, y, z, t])
        self.link((s, x, 1, 0.3), (x, t, 1, 0.3), (s, y, 3, 0.9), (y, z, 3, 0.9), (z, t, 3, 0.9))
        self.assertEqual(self.json("path", s, t)["path"], self.id_list([s, x, t]))
        r = self.json("path", s, t, "--type", "3", "--direction", "out")
        self.assertEqual((r["reply"], r["path"]), ("FindPathOk", self.id_list([s, y, z, t])))
        r = self.json("path", t, s, "--type", "3", "--direction", "out", rc=1)
        self.assertEqual((r["reply"], r["found"]), ("FindPathOk", False))
        r = self.json("path", s, t, "--paths", "5", "--k-shortest")
        self.assertEqual((r["reply"], r["paths"], r["truncated"]),
                         ("FindPathsOk", [self.id_list([s, x, t]), self.id_list([s, y, z, t])],
                          False))
        r = self.json("path", s, t, "--paths", "1")
        self.assertEqual((r["paths"], r["truncated"]), ([self.id_list([s, x, t])], False))
        r = self.json("path", s, t, "--best")
        self.assertEqual((r["reply"], r["path"]), ("FindBestPathOk", self.id_list([s, y, z, t])))
        self.assertAlmostEqual(r["confidence"], 0.729, places=5)
        lines = self.cli("path", s, t, "--best").stdout.splitlines()
        self.assertEqual(lines[0], " -> ".join(self.id_list([s, y, z, t])))
        self.assertTrue(lines[1].startswith("confidence 0.729"), lines)
        r = self.json("khop", s, "--depth", "1", "--direction", "out", "--limit", "1")
        self.assertEqual((r["reply"], len(r["results"]), r["truncated"]), ("KHopOk", 1, True))
        r = self.json("khop", s, "--type", "3", "--direction", "out")
        self.assertEqual([h["concept_id"] for h in r["results"]], self.id_list([y, z, t]))
        out = self.cli("khop", s, "--type", "3", "--direction", "out").stdout
        self.assertIn("3 concept(s)", out)
        r = self.json("hybrid", "1,0,0,0", "--k", "3", "--depth", "0")
        self.assertEqual((r["reply"], r["results"], r["truncated"]), ("HybridSearchOk", [], False))
        self.assertIn("no results", self.cli("hybrid", "1,0,0,0").stdout)

    def test_errors(self):
        for args in (("path", "a", "b", "--best", "--paths", "2"), ("path", "a", "b", "--paths", "0"),
                     ("path", "a", "b", "--max-visited", "0"), ("khop", "a", "--depth", "x"),
                     ("khop",), ("hybrid", "1,x"), ("khop", "a", "--best")):
            p = self.cli(*args)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertTrue(p.stderr)
        for args, text in ((("khop", "a", "--depth", "21"), "Path depth too large: 21"),
                           (("path", "a", "b", "--type", "9"), "Invalid association type 9"),
                           (("path", "a", "b", "--paths", "1001"),
                            "FindPaths.max_paths: must be 1..1000, got 1001"),
                           (("hybrid", "1,0,0"), "dimension mismatch: got 3, expected 4"),
                           (("khop", "a", "--limit", "100001"), "KHop.limit: must be 1..100000")):
            p = self.cli(*args)
            self.assertEqual(p.returncode, 1, (args, p.stderr))
            self.assertIn(text, p.stderr)
        usage = self.cli("help").stdout
        for text in ("--k-shortest", "--best", "khop ID", "hybrid 0.1,0.2,..."):
            self.assertIn(text, usage)


if __name__ == "__main__":
    unittest.main(verbosity=2)
