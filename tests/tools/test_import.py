"""test_import.py - black-box tests of sutra-import and sutra-export.

Each test writes JSONL files in a temporary directory, runs the real tools
(paths from the environment CTest sets: SUTRA_IMPORT, SUTRA_EXPORT,
SUTRA_SERVER) and checks exit status, stderr and what the store holds
afterwards, read back with sutra-export (or, through a server, with the
Python client). Covered: messages naming file, line and field; every limit
with its value; the summary line and exit codes; associations before their
concepts (error with a hint, then --two-pass); export -> import -> export
giving the same bytes; re-import as an update; import through a running
server giving exactly what a direct import gives; the reading and parsing
pipeline (tiny blocks through the SUTRA_IMPORT_TEST_BLOCK_BYTES hook, many
parser threads) giving exactly what one thread and one block give: the same
store, the same messages in line order, later lines winning.
"""

import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "server"))
from serverutil import Server  # noqa: E402

IMPORT = os.environ.get("SUTRA_IMPORT", "")
EXPORT = os.environ.get("SUTRA_EXPORT", "")


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def sample_data(seed=7, n=300, dim=4):
    """Concepts with vectors, metadata, odd text; associations of every type."""
    rnd = random.Random(seed)
    concepts, assocs = [], []
    for i in range(n):
        c = {"id": f"concept-{i}", "content": f"text {i} \u00e9\u4e2d \"q\" \\ \t\n\u0000 end"}
        if i % 3:
            c["vector"] = [rnd.uniform(-2, 2) for _ in range(dim)]
        if i % 4 == 0:
            c["strength"] = rnd.uniform(0, 5)
            c["confidence"] = rnd.random()
        if i % 5:
            c["metadata"] = {"lang": rnd.choice(["en", "fr"]), "n": str(i), "emoji": "\U0001f600"}
        concepts.append(c)
    for i in range(2 * n):
        a, b = rnd.randrange(n), rnd.randrange(n)
        assocs.append({"source": f"concept-{a}", "target": f"concept-{b}",
                       "type": rnd.choice([0, 1, 2, 3, 4, "semantic", "hierarchical"]),
                       "confidence": rnd.random()})
    return concepts, assocs


