"""test_vector_filter.py - VectorSearchFiltered through the real server.

Concepts are learned with vectors, metadata and associations, then searched
with each condition alone and combined: every hit must satisfy every
condition, and the hits must be the nearest matching concepts (checked
against cosine similarity computed here over the concepts that match).
Rare matches (5 of 2000) must still fill k. Every limit is tried at the limit
and one past: past it the reply is an Error with the documented text and the
same connection goes on working. Finally sutra-cli's search sends the
filtered request when given a filter option.
"""

import itertools
import json
import math
import os
import random
import subprocess
import unittest

from serverutil import ServerTestCase, ask, frame, pack, recv_payload, reply_of
from sutra_client import SutraError

CLI = os.environ.get("SUTRA_CLI", "")
DIM = 4
MAX_IDS = 100000
MAX_DEPTH = 20
MAX_K = 1000

_counter = itertools.count()


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def random_vector(rng):
    return [rng.uniform(-1.0, 1.0) for _ in range(DIM)]


class FilterBase(ServerTestCase):
    """Helpers: learning tagged concepts and checking hits against brute force."""

    def setUp(self):
        self.c = self.server.client(timeout=60)
        self.addCleanup(self.c.close)
        self.rng = random.Random(next(_counter))
        self.vectors = {}  # stored id (32 hex) -> vector

    def tag(self, what):
        return "%s-%s-%d" % (type(self).__name__, what, next(_counter))

    def learn(self, names, meta=None, vectors=True):
        """Learns names (meta: name -> metadata dict); returns {name: stored id}."""
        ids = {}
        for i in range(0, len(names), 1000):
            chunk = names[i:i + 1000]
            items = [{"concept_id": n, "content": n, "metadata": (meta or {}).get(n, {}),
                      "vector": random_vector(self.rng) if vectors else None} for n in chunk]
            got = self.c.learn_concepts(items)["concept_ids"]
            for item, cid in zip(items, got):
                ids[item["concept_id"]] = cid
                if item["vector"] is not None:
                    self.vectors[cid] = item["vector"]
        return ids

    def link(self, pairs, assoc_type=0):
        self.c.learn_associations([{"source_id": a, "target_id": b, "assoc_type": assoc_type}
                                   for a, b in pairs])

    def exact(self, query, allowed, k):
        """The k nearest of the allowed stored ids that have vectors, best first."""
        scored = sorted(((cosine(query, self.vectors[i]), i) for i in allowed
                         if i in self.vectors), reverse=True)
        return [i for _, i in scored[:k]]

    def search(self, query, k=50, **filter):
        hits = self.c.vector_search_filtered(query, k=k, ef_search=200, **filter)
        sims = [s for _, s in hits]
        self.assertEqual(sims, sorted(sims, reverse=True))
        for cid, sim in hits:
            if cid in self.vectors:
                self.assertAlmostEqual(sim, cosine(query, self.vectors[cid]), places=4)
        return [cid for cid, _ in hits]

    def assert_nearest(self, query, allowed, k=50, **filter):
        """The search returns exactly the k nearest allowed concepts, in order."""
        self.assertEqual(self.search(query, k, **filter), self.exact(query, allowed, k))


