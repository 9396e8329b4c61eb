"""test_sharded.py - sharded stores through the real server.

The server is started in sharded mode (SUTRA_STORAGE_MODE=sharded,
SUTRA_NUM_SHARDS=N, or --storage-mode/--num-shards). Concept ids are chosen
here and routed with the same function as the server (SipHash-1-3, keys 0
and 0, over the little-endian u64 16 followed by the 16 id bytes, mod N),
implemented below and checked against known vectors, so that each test knows
which associations cross shards.

- KillUnderLoad: eight client threads each learn two concepts on different
  shards and associate them (a cross-shard write, committed by two-phase
  commit), over and over; the server is killed with SIGKILL, restarted on
  the same directory, and every acknowledged association must be visible
  from both ends (out of its source, into its target), every one in flight
  at the kill from both ends or from neither; no transaction is left active.
  Three kill cycles on the same directory.
- SameAnswers: one deterministic workload (concepts with vectors, random
  typed associations, deletes) against a single-layout server and a 4-shard
  server; neighbours, shortest paths, vector search and the totals must be
  the same on both, and agree with a model kept here.
- Configuration: a store keeps its shard count (another count, or sharded
  mode on a single-layout store, stops the server with a message naming
  both); out-of-range counts and unknown modes are refused; StatsExtended's
  per_shard figures add up and follow the routing function.
"""

import math
import os
import random
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
import time
import unittest

from serverutil import HOST, SERVER, Server, free_port
from sutra_client import SutraError

SHARDS = 4
THREADS = 8
LOAD_SECONDS = 1.5
KILL_CYCLES = 3
PIPELINE = 64  # requests in flight on one connection while verifying

# ---- routing: SipHash-1-3 with keys (0, 0), as the server ----

_M64 = (1 << 64) - 1


def _rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & _M64


def siphash13(k0, k1, data):
    v0 = k0 ^ 0x736F6D6570736575
    v1 = k1 ^ 0x646F72616E646F6D
    v2 = k0 ^ 0x6C7967656E657261
    v3 = k1 ^ 0x7465646279746573

    def rnd(v0, v1, v2, v3):
        v0 = (v0 + v1) & _M64
        v1 = _rotl(v1, 13) ^ v0
        v0 = _rotl(v0, 32)
        v2 = (v2 + v3) & _M64
        v3 = _rotl(v3, 16) ^ v2
        v0 = (v0 + v3) & _M64
        v3 = _rotl(v3, 21) ^ v0
        v2 = (v2 + v1) & _M64
        v1 = _rotl(v1, 17) ^ v2
        v2 = _rotl(v2, 32)
        return v0, v1, v2, v3

    n = len(data)
    end = n - n % 8
    for i in range(0, end, 8):
        (m,) = struct.unpack_from("<Q", data, i)
        v3 ^= m
        v0, v1, v2, v3 = rnd(v0, v1, v2, v3)
        v0 ^= m
    last = ((n & 0xFF) << 56) | int.from_bytes(data[end:], "little")
    v3 ^= last
    v0, v1, v2, v3 = rnd(v0, v1, v2, v3)
    v0 ^= last
    v2 ^= 0xFF
    for _ in range(3):
        v0, v1, v2, v3 = rnd(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


def shard_hash(id_hex):
    idb = bytes.fromhex(id_hex)
    assert len(idb) == 16, id_hex
    return siphash13(0, 0, struct.pack("<Q", 16) + idb)


def shard_of(id_hex, n):
    return 0 if n <= 1 else shard_hash(id_hex) % n


def make_id(*parts):
    """A 32-hex id (stored as is): a 0x5a tag byte, then the parts, 4 bytes each."""
    return ("5a" + "".join("%08x" % p for p in parts)).ljust(32, "0")


# ---- servers with a given environment ----

SHARD_ENV = ("SUTRA_STORAGE_MODE", "SUTRA_NUM_SHARDS")


def server_env(env):
    """The test's environment without any shard setting, plus env."""
    e = {k: v for k, v in os.environ.items() if k not in SHARD_ENV}
    e.update(env or {})
    return e


class EnvServer(Server):
    """serverutil.Server started with extra environment variables."""

    def __init__(self, env=None, **kw):
        super().__init__(**kw)
        self.env = server_env(env)

    def start(self, timeout=15.0):
        for _ in range(5):  # the port may be taken between free_port() and bind
            self.port = free_port()
            self.log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=self.log,
                                         stdin=subprocess.DEVNULL, env=self.env)
            if self._wait_ready(timeout):
                return self
            self.log.close()
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        raise RuntimeError("sutra-server did not start (env %s):\n%s"
                           % ({k: self.env[k] for k in SHARD_ENV if k in self.env},
                              self.log_tail()))