class ToolTest(unittest.TestCase):
    def setUp(self):
        for name, path in (("SUTRA_IMPORT", IMPORT), ("SUTRA_EXPORT", EXPORT)):
            if not path or not os.path.exists(path):
                self.skipTest(f"{name} is not set to a built tool (run through ctest)")
        self.tmp = tempfile.mkdtemp(prefix="sutra-import-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, lines):
        """lines: dicts (dumped as JSON) or raw strings."""
        p = self.path(name)
        with open(p, "w", encoding="utf-8") as f:
            for line in lines:
                f.write((line if isinstance(line, str) else json.dumps(line)) + "\n")
        return p

    def run_import(self, *args, stdin=None, expect=0, env=None):
        p = subprocess.run([IMPORT, "--no-progress", *args], input=stdin, capture_output=True,
                           text=True, check=False, env=env)
        self.assertEqual(p.returncode, expect, f"sutra-import {args}:\n{p.stderr}")
        return p.stderr

    def export(self, store, *args, expect=0):
        p = subprocess.run([EXPORT, "--dir", store, "--no-progress", *args], capture_output=True,
                           text=True, check=False)
        self.assertEqual(p.returncode, expect, f"sutra-export:\n{p.stderr}")
        return p.stdout if expect == 0 else p.stderr

    def load(self, lines, *args, dim=4, expect=0):
        src = self.write("in.jsonl", lines)
        store = self.path("store")
        return src, store, self.run_import("--dir", store, "--dimension", str(dim),
                                           "--durability", "none", *args, src, expect=expect)


class Usage(ToolTest):
    def test_help(self):
        for tool in (IMPORT, EXPORT):
            p = subprocess.run([tool, "--help"], capture_output=True, text=True, check=False)
            self.assertEqual(p.returncode, 0)
            self.assertIn("usage:", p.stdout)
        self.assertIn("--two-pass", subprocess.run([IMPORT, "-h"], capture_output=True,
                                                   text=True).stdout)

    def test_bad_usage_exits_2(self):
        f = self.write("a.jsonl", [])
        for args, text in [((), "no input files"),
                           ((f,), "no destination"),
                           (("--dir", "x", "--port", "1", f), "exclude each other"),
                           (("--dir", "x", "--two-pass", "-"), "standard input can be read only once"),
                           (("--dir", "x", "--batch", "0", f), "bad value for --batch"),
                           (("--dir", "x", "--max-line-bytes", "1", f), "allowed 64..100663296"),
                           (("--bogus", f), "unknown option"),
                           (("--dir",), "missing value")]:
            p = subprocess.run([IMPORT, *args], capture_output=True, text=True, check=False)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn(text, p.stderr)
        p = subprocess.run([EXPORT], capture_output=True, text=True, check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--dir PATH is required", p.stderr)

    def test_bad_engine_option_names_setting(self):
        err = self.load([{"id": "a"}], "--durability", "sometimes", expect=1)[2]
        self.assertIn("durability", err)
        self.assertIn("sometimes", err)

    def test_options_after_files(self):
        src = self.write("a.jsonl", [{"id": "a"}])
        self.run_import(src, "--dir", self.path("s"), "--dimension", "4")
        self.assertEqual(len(self.export(self.path("s")).splitlines()), 1)


class Errors(ToolTest):
    """Every message is FILE:LINE: field "name": why."""

    CASES = [
        ('{"id": "a", "vector": "x"}', 'field "vector": expected an array of numbers, got a string'),
        ('{"id": "a", "vector": [1, 2, "3", 4]}', 'field "vector[2]": expected a number, got a string'),
        ('{"id": "a", "vector": [1, 2, 3]}', 'field "vector": 3 numbers, but the store\'s dimension is 4'),
        ('{"id": "a", "vector": []}', 'field "vector": empty'),
        ('{"id": "a", "vector": [1, 1e39, 0, 0]}', 'field "vector[1]": 1e+39 is out of range for a 32-bit float'),
        ('{"id": "a", "confidence": 1.5}', 'field "confidence": 1.5 is outside the allowed range 0..1'),
        ('{"id": "a", "strength": -1}', 'field "strength": -1 is negative (allowed: 0 or more)'),
        ('{"id": "a", "content": 7}', 'field "content": expected a string, got a number'),
        ('{"id": ""}', 'field "id": an id must not be empty'),
        ('{"id": 12}', 'field "id": expected a string, got a number'),
        ('{"id": "a", "metadata": {"k": 1}}', 'field "metadata.k": expected a string, got a number'),
        ('{"id": "a", "metadata": ["k"]}', 'field "metadata": expected an object of strings, got an array'),
        ('{"id": "a", "metadata": {"k": "a\\u0000b"}}', 'field "metadata.k": a value must not contain NUL'),
        ('{"id": "a", "metadata": {"' + "k" * 256 + '": "v"}}', 'field "metadata": key "' + "k" * 40 + '" is 256 bytes (allowed 1..255)'),
        ('{"id": "a", "confidance": 1}', 'field "confidance": not a concept field'),
        ('{"source": "a"}', 'field "target": missing'),
        ('{"source": "a", "target": "b", "type": "parent"}', 'field "type": expected semantic, causal, temporal, hierarchical, compositional or 0..4, got a string "parent"'),
        ('{"source": "a", "target": "b", "type": 5}', 'field "type": 5 is outside 0..4'),
        ('{"source": "a", "target": "b", "weight": 1}', 'field "weight": not an association field'),
        ('{"id": "a", "id": "b"}', 'invalid JSON at column'),
        ('{"id": "a",', 'invalid JSON at column'),
        ('[1, 2]', 'expected a JSON object, got an array'),
        ('{"name": "a"}', 'expected a concept (with "id") or an association'),
    ]

    def test_each_message_names_file_line_and_field(self):
        lines = ['{"id": "a"}', '{"id": "b"}']
        for bad, _ in self.CASES:
            lines += [bad, '{"id": "ok"}']
        src, store, err = self.load(lines, expect=1)
        for k, (bad, text) in enumerate(self.CASES):
            want = f"{src}:{3 + 2 * k}: {text}"
            self.assertIn(want, err, f"for {bad}")
        # records loaded: a, b and "ok" 23 times (an update each time)
        self.assertIn(f"{2 + len(self.CASES)} concepts and 0 associations loaded", err)
        self.assertIn(f"{len(self.CASES)} errors", err)
        # the good lines around the bad ones were loaded
        ids = [json.loads(x)["id"] for x in self.export(store).splitlines()]
        self.assertEqual(len(ids), 3)

    def test_blank_lines_and_a_byte_order_mark_are_skipped(self):
        err = self.load(['\ufeff{"id": "a"}', "", "   \r", '{"id": "b"}\r'])[2]
        self.assertIn("2 concepts", err)

    def test_max_errors_stops_early(self):
        lines = ["oops"] * 10 + ['{"id": "late"}']
        err = self.load(lines, "--max-errors", "3", expect=1)[2]
        self.assertIn("stopping after 3 errors", err)
        self.assertIn(":3: invalid JSON", err)
        self.assertNotIn(":4: invalid JSON", err)
        self.assertIn("(stopped early)", err)

    def test_missing_file(self):
        err = self.run_import("--dir", self.path("s"), self.path("nope.jsonl"), expect=1)
        self.assertIn("nope.jsonl: No such file or directory", err)


class Limits(ToolTest):
    """A value at the limit is accepted; one over it is named with the limit."""

    def test_content_size(self):
        lines = [{"id": "at", "content": "x" * 100}, {"id": "over", "content": "x" * 101}]
        src, store, err = self.load(lines, "--engine-opt", "max_content_bytes=100", expect=1)
        self.assertIn(f'{src}:2: field "content": 101 bytes, over the limit of 100 '
                      "(max_content_bytes)", err)
        self.assertIn("1 concepts", err)

    def test_metadata_size(self):
        # encoded: 4 + (6 + 1 + 1 + len(v) + 1) per entry
        at = {"id": "at", "metadata": {"k": "v" * 51}}   # 4 + 60 = 64
        over = {"id": "over", "metadata": {"k": "v" * 52}}
        src, store, err = self.load([at, over], "--engine-opt", "max_meta_bytes=64", expect=1)
        self.assertIn(f'{src}:2: field "metadata": 65 bytes encoded, over the limit of 64 '
                      "(max_meta_bytes)", err)

    def test_line_length(self):
        lines = [{"id": "a", "content": "x" * 30}, {"id": "b", "content": "x" * 60}, {"id": "c"}]
        src, store, err = self.load(lines, "--max-line-bytes", "64", expect=1)
        self.assertIn(f"{src}:2: line longer than 64 bytes (the limit, --max-line-bytes)", err)
        self.assertIn("2 concepts", err)

    def test_dimension(self):
        src, store, err = self.load([{"id": "a", "vector": [0.5] * 8}], dim=8)
        self.assertIn("dimension 8", err)
        # the store keeps its dimension: no --dimension needed the second time
        src2 = self.write("b.jsonl", [{"id": "b", "vector": [1] * 9}])
        err = self.run_import("--dir", store, src2, expect=1)
        self.assertIn(f'{src2}:1: field "vector": 9 numbers, but the store\'s dimension is 8', err)
        err = self.run_import("--dir", store, "--dimension", "4", src2, expect=1)
        self.assertIn("does not match the store's dimension 8", err)


class Order(ToolTest):
    def test_association_before_its_concepts(self):
        lines = [{"source": "a", "target": "b", "type": "causal"}, {"id": "a"}, {"id": "b"}]
        src, store, err = self.load(lines, expect=1)
        self.assertIn(f'{src}:1: no such source concept', err)
        self.assertIn('("source": "a"); concepts must come before the associations that name '
                      "them (or use --two-pass)", err)
        self.run_import("--dir", store, "--two-pass", src)
        out = self.export(store).splitlines()
        self.assertEqual(len(out), 3)
        self.assertEqual(json.loads(out[2])["type"], "causal")

    def test_bad_record_in_a_batch_is_isolated(self):
        # one association to a missing target among 2,500 good records:
        # the batch is split until the bad line is found, the rest is loaded
        lines = [{"id": f"c{i}"} for i in range(1000)]
        lines += [{"source": f"c{i}", "target": f"c{i + 1}"} for i in range(999)]
        lines.insert(1500, {"source": "c1", "target": "ghost"})
        src, store, err = self.load(lines, expect=1)
        self.assertIn(f'{src}:1501: no such target concept', err)
        self.assertIn('("target": "ghost")', err)
        self.assertIn("1000 concepts and 999 associations loaded", err)
        self.assertIn("; 1 error", err)

    def test_stdin(self):
        data = '{"id": "a"}\n{"id": "b"}\n{"source": "a", "target": "b"}\nbad\n'
        err = self.run_import("--dir", self.path("s"), "-", stdin=data, expect=1)
        self.assertIn("<stdin>:4: invalid JSON", err)
        self.assertIn("2 concepts and 1 associations", err)


class RoundTrip(ToolTest):
    def test_export_import_export_same_bytes(self):
        concepts, assocs = sample_data()
        src, store, err = self.load(concepts + assocs)
        first = self.export(store)
        lines = first.splitlines()
        names = {"semantic": 0, "hierarchical": 3}
        distinct = {(a["source"], a["target"], names.get(a["type"], a["type"])) for a in assocs}
        self.assertEqual(len(lines), len(concepts) + len(distinct))
        copy = self.write("first.jsonl", lines)
        store2 = self.path("store2")
        self.run_import("--dir", store2, "--dimension", "4", copy)
        self.assertEqual(self.export(store2), first)
        # --out writes the same bytes; --unsorted the same lines in another order
        out = self.path("out.jsonl")
        self.export(store2, "--out", out)
        with open(out, encoding="utf-8") as f:
            self.assertEqual(f.read(), first)
        self.assertEqual(sorted(self.export(store2, "--unsorted").splitlines()), sorted(lines))

    def test_reshard_through_export_and_import(self):
        # Changing a store's shard count: export it, import into a store
        # created with the new count, and the export is byte-identical.
        concepts, assocs = sample_data()
        src, store, err = self.load(concepts + assocs)
        first = self.export(store)
        copy = self.write("first.jsonl", first.splitlines())
        sharded = self.path("sharded")
        self.run_import("--dir", sharded, "--dimension", "4", "--engine-opt", "shards=4", copy)
        self.assertTrue(os.path.isdir(os.path.join(sharded, "shard_0003")))
        self.assertEqual(self.export(sharded), first)
        back = self.path("back")
        copy2 = self.write("second.jsonl", self.export(sharded).splitlines())
        self.run_import("--dir", back, "--dimension", "4", "--engine-opt", "shards=16", copy2)
        self.assertEqual(self.export(back), first)
        err = self.run_import("--dir", sharded, "--engine-opt", "shards=8", copy, expect=1)
        self.assertIn("4 shards", err)

    def test_export_holds_what_was_imported(self):
        concepts, assocs = sample_data(n=50)
        src, store, err = self.load(concepts)
        got = [json.loads(x) for x in self.export(store).splitlines()]
        self.assertEqual(len(got), 50)
        by_content = {c["content"]: c for c in got}
        for c in concepts:
            e = by_content[c["content"]]  # content survives escapes, NUL, non-ASCII
            self.assertEqual(len(e["id"]), 32)
            if "vector" in c:
                self.assertEqual([f32(x) for x in e["vector"]], [f32(x) for x in c["vector"]])
            else:
                self.assertNotIn("vector", e)
            self.assertEqual(f32(e["confidence"]), f32(c.get("confidence", 1.0)))
            self.assertEqual(f32(e["strength"]), f32(c.get("strength", 1.0)))
            self.assertEqual(e.get("metadata", {}), c.get("metadata", {}))

    def test_reimport_is_an_update(self):
        concepts, assocs = sample_data(n=100)
        src, store, err = self.load(concepts + assocs)
        first = self.export(store)
        self.run_import("--dir", store, src)  # the same again: nothing changes
        self.assertEqual(self.export(store), first)
        changed = self.write("changed.jsonl", [{"id": "concept-1", "content": "new text"},
                                               {"source": "concept-1", "target": "concept-2",
                                                "type": "temporal", "confidence": 0.25}])
        self.run_import("--dir", store, changed)
        after = self.export(store).splitlines()
        self.assertEqual(len(after), len(first.splitlines()) + 1)  # one new association
        self.assertIn('"content":"new text"', "\n".join(after))
        self.assertIn('"type":"temporal","confidence":0.25}', "\n".join(after))

    def test_export_errors(self):
        err = self.export(self.path("nowhere"), expect=1)
        self.assertIn("not a Sutra store (no MANIFEST)", err)


class ThroughServer(ToolTest):
    def setUp(self):
        super().setUp()
        self.server = Server(dimension=4).start()

    def tearDown(self):
        try:
            self.server.stop()
        finally:
            self.server.cleanup()
            super().tearDown()

    def via_server(self, src, expect=0, *args):
        return self.run_import("--host", "127.0.0.1", "--port", str(self.server.port), *args, src,
                               expect=expect)

    def test_same_store_as_a_direct_import(self):
        concepts, assocs = sample_data(n=1500)  # more than one batch of 1,000
        src = self.write("in.jsonl", concepts + assocs)
        err = self.via_server(src)
        self.assertIn(f"1500 concepts and 3000 associations loaded into server 127.0.0.1:"
                      f"{self.server.port} (dimension 4, durability always)", err)
        with self.server.client() as c:
            got = c.get_concept("concept-7")
            self.assertTrue(got["found"])
            self.assertEqual(got["metadata"], concepts[7]["metadata"])
        self.via_server(src)  # idempotent through the server as well
        self.assertEqual(self.server.stop(), 0)
        direct = self.path("direct")
        self.run_import("--dir", direct, "--dimension", "4", src)
        self.assertEqual(self.export(self.server.data_dir), self.export(direct))

    def test_errors_through_the_server(self):
        lines = [{"id": "a", "vector": [1, 2]},
                 {"id": "b"},
                 {"source": "b", "target": "nobody"},
                 {"id": "c", "metadata": {f"k{i}": "v" for i in range(257)}}]
        src = self.write("bad.jsonl", lines)
        err = self.via_server(src, 1)
        self.assertIn(f'{src}:1: field "vector": 2 numbers, but the store\'s dimension is 4', err)
        self.assertIn(f'{src}:3: no such target concept', err)
        self.assertIn("(or use --two-pass)", err)
        self.assertIn(f'{src}:4: field "metadata": 257 entries, over the limit of 256', err)
        self.assertIn("1 concepts and 0 associations loaded", err)

    def test_export_refuses_a_store_in_use(self):
        err = self.export(self.server.data_dir, expect=1)
        self.assertIn(self.server.data_dir, err)

    def test_no_server(self):
        self.server.stop()
        err = self.via_server(self.write("a.jsonl", [{"id": "a"}]), 1)
        self.assertIn(f"connecting to 127.0.0.1:{self.server.port}", err)


def block_env(size):
    """The environment for blocks of `size` bytes (the test hook)."""
    env = dict(os.environ)
    env["SUTRA_IMPORT_TEST_BLOCK_BYTES"] = str(size)
    return env


class Pipeline(ToolTest):
    """Blocks and parser threads change nothing but the speed."""

    def messages(self, err):
        """The per-line messages, without the summary's timing."""
        return [x for x in err.splitlines() if not x.startswith("sutra-import: ")]

    def line_numbers(self, err, src):
        return [int(x[len(src) + 1:].split(":")[0]) for x in self.messages(err)
                if x.startswith(src + ":")]

    def import_both(self, lines, *args, sizes=(1, 7, 64, 300), dim=4, expect=0):
        """Imports with one thread and big blocks, then with tiny blocks and
        many threads; checks both give the same store and messages."""
        src = self.write("in.jsonl", lines)
        ref_store = self.path("ref")
        ref_err = self.run_import("--dir", ref_store, "--dimension", str(dim), "--durability",
                                  "none", "--threads", "1", *args, src, expect=expect)
        ref = self.export(ref_store)
        for size in sizes:
            for threads in ("1", "3", "8"):
                store = self.path(f"s{size}-{threads}")
                err = self.run_import("--dir", store, "--dimension", str(dim), "--durability",
                                      "none", "--threads", threads, *args, src, expect=expect,
                                      env=block_env(size))
                self.assertEqual(self.messages(err), self.messages(ref_err), (size, threads))
                self.assertEqual(self.export(store), ref, (size, threads))
        return src, ref_err, ref

    def test_same_store_and_messages_in_line_order(self):
        concepts, assocs = sample_data(n=120)
        lines = [json.dumps(x) for x in concepts + assocs]
        for k in range(0, len(lines), 13):  # mistakes spread over many blocks
            lines.insert(k, '{"id": "bad", "vector": [1, 2]}' if k % 2 else "not json")
            lines.insert(k + 5, '\ufeff{"id": "a byte order mark is not line 1"}')
        src, err, out = self.import_both(lines, "--max-errors", "0", expect=1)
        numbers = self.line_numbers(err, src)
        self.assertGreater(len(numbers), 20)
        self.assertEqual(numbers, sorted(numbers))  # reported in line order
        self.assertEqual(len(out.splitlines()), 120 + len(
            {(a["source"], a["target"], {"semantic": 0, "hierarchical": 3}.get(a["type"], a["type"]))
             for a in assocs}))

    def test_a_later_line_wins(self):
        lines = []
        for round_ in range(30):
            for i in range(10):
                lines.append({"id": f"c{i}", "content": f"round {round_} of c{i}"})
            lines.append({"source": "c1", "target": "c2", "type": "causal",
                          "confidence": round_ / 32})
        src, err, out = self.import_both(lines, sizes=(1, 40, 200))
        got = [json.loads(x) for x in out.splitlines()]
        self.assertEqual({c["content"] for c in got if "id" in c},
                         {f"round 29 of c{i}" for i in range(10)})
        self.assertEqual([a["confidence"] for a in got if "source" in a], [29 / 32])

    def test_long_lines_blank_lines_and_line_ends(self):
        def sized(name, n):  # a concept line of exactly n bytes
            line = json.dumps({"id": name, "content": ""})
            return line[:-2] + "x" * (n - len(line)) + line[-2:]
        lines = ['\ufeff{"id": "first"}', sized("long1", 81), "", "  \r", '{"id": "a"}\r',
                 sized("at", 80), '\ufeff{"id": "no-bom"}', sized("long2", 200),
                 '{"id": "b", "content": "' + "y" * 40 + '"}', sized("long3", 81)]
        src = self.write("in.jsonl", lines)
        with open(src, "rb+") as f:  # the last line has no newline
            f.truncate(os.path.getsize(src) - 1)
        want = [f"{src}:2: line longer than 80 bytes (the limit, --max-line-bytes)",
                f"{src}:7: invalid JSON at column 1: '[' or '{{' expected near '\ufeff'",
                f"{src}:8: line longer than 80 bytes (the limit, --max-line-bytes)",
                f"{src}:10: line longer than 80 bytes (the limit, --max-line-bytes)"]
        for size in (1, 5, 64, 80, 81, 82, 4096):
            for threads in ("1", "4"):
                for two_pass in ((), ("--two-pass",)):
                    store = self.path(f"s{size}-{threads}-{len(two_pass)}")
                    err = self.run_import("--dir", store, "--dimension", "4", "--max-line-bytes",
                                          "80", "--threads", threads, *two_pass, src, expect=1,
                                          env=block_env(size))
                    self.assertEqual(self.messages(err), want, (size, threads, two_pass))
                    self.assertIn("4 concepts and 0 associations loaded", err)
                    contents = sorted(json.loads(x)["content"]
                                      for x in self.export(store).splitlines())
                    self.assertEqual(contents, ["", "", "x" * 53, "y" * 40])

    def test_many_short_lines(self):
        # more lines than a block holds (4,096), the last one without a newline
        lines = [f'{{"id":"n{i}"}}' if i % 997 else "oops" for i in range(1, 30001)]
        src = self.write("in.jsonl", lines)
        with open(src, "rb+") as f:
            f.truncate(os.path.getsize(src) - 1)
        want = [f"{src}:{n}: invalid JSON at column 4: '[' or '{{' expected near 'oops'"
                for n in range(997, 30001, 997)]
        for threads in ("1", "3"):
            store = self.path(f"s{threads}")
            err = self.run_import("--dir", store, "--threads", threads, "--max-errors", "0", src,
                                  expect=1)
            self.assertEqual(self.messages(err), want)
            self.assertIn(f"{30000 - len(want)} concepts and 0 associations", err)
        self.assertEqual(len(self.export(store).splitlines()), 30000 - len(want))

    def test_two_pass_and_stdin(self):
        lines = [{"source": "a", "target": "b"}, "oops", {"id": "a"}, {"id": "b"},
                 {"source": "b", "target": "a", "type": 2}]
        src, err, out = self.import_both(lines, "--two-pass", sizes=(1, 9), expect=1)
        self.assertEqual(self.messages(err), [f"{src}:2: invalid JSON at column 4: "
                                              "'[' or '{' expected near 'oops'"])
        self.assertEqual(len(out.splitlines()), 4)
        data = "".join(json.dumps(x) + "\n" for x in lines[2:] + lines[:1])
        err = self.run_import("--dir", self.path("stdin"), "--threads", "5", "-", stdin=data,
                              env=block_env(3))
        self.assertIn("2 concepts and 2 associations", err)

    def test_read_errors_and_files_in_order(self):
        a = self.write("a.jsonl", [{"id": "a"}, "bad a"])
        b = self.write("b.jsonl", ["bad b", {"id": "b"}])
        err = self.run_import("--dir", self.path("s"), "--threads", "4", a, self.tmp,
                              self.path("missing.jsonl"), b, expect=1, env=block_env(2))
        self.assertEqual(self.messages(err), [
            f"{a}:2: invalid JSON at column 3: '[' or '{{' expected near 'bad'",
            f"{self.tmp}:1: read error: Is a directory",
            f"{self.path('missing.jsonl')}: No such file or directory",
            f"{b}:1: invalid JSON at column 3: '[' or '{{' expected near 'bad'"])
        self.assertIn("2 concepts", err)

    def test_max_errors_stops_the_pipeline(self):
        lines = ["oops"] * 5000 + ['{"id": "late"}']
        err = self.load(lines, "--max-errors", "7", "--threads", "4", expect=1)[2]
        self.assertEqual(len([x for x in err.splitlines() if "invalid JSON" in x]), 7)
        self.assertIn(":7: invalid JSON", err)
        self.assertIn("(stopped early)", err)

    def test_bad_threads_and_hook(self):
        f = self.write("a.jsonl", [{"id": "a"}])
        for args, env, text in [(("--threads", "0"), None, "bad value for --threads: '0' (allowed 1..64)"),
                                (("--threads", "65"), None, "allowed 1..64"),
                                ((), block_env(0), "SUTRA_IMPORT_TEST_BLOCK_BYTES")]:
            p = subprocess.run([IMPORT, "--dir", self.path("s"), *args, f], capture_output=True,
                               text=True, check=False, env=env)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(text, p.stderr)


class Progress(ToolTest):
    def test_progress_only_when_asked(self):
        src = self.write("a.jsonl", [{"id": f"c{i}"} for i in range(10)])
        quiet = self.run_import("--dir", self.path("s1"), src)
        self.assertNotIn("progress:", quiet)
        p = subprocess.run([IMPORT, "--progress", "--dir", self.path("s2"), src],
                           capture_output=True, text=True, check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("progress: [########################] 100%  10 records", p.stderr)
        p = subprocess.run([EXPORT, "--progress", "--dir", self.path("s2")],
                           capture_output=True, text=True, check=False)
        self.assertIn("100%  10 records", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