class Conditions(FilterBase):
    def test_no_filter_is_the_plain_search(self):
        self.learn([self.tag("plain%d" % i) for i in range(20)])
        q = random_vector(self.rng)
        plain = self.c.vector_search(q, k=10, ef_search=200)
        self.assertEqual(self.c.vector_search_filtered(q, k=10, ef_search=200), plain)

    def test_metadata_returns_only_matches(self):
        tag = self.tag("lang")
        names = [tag + "-%d" % i for i in range(300)]
        meta = {n: {"lang": tag + ("-en" if i % 3 == 0 else "-fr"), "n": str(i)}
                for i, n in enumerate(names)}
        ids = self.learn(names, meta)
        english = {ids[n] for n in names if meta[n]["lang"] == tag + "-en"}
        q = random_vector(self.rng)
        hits = self.search(q, k=20, meta_key="lang", meta_value=tag + "-en")
        self.assertEqual(len(hits), 20)
        self.assertTrue(set(hits) <= english)
        # the index is approximate; at this size and ef it finds nearly all
        exact = self.exact(q, english, 20)
        self.assertGreaterEqual(len(set(hits) & set(exact)), 18)
        # a value is compared whole: neither a prefix nor another key matches
        self.assertEqual(self.search(q, meta_key="lang", meta_value=tag), [])
        self.assertEqual(self.search(q, meta_key="n", meta_value=tag + "-en"), [])

    def test_rare_metadata_still_fills_k(self):
        tag = self.tag("rare")
        names = [tag + "-%d" % i for i in range(2000)]
        rare = names[37::400]  # 5 of 2000, spread through the insertion order
        self.assertEqual(len(rare), 5)
        ids = self.learn(names, {n: {"kind": "rare" if n in rare else "common",
                                     "tag": tag} for n in names})
        rare_ids = {ids[n] for n in rare}
        for _ in range(3):
            q = random_vector(self.rng)
            self.assertEqual(set(self.search(q, k=5, meta_key="kind", meta_value="rare")),
                             rare_ids)
            self.assertEqual(set(self.search(q, k=10, meta_key="kind", meta_value="rare")),
                             rare_ids)
            three = self.search(q, k=3, meta_key="kind", meta_value="rare")
            self.assertEqual(len(three), 3)
            self.assertTrue(set(three) <= rare_ids)

    def test_id_set(self):
        tag = self.tag("ids")
        names = [tag + "-%d" % i for i in range(40)]
        ids = self.learn(names)
        bare = self.learn([tag + "-novector"], vectors=False)[tag + "-novector"]
        chosen = [ids[n] for n in names[::4]]
        q = random_vector(self.rng)
        # ids as sent by clients: stored hex, client text, absent, without a vector
        wire = chosen[:5] + names[20:40:4] + [tag + "-absent", bare]
        self.assert_nearest(q, set(chosen), ids=wire)
        self.assert_nearest(q, set(chosen), 3, ids=wire)
        self.assertEqual(self.search(q, ids=[]), [])  # an empty set matches nothing
        self.assertEqual(self.search(q, ids=[tag + "-absent", bare]), [])

    def test_reachability_by_type_and_direction(self):
        t = self.tag("star")
        hub, w = t + "-hub", t + "-novector"
        outs = [t + "-out%d" % i for i in range(5)]
        ins = [t + "-in%d" % i for i in range(2)]
        u, v = t + "-u", t + "-v"
        ids = self.learn([hub] + outs + ins + [u, v])
        ids.update(self.learn([w], vectors=False))
        for i, o in enumerate(outs):
            self.link([(hub, o)], assoc_type=i)
        self.link([(s, hub) for s in ins] + [(outs[1], u), (u, v)], assoc_type=1)
        self.link([(hub, w)])
        out, inn = {ids[o] for o in outs}, {ids[s] for s in ins}
        q = self.vectors[ids[hub]]  # the start itself would be the best hit
        self.assert_nearest(q, out, reachable_from=hub, direction="out")
        self.assert_nearest(q, out | inn, reachable_from=hub)  # both ways, depth 1 by default
        self.assert_nearest(q, inn, reachable_from=hub, direction="in")
        self.assert_nearest(q, out | {ids[u]}, reachable_from=hub, direction="out", max_depth=2)
        self.assert_nearest(q, out | {ids[u], ids[v]}, reachable_from=hub, direction="out",
                            max_depth=3)
        self.assert_nearest(q, {ids[outs[1]], ids[u], ids[v]}, reachable_from=hub,
                            direction="out", assoc_type=1, max_depth=3)
        self.assert_nearest(q, {ids[outs[1]]} | inn, reachable_from=hub, assoc_type=1)
        self.assert_nearest(q, {ids[outs[4]]}, reachable_from=hub, assoc_type=4)
        self.assertEqual(self.search(q, reachable_from=hub, direction="in", assoc_type=0), [])
        self.assertEqual(self.search(q, reachable_from=v, direction="out"), [])
        self.assertEqual(self.search(q, reachable_from=t + "-absent", max_depth=20), [])

    def test_reachability_depth_at_the_bound(self):
        t = self.tag("chain")
        chain = [t + "-%d" % i for i in range(MAX_DEPTH + 2)]  # 21 hops end to end
        ids = self.learn(chain)
        self.link(zip(chain, chain[1:]), assoc_type=2)
        stored = [ids[n] for n in chain]
        q = random_vector(self.rng)
        self.assert_nearest(q, set(stored[1:MAX_DEPTH + 1]), reachable_from=chain[0],
                            direction="out", max_depth=MAX_DEPTH)
        self.assert_nearest(q, set(stored[1:MAX_DEPTH]), reachable_from=chain[0],
                            direction="out", max_depth=MAX_DEPTH - 1)
        self.assert_nearest(q, set(stored[1:MAX_DEPTH + 1]), reachable_from=chain[-1],
                            direction="in", max_depth=MAX_DEPTH)
        self.assert_nearest(q, {stored[1]}, reachable_from=chain[0])
        self.assertEqual(self.search(q, reachable_from=chain[0], direction="in",
                                     max_depth=MAX_DEPTH), [])

    def test_conditions_combine(self):
        t = self.tag("combo")
        hub = t + "-hub"
        spokes = [t + "-%d" % i for i in range(30)]
        far = [t + "-far%d" % i for i in range(10)]
        meta = {n: {"colour": "red" if i % 2 else "blue"} for i, n in enumerate(spokes + far)}
        ids = self.learn([hub] + spokes + far, meta)
        self.link([(hub, s) for s in spokes] + [(spokes[0], f) for f in far])
        red = {ids[n] for n in spokes + far if meta[n]["colour"] == "red"}
        near = {ids[s] for s in spokes}
        listed = [ids[n] for n in (spokes + far)[::3]]
        q = random_vector(self.rng)
        self.assert_nearest(q, red & near, meta_key="colour", meta_value="red",
                            reachable_from=hub, direction="out")
        self.assert_nearest(q, red & set(listed), meta_key="colour", meta_value="red",
                            ids=listed)
        self.assert_nearest(q, near & set(listed), ids=listed, reachable_from=hub)
        self.assert_nearest(q, red & near & set(listed), 5, meta_key="colour",
                            meta_value="red", ids=listed, reachable_from=hub)
        self.assert_nearest(q, red & set(listed), meta_key="colour", meta_value="red",
                            ids=listed, reachable_from=hub, max_depth=2)

    def test_array_form_and_named_replies(self):
        t = self.tag("forms")
        names = [t + "-%d" % i for i in range(12)]
        ids = self.learn(names, {n: {"t": t} for n in names[:6]})
        q = random_vector(self.rng)
        want = self.exact(q, {ids[n] for n in names[:6]}, 4)
        for enc, form in (("compact", "array"), ("named", "map")):
            with self.server.client(encoding=enc, request_form=form) as c:
                hits = c.vector_search_filtered(q, k=4, ef_search=100, meta_key="t",
                                                meta_value=t)
                self.assertEqual([h[0] for h in hits], want)
        with self.server.raw() as s:  # an extension: named even on a compact connection
            reply = ask(s, {"VectorSearchFiltered": [q, 4, None, [None, None, None, None,
                                                                 None, None, want[:2]]]})
            self.assertEqual([h[0] for h in reply[1]["results"]], want[:2])