def sharded_env(n=SHARDS):
    return {"SUTRA_STORAGE_MODE": "sharded", "SUTRA_NUM_SHARDS": str(n)}


def start_must_fail(test, data_dir, env, args=(), timeout=15.0):
    """Runs the server (port 0) and expects it to exit on its own with a
    non-zero status; returns (status, stderr)."""
    cmd = [SERVER, "--host", HOST, "--port", "0", "--data-dir", data_dir, "--dimension", "4",
           "--durability", "always"] + list(args)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, env=server_env(env), text=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        test.fail("sutra-server with %s %s kept running (it should have refused to start)\n"
                  "stderr:\n%s" % (env, list(args), err))
    test.assertNotEqual(p.returncode, 0, "sutra-server with %s %s exited 0; stderr:\n%s"
                        % (env, list(args), err))
    return p.returncode, out + err


def pipelined(client, requests):
    """[(variant, fields) or SutraError] of requests [(variant, fields)], sent
    PIPELINE at a time on one connection."""
    replies = []
    for i in range(0, len(requests), PIPELINE):
        chunk = requests[i:i + PIPELINE]
        for variant, fields in chunk:
            client.send(variant, **fields)
        for _ in chunk:
            try:
                replies.append(client.recv())
            except SutraError as e:
                replies.append(e)
    return replies


def neighbors_req(cid, direction, assoc_type=None):
    return ("GetNeighborsDetailed", {"concept_id": cid, "direction": direction,
                                     "assoc_type": assoc_type, "limit": 0})


def neighbor_ids(reply, what):
    if isinstance(reply, SutraError):
        raise AssertionError("%s: the server answered Error %r" % (what, reply.message))
    variant, fields = reply
    if variant != "GetNeighborsDetailedOk":
        raise AssertionError("%s: the server answered %s" % (what, variant))
    return {n["concept_id"] for n in fields["neighbors"]}


class Routing(unittest.TestCase):
    def test_siphash13_vectors(self):
        for byte, want in ((0x00, 0x4C694758CCE8BB7E), (0x01, 0x2B709A421A729212),
                           (0xAB, 0x76022F13A534D248)):
            got = shard_hash(("%02x" % byte) * 16)
            self.assertEqual(got, want, "routing hash of id %02x x16: got %#018x, want %#018x"
                             % (byte, got, want))
        # the content hash of the protocol is the same function over other bytes
        self.assertEqual(siphash13(0, 0, b"hello\xff"), 0xE037876B880B8ED9,
                         "SipHash-1-3 of 'hello' 0xff (LearnConceptV2's id of 'hello')")


# ---- 1. kill under load ----


class Writer(threading.Thread):
    """Learns two concepts on different shards, then associates them, until the
    connection fails or stop is set. Each association is recorded as in flight
    before it is sent and as acknowledged once its reply is OK."""

    def __init__(self, server, cycle, thread, stop):
        super().__init__(daemon=True)
        self.server, self.cycle, self.thread, self.stop = server, cycle, thread, stop
        self.concepts = []    # acknowledged concept ids
        self.acked = []       # acknowledged (source, target, type)
        self.inflight = None  # (source, target, type) sent, not acknowledged
        self.error = None

    def run(self):
        try:
            c = self.server.client(timeout=30)
        except OSError as e:
            self.error = "connect: %r" % (e,)
            return
        counter = 0
        try:
            while not self.stop.is_set():
                src = make_id(self.cycle, self.thread, counter)
                counter += 1
                while True:
                    dst = make_id(self.cycle, self.thread, counter)
                    counter += 1
                    if shard_of(dst, SHARDS) != shard_of(src, SHARDS):
                        break
                for cid in (src, dst):
                    c.learn_concept(cid, "concept " + cid, None, 1.0, 0.5)
                    self.concepts.append(cid)
                assoc = (src, dst, len(self.acked) % 5)
                self.inflight = assoc
                c.learn_association(src, dst, assoc[2], 0.75)
                self.acked.append(assoc)
                self.inflight = None
        except OSError:  # the server was killed: what was acknowledged is logged
            pass
        except SutraError as e:
            self.error = "the server refused a write: %s" % e.message
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = repr(e)
        finally:
            c.close()


class KillUnderLoad(unittest.TestCase):
    def setUp(self):
        self.server = EnvServer(env=sharded_env(), durability="always")
        self.addCleanup(self.server.cleanup)
        self.server.start()

    def test_kill_restart_cross_shard_associations(self):
        acked, inflight, concepts = [], [], []
        for cycle in range(KILL_CYCLES):
            stop = threading.Event()
            writers = [Writer(self.server, cycle, t, stop) for t in range(THREADS)]
            for w in writers:
                w.start()
            time.sleep(LOAD_SECONDS)
            rc = self.server.kill()
            stop.set()
            for w in writers:
                w.join(60)
                self.assertFalse(w.is_alive(), "cycle %d: writer %d did not stop after the kill"
                                 % (cycle, w.thread))
            self.assertEqual(rc, -signal.SIGKILL, "cycle %d: exit status of the killed server"
                             % cycle)
            for w in writers:
                self.assertIsNone(w.error, "cycle %d: writer %d failed before the kill: %s"
                                  % (cycle, w.thread, w.error))
            cycle_acked = [a for w in writers for a in w.acked]
            cycle_inflight = [w.inflight for w in writers if w.inflight is not None]
            self.assertGreater(len(cycle_acked), 0,
                               "cycle %d: no association was acknowledged in %.1f s of load"
                               % (cycle, LOAD_SECONDS))
            acked += cycle_acked
            inflight += cycle_inflight
            concepts += [cid for w in writers for cid in w.concepts]

            self.server.start()
            with self.server.client(timeout=60) as c:
                visible, inflight_visible = self.verify(c, cycle, acked, inflight, concepts)
                st = c.stats_extended()
            for k in ("txn_active", "txn_preparing", "txn_prepared"):
                self.assertEqual(st[k], 0, "cycle %d: StatsExtended %s after restart: %r"
                                 % (cycle, k, st[k]))
            self.assertEqual(st["shards"], SHARDS, "cycle %d: StatsExtended shards after restart"
                             % cycle)
            self.assertEqual(len(st["per_shard"]), SHARDS,
                             "cycle %d: StatsExtended per_shard entries after restart" % cycle)
            self.assertEqual(st["associations"], visible,
                             "cycle %d: StatsExtended associations after restart = %d, but %d "
                             "associations are visible (%d acknowledged, %d in flight in all)"
                             % (cycle, st["associations"], visible, len(acked), len(inflight)))
            self.assertGreaterEqual(st["concepts"], len(concepts),
                                    "cycle %d: StatsExtended concepts after restart < the %d "
                                    "acknowledged" % (cycle, len(concepts)))
            print("cycle %d: %d associations acknowledged, %d in flight at the kill (%d of "
                  "those so far visible), txn_recovered %d"
                  % (cycle, len(cycle_acked), len(cycle_inflight), inflight_visible,
                     st["txn_recovered"]))
        self.assertEqual(self.server.stop(), 0, "exit status on SIGTERM after the last cycle\n"
                         + self.server.log_tail())

    def verify(self, c, cycle, acked, inflight, concepts):
        """Checks every association so far; returns how many are visible, and how
        many of those were in flight at a kill."""
        for cid, r in zip(concepts, pipelined(
                c, [("QueryConcept", {"concept_id": cid}) for cid in concepts])):
            found = not isinstance(r, SutraError) and r[1].get("found")
            self.assertTrue(found, "cycle %d: acknowledged concept %s (shard %d) is missing "
                            "after restart: %r" % (cycle, cid, shard_of(cid, SHARDS), r))
        every = [(a, True) for a in acked] + [(a, False) for a in inflight]
        reqs = []
        for (src, dst, t), _ in every:
            reqs += [neighbors_req(src, "out", t), neighbors_req(dst, "in", t)]
        replies = pipelined(c, reqs)
        visible = inflight_visible = 0
        for i, ((src, dst, t), was_acked) in enumerate(every):
            what = "association %s (shard %d) -> %s (shard %d) type %d" % (
                src, shard_of(src, SHARDS), dst, shard_of(dst, SHARDS), t)
            from_src = dst in neighbor_ids(replies[2 * i], "out-neighbours of " + src)
            from_dst = src in neighbor_ids(replies[2 * i + 1], "in-neighbours of " + dst)
            if was_acked:
                self.assertTrue(from_src and from_dst,
                                "cycle %d: acknowledged %s lost after SIGKILL: in the "
                                "source's out-neighbours: %s, in the target's in-neighbours: %s"
                                % (cycle, what, from_src, from_dst))
            else:
                self.assertEqual(from_src, from_dst,
                                 "cycle %d: in-flight %s visible from one end only after "
                                 "SIGKILL: in the source's out-neighbours: %s, in the target's "
                                 "in-neighbours: %s" % (cycle, what, from_src, from_dst))
            visible += from_src and from_dst
            inflight_visible += from_src and from_dst and not was_acked
        return visible, inflight_visible