class Limits(FilterBase):
    """Each limit at the limit and one past; after an Error the connection works."""

    def setUp(self):
        super().setUp()
        self.s = self.server.raw(timeout=60)
        self.addCleanup(self.s.close)
        self.q = [1.0, 0.5, 0.25, 0.0]

    def req(self, k=10, query=None, **filter):
        return {"VectorSearchFiltered": {"query_vector": query or self.q, "k": k,
                                         "ef_search": 50, "filter": filter}}

    def ok(self, obj):
        got = ask(self.s, obj)
        self.assertEqual(got[0], "VectorSearchOk", got)
        return [h[0] for h in got[1]["results"]]

    def over(self, obj, text):
        self.assertEqual(ask(self.s, obj), ("Error", {"message": text}))
        self.assert_alive(self.s)

    def test_id_count(self):
        t = self.tag("many")
        ids = self.learn([t + "-%d" % i for i in range(3)])
        filler = ["%s-filler-%d" % (t, i) for i in range(MAX_IDS - 3)]
        at = filler + list(ids.values())
        self.assertEqual(set(self.ok(self.req(ids=at))), set(ids.values()))
        self.over(self.req(ids=at + ["one more"]),
                  "VectorSearchFiltered.filter.ids: too many entries: %d (max: %d)"
                  % (MAX_IDS + 1, MAX_IDS))
        self.assertEqual(self.c.server_info()["limits"]["max_filter_ids"], MAX_IDS)

    def test_depth(self):
        t = self.tag("deep")
        names = [t + "-%d" % i for i in range(3)]
        ids = self.learn(names)
        self.link(zip(names, names[1:]))
        reach = {"reachable_from": names[0], "direction": "out"}
        self.assertEqual(set(self.ok(self.req(max_depth=MAX_DEPTH, **reach))),
                         {ids[names[1]], ids[names[2]]})
        self.assertEqual(self.ok(self.req(max_depth=1, **reach)), [ids[names[1]]])
        self.over(self.req(max_depth=MAX_DEPTH + 1, **reach),
                  "Path depth too large: %d (max: %d)" % (MAX_DEPTH + 1, MAX_DEPTH))
        self.over(self.req(max_depth=0, **reach),
                  "VectorSearchFiltered.filter.max_depth: must be 1..%d, got 0" % MAX_DEPTH)

    def test_k_and_dimension(self):
        self.learn([self.tag("k")])
        self.assertGreaterEqual(len(self.ok(self.req(k=MAX_K))), 1)
        self.assertEqual(self.ok(self.req(k=0)), [])
        self.over(self.req(k=MAX_K + 1), "k too large: %d (max: %d)" % (MAX_K + 1, MAX_K))
        for dim in (DIM - 1, DIM + 1):
            self.over(self.req(query=[0.5] * dim),
                      "Query vector dimension mismatch: got %d, expected %d" % (dim, DIM))
        self.over(self.req(query=[0.5] * 2049), "Embedding dimension too large: 2049 (max: 2048)")
        self.over({"VectorSearchFiltered": {"k": 1}},
                  "VectorSearchFiltered: missing field query_vector")

    def test_rules_across_fields(self):
        self.over(self.req(meta_key="lang"),
                  "VectorSearchFiltered.filter: meta_key and meta_value go together "
                  "(got only meta_key)")
        self.over(self.req(meta_value="en"),
                  "VectorSearchFiltered.filter: meta_key and meta_value go together "
                  "(got only meta_value)")
        for option in ({"assoc_type": 1}, {"direction": "in"}, {"max_depth": 2}):
            self.over(self.req(ids=["a"], **option),
                      "VectorSearchFiltered.filter: assoc_type, direction and max_depth "
                      "need reachable_from")
        # nil is "not given" everywhere
        self.ok(self.req(meta_key=None, meta_value=None, assoc_type=None, direction=None,
                         max_depth=None, ids=None, reachable_from=None))

    def test_field_values(self):
        self.ok(self.req(meta_key="k" * 255, meta_value=""))
        self.over(self.req(meta_key="k" * 256, meta_value="v"),
                  "VectorSearchFiltered.filter.meta_key: key must be 1..255 bytes, got 256")
        self.over(self.req(meta_key="", meta_value="v"),
                  "VectorSearchFiltered.filter.meta_key: key must be 1..255 bytes, got 0")
        self.over(self.req(reachable_from="a", direction="up"),
                  'VectorSearchFiltered.filter.direction: expected "out", "in" or "both"')
        self.over(self.req(reachable_from="a", assoc_type=5),
                  "Invalid association type 5 (allowed 0..4: semantic, causal, temporal, "
                  "hierarchical, compositional)")
        self.over(self.req(ids="a"), "VectorSearchFiltered.filter.ids: expected an array of "
                                     "str, got str")
        self.over({"VectorSearchFiltered": {"query_vector": self.q, "k": 1, "filter": 3}},
                  "VectorSearchFiltered.filter: expected a map or an array of 7 fields, got uint")

    def test_huge_declared_id_count(self):
        # a few bytes declaring four billion ids: refused before anything is sized by it
        payload = pack(self.req(k=1, ids=[]))
        self.assertEqual(payload[-1:], b"\x90")
        self.s.sendall(frame(payload[:-1] + b"\xdd\xff\xff\xff\xff"))
        self.assertEqual(reply_of(recv_payload(self.s)),
                         ("Error", {"message": "VectorSearchFiltered.filter.ids: truncated or "
                                               "invalid MessagePack"}))
        self.assert_alive(self.s)

    def test_engine_errors_come_back(self):
        # a non-finite component passes the decoder; the engine refuses it
        got = ask(self.s, self.req(query=[float("nan"), 0.0, 0.0, 1.0], ids=["a"]))
        self.assert_error(got, "not finite")
        self.assert_alive(self.s)
        with self.assertRaises(SutraError):
            self.c.vector_search_filtered([1.0, 2.0], meta_key="a", meta_value="b")
        self.assertTrue(self.c.health_check()["healthy"])


class CliSearch(FilterBase):
    """sutra-cli search sends VectorSearchFiltered when a filter option is given."""

    def setUp(self):
        if not CLI or not os.path.exists(CLI):
            self.skipTest("SUTRA_CLI is not set to a built sutra-cli")
        super().setUp()

    def cli(self, *args):
        return subprocess.run([CLI, "--port", str(self.server.port)] + list(args),
                              capture_output=True, text=True, timeout=30)

    def hits(self, *args):
        p = self.cli("--json", "search", *args)
        self.assertEqual(p.returncode, 0, (args, p.stdout, p.stderr))
        reply = json.loads(p.stdout)
        self.assertEqual(reply["reply"], "VectorSearchOk")
        return [h[0] for h in reply["results"]]

    def test_filters(self):
        t = self.tag("cli")
        names = [t + "-%d" % i for i in range(10)]
        ids = self.learn(names, {n: {"shelf": t + ("-top" if i < 3 else "-low")}
                                 for i, n in enumerate(names)})
        self.link([(names[0], names[5]), (names[5], names[6])], assoc_type=3)
        q = random_vector(self.rng)
        vec = ",".join(repr(x) for x in q)
        top = {ids[n] for n in names[:3]}
        self.assertEqual(self.hits(vec, "--k", "10", "--meta", "shelf=%s-top" % t),
                         self.exact(q, top, 10))
        self.assertEqual(self.hits(vec, "--ids", ",".join(names[1:4])),
                         self.exact(q, {ids[n] for n in names[1:4]}, 10))
        self.assertEqual(self.hits(vec, "--reach", names[0], "--type", "3", "--direction",
                                   "out", "--depth", "2"), self.exact(q, {ids[names[5]],
                                                                          ids[names[6]]}, 10))
        self.assertEqual(self.hits(vec, "--reach", names[0], "--meta", "shelf=%s-top" % t), [])
        lines = self.cli("search", vec, "--meta", "shelf=%s-top" % t, "--k", "2").stdout
        self.assertEqual([line.split()[1] for line in lines.splitlines()], self.exact(q, top, 2))
        self.assertIn("no matching vectors", self.cli("search", vec, "--ids", "").stdout)

    def test_errors(self):
        vec = "1,0,0,0"
        for args in (("--meta", "novalue"), ("--meta", "=v"), ("--depth", "0"),
                     ("--depth", "x"), ("--direction", "up"), ("--reach",)):
            p = self.cli("search", vec, *args)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertTrue(p.stderr)
        for args, text in ((("--type", "1"), "need reachable_from"),
                           (("--reach", "a", "--depth", "21"), "Path depth too large: 21"),
                           (("--reach", "a", "--type", "9"), "Invalid association type 9")):
            p = self.cli("search", vec, *args)
            self.assertEqual(p.returncode, 1, (args, p.stderr))
            self.assertIn(text, p.stderr)
        self.assertIn("--meta KEY=VALUE", self.cli("help").stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