# ---- 2. the same answers, single layout and sharded ----

DIM = 8
N_CONCEPTS = 200
N_ASSOCS = 600
N_DELETE_ASSOCS = 10
N_DELETE_CONCEPTS = 10
N_PATHS = 50
N_QUERIES = 10
PATH_DEPTH = 6


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def cosine(a, b):
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(x * x for x in b))
    return sum(x * y for x, y in zip(a, b)) / (na * nb)


class Workload:
    """The deterministic workload and a model of what it leaves."""

    def __init__(self, seed=20261126):
        rnd = random.Random(seed)
        self.ids = [make_id(0xC0, i) for i in range(N_CONCEPTS)]
        self.vectors = {cid: [f32(rnd.uniform(-1, 1)) for _ in range(DIM)] for cid in self.ids}
        self.assocs = []  # (source, target, type, confidence) in write order
        while len(self.assocs) < N_ASSOCS:
            s, t = rnd.sample(self.ids, 2)
            self.assocs.append((s, t, rnd.randrange(5), rnd.randrange(1, 65) / 64.0))
        edges = {}  # (s, t, type) -> confidence (the last write wins)
        for s, t, ty, conf in self.assocs:
            edges[(s, t, ty)] = conf
        self.delete_assocs = rnd.sample(sorted(edges), N_DELETE_ASSOCS)
        for k in self.delete_assocs:
            del edges[k]
        self.delete_concepts = rnd.sample(self.ids, N_DELETE_CONCEPTS)
        gone = set(self.delete_concepts)
        self.edges = {k: v for k, v in edges.items() if k[0] not in gone and k[1] not in gone}
        self.live = [cid for cid in self.ids if cid not in gone]
        # an atomic batch that must fail as a whole: new cross-shard associations,
        # the last one to a concept that does not exist
        self.missing = make_id(0xC0, 0xFFFF)
        self.bad_batch = []
        while len(self.bad_batch) < 5:
            s, t = rnd.sample(self.live, 2)
            if shard_of(s, SHARDS) != shard_of(t, SHARDS) and (s, t, 1) not in self.edges:
                self.bad_batch.append((s, t, 1, 0.5))
        self.bad_batch.append((self.live[0], self.missing, 1, 0.5))
        self.pairs = [tuple(rnd.sample(self.ids, 2)) for _ in range(N_PATHS)]
        self.queries = [[f32(rnd.uniform(-1, 1)) for _ in range(DIM)] for _ in range(N_QUERIES)]
        self.adj = {cid: set() for cid in self.ids}
        for s, t, _ in self.edges:
            self.adj[s].add(t)
            self.adj[t].add(s)

    def cross_shard(self):
        return sum(shard_of(s, SHARDS) != shard_of(t, SHARDS) for s, t, _ in self.edges)

    def expected_out(self, cid):
        return sorted((t, ty, conf) for (s, t, ty), conf in self.edges.items() if s == cid)

    def expected_in(self, cid):
        return sorted((s, ty, conf) for (s, t, ty), conf in self.edges.items() if t == cid)

    def distance(self, a, b):
        """Hops of the shortest path a..b in both directions, None beyond PATH_DEPTH."""
        if a not in self.live or b not in self.live:
            return None
        seen, frontier = {a}, [a]
        for d in range(PATH_DEPTH + 1):
            if b in frontier:
                return d
            nxt = []
            for x in frontier:
                for y in self.adj[x]:
                    if y not in seen:
                        seen.add(y)
                        nxt.append(y)
            frontier = nxt
        return None

    def nearest(self, q):
        return sorted(((cosine(q, self.vectors[cid]), cid) for cid in self.live), reverse=True)

    def run(self, c):
        """Writes the workload through client c; returns the reply variants (or
        error texts) of every write, in order."""
        out = []
        half = N_CONCEPTS // 2
        for chunk in (self.ids[:half], self.ids[half:]):  # two atomic batches
            r = c.learn_concepts([{"concept_id": cid, "content": "content of " + cid,
                                   "vector": self.vectors[cid], "confidence": 0.5}
                                  for cid in chunk])
            out.append(("LearnConceptsOk", len(r["concept_ids"])))
        single, batched = self.assocs[:N_ASSOCS // 2], self.assocs[N_ASSOCS // 2:]
        reqs = [("LearnAssociation", {"source_id": s, "target_id": t, "assoc_type": ty,
                                      "confidence": conf}) for s, t, ty, conf in single]
        out += [r.message if isinstance(r, SutraError) else r[0] for r in pipelined(c, reqs)]
        for i in range(0, len(batched), 100):
            r = c.learn_associations([{"source_id": s, "target_id": t, "assoc_type": ty,
                                       "confidence": conf}
                                      for s, t, ty, conf in batched[i:i + 100]])
            out.append(("LearnAssociationsOk", r["count"]))
        for s, t, ty in self.delete_assocs:
            c.delete_association(s, t, ty)
            out.append(("DeleteAssociation", s, t, ty))
        for cid in self.delete_concepts:
            c.delete_concept(cid)
            out.append(("DeleteConcept", cid))
        # writes that must be refused, with nothing applied
        refused = [("LearnAssociation", {"source_id": self.live[0], "target_id": self.missing,
                                         "assoc_type": 0, "confidence": 1.0}),
                   ("LearnAssociation", {"source_id": self.missing, "target_id": self.live[0],
                                         "assoc_type": 0, "confidence": 1.0}),
                   ("LearnAssociations", {"associations": [
                       {"source_id": s, "target_id": t, "assoc_type": ty, "confidence": conf}
                       for s, t, ty, conf in self.bad_batch]}),
                   ("DeleteConcept", {"concept_id": self.delete_concepts[0]})]
        for variant, fields in refused:
            try:
                out.append(("unexpected success", variant, c.call(variant, **fields)[0]))
            except SutraError as e:
                out.append((variant, e.message))
        return out

    def observe(self, c):
        """Everything the comparison looks at."""
        o = {"neighbors": {}, "out": {}, "in": {}, "paths": {}, "search": []}
        reqs = []
        for cid in self.ids:
            reqs += [("GetNeighbors", {"concept_id": cid}), neighbors_req(cid, "out"),
                     neighbors_req(cid, "in")]
        replies = pipelined(c, reqs)
        for i, cid in enumerate(self.ids):
            nb, out, inn = replies[3 * i:3 * i + 3]
            for r in (nb, out, inn):
                if isinstance(r, SutraError):
                    raise AssertionError("neighbours of %s: Error %r" % (cid, r.message))
            o["neighbors"][cid] = nb[1]["neighbor_ids"]
            o["out"][cid] = [(n["concept_id"], n["assoc_type"], n["confidence"])
                             for n in out[1]["neighbors"]]
            o["in"][cid] = [(n["concept_id"], n["assoc_type"], n["confidence"])
                            for n in inn[1]["neighbors"]]
        for a, b in self.pairs:
            o["paths"][(a, b)] = c.find_path(a, b, max_depth=PATH_DEPTH)
        for q in self.queries:
            o["search"].append(c.vector_search(q, k=10, ef_search=256))
        st, sx = c.get_stats(), c.stats_extended()
        o["stats"] = {"concepts": st["concepts"], "edges": st["edges"], "vectors": st["vectors"],
                      "x_concepts": sx["concepts"], "x_associations": sx["associations"],
                      "x_vectors": sx["vectors"]}
        o["shards"], o["per_shard"] = sx["shards"], sx["per_shard"]
        return o


class SameAnswers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.w = Workload()
        cls.writes, cls.seen, cls.reopened = {}, {}, {}
        for mode, env in (("single", {}), ("sharded", sharded_env())):
            server = EnvServer(env=env, dimension=DIM, durability="always")
            try:
                server.start()
                with server.client(timeout=60) as c:
                    cls.writes[mode] = cls.w.run(c)
                    cls.seen[mode] = cls.w.observe(c)
                rc = server.kill()  # every write was acknowledged: all must come back
                if rc != -signal.SIGKILL:
                    raise AssertionError("%s server: exit status %s on SIGKILL" % (mode, rc))
                server.start()
                with server.client(timeout=60) as c:
                    cls.reopened[mode] = cls.w.observe(c)
                rc = server.stop()
                if rc != 0:
                    raise AssertionError("%s server: exit status %s on SIGTERM\n%s"
                                         % (mode, rc, server.log_tail()))
            finally:
                server.cleanup()

    def test_layouts(self):
        self.assertEqual((self.seen["single"]["shards"], self.seen["single"]["per_shard"]),
                         (0, []), "StatsExtended shards / per_shard of a single-layout store")
        self.assertEqual(self.seen["sharded"]["shards"], SHARDS,
                         "StatsExtended shards of the sharded store")
        self.assertGreater(self.w.cross_shard(), 100,
                           "the workload should cross shards (model: %d cross-shard of %d)"
                           % (self.w.cross_shard(), len(self.w.edges)))

    def test_same_after_sigkill(self):
        for mode in ("single", "sharded"):
            before, after = self.seen[mode], self.reopened[mode]
            for key in ("neighbors", "out", "in", "paths", "search", "stats", "shards"):
                self.assertEqual(before[key], after[key],
                                 "%s store: %s differ after SIGKILL and restart" % (mode, key))
            self.assertEqual([p["concepts"] for p in before["per_shard"]],
                             [p["concepts"] for p in after["per_shard"]],
                             "%s store: per_shard concepts after SIGKILL and restart" % mode)

    def test_refused_writes(self):
        tail = self.writes["sharded"][-4:]
        self.assertEqual([t[0] for t in tail], ["LearnAssociation", "LearnAssociation",
                                                "LearnAssociations", "DeleteConcept"],
                         "writes that must be refused were accepted: %r" % (tail,))
        self.assertIn(self.w.missing, tail[2][1],
                      "the refused batch names the missing concept: %r" % (tail[2],))

    def test_writes_answered_alike(self):
        self.assertEqual(self.writes["single"], self.writes["sharded"],
                         "the write replies differ between the single and the sharded store")
        want = ["LearnAssociationOk"] * (N_ASSOCS // 2)
        self.assertEqual(self.writes["single"][2:2 + N_ASSOCS // 2], want,
                         "replies to the pipelined LearnAssociation requests")

    def test_totals(self):
        w = self.w
        want = {"concepts": len(w.live), "edges": len(w.edges), "vectors": len(w.live),
                "x_concepts": len(w.live), "x_associations": len(w.edges),
                "x_vectors": len(w.live)}
        for mode in ("single", "sharded"):
            self.assertEqual(self.seen[mode]["stats"], want,
                             "%s store: GetStats / StatsExtended totals vs the model" % mode)

    def test_neighbors(self):
        w = self.w
        for cid in w.ids:
            for mode in ("single", "sharded"):
                o = self.seen[mode]
                self.assertEqual(sorted(o["out"][cid]), w.expected_out(cid),
                                 "%s store: out-neighbours of %s (shard %d) vs the model"
                                 % (mode, cid, shard_of(cid, SHARDS)))
                self.assertEqual(sorted(o["in"][cid]), w.expected_in(cid),
                                 "%s store: in-neighbours of %s (shard %d) vs the model"
                                 % (mode, cid, shard_of(cid, SHARDS)))
            a, b = self.seen["single"]["neighbors"][cid], self.seen["sharded"]["neighbors"][cid]
            self.assertEqual(sorted(a), sorted(b),
                             "GetNeighbors of %s (shard %d): single %r, sharded %r"
                             % (cid, shard_of(cid, SHARDS), a, b))
            self.assertEqual(sorted(set(a)), sorted(w.adj[cid]) if cid in w.live else [],
                             "GetNeighbors of %s (single store) vs the model" % cid)

    def assert_valid_path(self, mode, a, b, path):
        self.assertEqual((path[0], path[-1]), (a, b), "%s store: FindPath %s..%s ends of %r"
                         % (mode, a, b, path))
        for x, y in zip(path, path[1:]):
            self.assertIn(y, self.w.adj[x], "%s store: FindPath %s..%s: %s-%s is no association "
                          "(path %r)" % (mode, a, b, x, y, path))

    def test_find_path(self):
        found = 0
        for a, b in self.w.pairs:
            d = self.w.distance(a, b)
            got = {}
            for mode in ("single", "sharded"):
                p = self.seen[mode]["paths"][(a, b)]
                got[mode] = None if p is None else len(p) - 1
                if p is not None:
                    self.assert_valid_path(mode, a, b, p)
            self.assertEqual(got, {"single": d, "sharded": d},
                             "FindPath %s (shard %d) .. %s (shard %d), max_depth %d: hops of the "
                             "path found (None: not found) vs the model's %s"
                             % (a, shard_of(a, SHARDS), b, shard_of(b, SHARDS), PATH_DEPTH, d))
            found += d is not None
        self.assertGreater(found, N_PATHS // 2, "too few of the pairs are connected to test")

    def test_vector_search(self):
        for qi, q in enumerate(self.w.queries):
            single, sharded = self.seen["single"]["search"][qi], self.seen["sharded"]["search"][qi]
            self.assertEqual([i for i, _ in single], [i for i, _ in sharded],
                             "VectorSearch query %d: ids of the top 10, single %r, sharded %r"
                             % (qi, single, sharded))
            for (i, s1), (_, s2) in zip(single, sharded):
                self.assertLess(abs(s1 - s2), 1e-5, "VectorSearch query %d: score of %s, "
                                "single %r, sharded %r" % (qi, i, s1, s2))
            # and both are the exact nearest ten (the model's cosine, in double)
            exact = self.w.nearest(q)
            score = {cid: s for s, cid in exact}
            self.assertEqual(len(single), 10, "VectorSearch query %d: %d results" % (qi,
                                                                                   len(single)))
            for i, s in single:
                self.assertIn(i, score, "VectorSearch query %d returned %s, deleted or unknown"
                              % (qi, i))
                self.assertLess(abs(score[i] - s), 1e-4, "VectorSearch query %d: score of %s "
                                "%r, the model's %r" % (qi, i, s, score[i]))
            if exact[9][0] - exact[10][0] > 1e-4:  # no tie at the cut
                self.assertEqual(sorted(i for i, _ in single),
                                 sorted(cid for _, cid in exact[:10]),
                                 "VectorSearch query %d: the top 10 vs the exact top 10" % qi)


# ---- 3. configuration ----


class Configuration(unittest.TestCase):
    def setUp(self):
        if not SERVER or not os.path.exists(SERVER):
            raise unittest.SkipTest("SUTRA_SERVER is not set to a built sutra-server")

    def make_store(self, env):
        server = EnvServer(env=env, durability="always")
        self.addCleanup(server.cleanup)
        server.start()
        return server

    def test_sharded_store_keeps_its_count(self):
        server = self.make_store(sharded_env(4))
        with server.client() as c:
            c.learn_concept(make_id(1), "kept")
        self.assertEqual(server.stop(), 0, "exit status on SIGTERM")
        self.assertEqual(sorted(d for d in os.listdir(server.data_dir) if d.startswith("shard_")),
                         ["shard_0000", "shard_0001", "shard_0002", "shard_0003"],
                         "shard directories of a new 4-shard store")
        _, err = start_must_fail(self, server.data_dir, sharded_env(8))
        self.assertIn("shards = 8", err, "refusal names the requested count:\n" + err)
        self.assertIn("4 shards", err, "refusal names the store's count:\n" + err)
        # the store is intact: the right count opens it, and so does single mode
        # (which opens an existing store with the layout it was created with)
        for env in (sharded_env(4), {}, {"SUTRA_NUM_SHARDS": "8"}):
            server.env = server_env(env)
            server.start()
            with server.client() as c:
                st = c.stats_extended()
                q = c.query_concept(make_id(1))
            self.assertEqual(server.stop(), 0, "exit status on SIGTERM (env %s)" % env)
            self.assertEqual((st["shards"], st["concepts"], q["found"]), (4, 1, True),
                             "StatsExtended shards, concepts and the concept after reopening "
                             "with env %s" % env)

    def test_single_store_refuses_sharded_mode(self):
        server = self.make_store({})
        with server.client() as c:
            c.learn_concept(make_id(2), "single")
        self.assertEqual(server.stop(), 0, "exit status on SIGTERM")
        self.assertFalse([d for d in os.listdir(server.data_dir) if d.startswith("shard_")],
                         "a single-layout store has no shard directories")
        for env in (sharded_env(4), {"SUTRA_STORAGE_MODE": "sharded"}):
            _, err = start_must_fail(self, server.data_dir, env)
            self.assertIn("not sharded", err,
                          "refusal of sharded mode (env %s) on a single-layout store:\n%s"
                          % (env, err))
            want = "shards = %s" % env.get("SUTRA_NUM_SHARDS", "16")
            self.assertIn(want, err, "refusal names the requested count (%s):\n%s" % (want, err))
        server.env = server_env({})
        server.start()
        with server.client() as c:
            self.assertEqual((c.stats_extended()["shards"], c.query_concept(make_id(2))["found"]),
                             (0, True), "the single-layout store after the refusals")
        self.assertEqual(server.stop(), 0)

    def test_bad_values_refused(self):
        root = tempfile.mkdtemp(prefix="sutra-shard-cfg-")
        self.addCleanup(shutil.rmtree, root, True)
        cases = [({"SUTRA_STORAGE_MODE": "sharded", "SUTRA_NUM_SHARDS": "0"}, (), "num_shards",
                  "0"),
                 ({"SUTRA_STORAGE_MODE": "sharded", "SUTRA_NUM_SHARDS": "257"}, (), "num_shards",
                  "257"),
                 ({}, ("--storage-mode", "sharded", "--num-shards", "257"), "num_shards", "257"),
                 ({"SUTRA_STORAGE_MODE": "bogus"}, (), "storage_mode", "bogus")]
        for env, args, name, value in cases:
            data = os.path.join(root, "never")
            rc, err = start_must_fail(self, data, env, args)
            self.assertEqual(rc, 2, "exit status for %s %s (a bad setting is 2):\n%s"
                             % (env, list(args), err))
            self.assertIn(name, err, "the refusal names the setting:\n" + err)
            self.assertIn("'%s'" % value, err, "the refusal names the value:\n" + err)
            if name == "num_shards":
                self.assertIn("1..256", err, "the refusal names the range 1..256:\n" + err)
            else:
                self.assertIn("sharded", err, "the refusal names the allowed modes:\n" + err)
            self.assertFalse(os.path.exists(data), "a refused start created %s" % data)

    def test_per_shard_stats(self):
        server = self.make_store(sharded_env(4))
        ids = [make_id(3, i) for i in range(40)]
        with server.client() as c:
            c.learn_concepts([{"concept_id": cid, "content": "c",
                               "vector": [1, 0, 0, i] if i % 2 else None}
                              for i, cid in enumerate(ids)])
            c.learn_associations([{"source_id": ids[i], "target_id": ids[(i * 7 + 3) % 40]}
                                  for i in range(40) if i != (i * 7 + 3) % 40])
            st = c.stats_extended()
        self.assertEqual(server.stop(), 0, "exit status on SIGTERM")
        per = st["per_shard"]
        self.assertEqual(len(per), 4, "StatsExtended per_shard entries: %r" % (per,))
        for key in ("concepts", "vectors", "associations"):
            self.assertEqual(sum(p[key] for p in per), st[key],
                             "sum of per_shard %s (%r) vs the total %d"
                             % (key, [p[key] for p in per], st[key]))
        self.assertEqual(st["concepts"], 40, "StatsExtended concepts")
        want = [sum(shard_of(cid, 4) == s for cid in ids) for s in range(4)]
        self.assertEqual([p["concepts"] for p in per], want,
                         "per_shard concepts vs the routing function (SipHash-1-3 mod 4)")
        for s, p in enumerate(per):
            self.assertEqual(sorted(p), sorted(["concepts", "vectors", "associations",
                                                "wal_bytes", "wal_segments", "wal_fsyncs",
                                                "wal_next_lsn", "pending_records"]),
                             "per_shard[%d] fields" % s)


if __name__ == "__main__":
    unittest.main(verbosity=2)
