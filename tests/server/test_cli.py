"""test_cli.py - sutra-cli against the real server.

One-shot commands in readable and --json form (every --json line must parse
as JSON and carry the reply's fields, strings escaped so that any content
round-trips), the exit-status contract (0 ok, 1 server error or not found,
2 usage or connection error) and the interactive shell fed from a pipe.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from serverutil import ServerTestCase, free_port

CLI = os.environ.get("SUTRA_CLI", "")


class Cli(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        if not CLI or not os.path.exists(CLI):
            raise unittest.SkipTest("SUTRA_CLI is not set to a built sutra-cli")
        super().setUpClass()
        cls.home = tempfile.mkdtemp(prefix="sutra-cli-home-")
        cls.addClassCleanup(shutil.rmtree, cls.home, True)

    def cli(self, *args, stdin=None, port=None):
        env = dict(os.environ, HOME=self.home)
        cmd = [CLI, "--port", str(port or self.server.port)] + list(args)
        return subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env,
                              timeout=30)

    def ok(self, *args):
        p = self.cli(*args)
        self.assertEqual(p.returncode, 0, (args, p.stdout, p.stderr))
        return p.stdout

    def json(self, *args, rc=0):
        p = self.cli("--json", *args)
        self.assertEqual(p.returncode, rc, (args, p.stdout, p.stderr))
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 1, p.stdout)
        return json.loads(lines[0])

    def test_learn_and_get(self):
        self.assertEqual(self.ok("learn", "hello").strip(), "e037876b880b8ed9")
        out = self.ok("get", "e037876b880b8ed9")
        self.assertIn("hello", out)
        j = self.json("get", "e037876b880b8ed9")
        self.assertEqual((j["reply"], j["content"], j["found"]), ("GetConceptOk", "hello", True))
        p = self.cli("get", "0123456789abcdef")
        self.assertEqual(p.returncode, 1)
        self.assertIn("not found", p.stderr)

    def test_json_escapes_any_content(self):
        text = 'quote " backslash \\ newline \n tab \t bell \x07 unicode \u00e9\u4e2d\U0001f600'
        cid = self.json("learn", text)["concept_id"]
        self.assertEqual(self.json("get", cid)["content"], text)

    def test_graph_commands(self):
        a = self.ok("learn", "cli node a").strip()
        b = self.ok("learn", "cli node b").strip()
        c = self.ok("learn", "cli node c").strip()
        self.assertIn("sequence", self.ok("associate", a, b, "--type", "1", "--confidence",
                                          "0.5"))
        self.ok("associate", b, c)
        n = self.json("neighbors", a)
        self.assertEqual(n["total"], 1)
        self.assertEqual((n["neighbors"][0]["assoc_type"], n["neighbors"][0]["confidence"],
                          n["neighbors"][0]["direction"]), (1, 0.5, "out"))
        self.assertIn("causal", self.ok("neighbors", a))
        self.assertEqual(self.json("neighbors", b, "--direction", "in")["total"], 1)
        self.assertEqual(len(self.json("path", a, c)["path"]), 3)
        self.assertEqual(self.ok("path", a, c).count(" -> "), 2)
        p = self.cli("path", a, c, "--max-depth", "1")
        self.assertEqual(p.returncode, 1)
        self.assertIn("no path", p.stderr)
        self.assertIn("deleted", self.ok("delete", b))
        p = self.cli("delete", b)
        self.assertEqual(p.returncode, 1)
        self.assertIn("error:", p.stderr)

    def test_search(self):
        with self.server.client() as c:
            c.learn_concept("cli-vec", "vector", [0, 0, 0, 1])
        hits = self.json("search", "0,0,0,1", "--k", "1", "--ef", "20")["results"]
        self.assertEqual(len(hits), 1)
        self.assertAlmostEqual(hits[0][1], 1.0, places=5)
        self.assertIn("1.000000", self.ok("search", "0,0,0,1"))
        p = self.cli("search", "1,0")  # wrong dimension: the server's error
        self.assertEqual(p.returncode, 1)
        self.assertIn("dimension", p.stderr)
        self.assertEqual(self.cli("search", "1,x,0,0").returncode, 2)

    def test_status_commands(self):
        self.assertEqual(self.json("stats")["reply"], "StatsOk")
        self.assertIn("wal_durable_lsn", self.json("stats", "--all"))
        self.assertTrue(self.json("health")["healthy"])
        self.assertIn("healthy", self.ok("health"))
        info = self.json("info")
        self.assertEqual((info["dimension"], info["limits"]["max_k"]), (4, 1000))
        self.assertIn("dimension", self.ok("info"))

    def test_usage_and_connection_errors(self):
        for args in (("bogus",), ("get",), ("get", "a", "b"), ("path", "a"),
                     ("path", "a", "b", "--max-depth", "x"), ("search", "1,2", "--nope", "1"),
                     ("associate", "a", "b", "--type")):
            p = self.cli(*args)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertTrue(p.stderr)
        p = self.cli("health", port=free_port())
        self.assertEqual(p.returncode, 2)
        self.assertIn("cannot connect", p.stderr)
        self.assertEqual(subprocess.run([CLI, "--help"], capture_output=True).returncode, 0)

    def test_interactive_shell(self):
        script = ('learn "shell text with spaces"\n'
                  "learn hello\n"
                  "get 7ad1e1b0a7f0ae3c\n"
                  "get e037876b880b8ed9\n"
                  "bogus\n"
                  "help\n"
                  "quit\n"
                  "health\n")
        p = self.cli(stdin=script)
        cid = p.stdout.splitlines()[0].strip()
        self.assertRegex(cid, r"^[0-9a-f]{16}$")
        self.assertEqual(p.stdout.splitlines()[1].strip(), "e037876b880b8ed9")
        self.assertIn("not found", p.stderr)
        self.assertIn("content     hello", p.stdout)
        self.assertIn("unknown command", p.stderr)
        self.assertIn("usage:", p.stdout)
        self.assertNotIn("healthy", p.stdout)  # nothing runs after quit
        with open(os.path.join(self.home, ".sutra_history")) as f:
            history = f.read().replace("\\040", " ")  # libedit escapes blanks
        self.assertIn('learn "shell text with spaces"', history)
        self.assertEqual(self.ok("get", cid).count("shell text with spaces"), 1)


class ShellReconnect(ServerTestCase):
    """The shell keeps its connection; after the server's idle timeout has
    closed it, the next command is sent again on a new connection."""

    SERVER_ARGS = ("--idle-timeout-ms", "400")

    def test_command_after_idle_timeout(self):
        if not CLI or not os.path.exists(CLI):
            self.skipTest("SUTRA_CLI is not set to a built sutra-cli")
        home = tempfile.mkdtemp(prefix="sutra-cli-home-")
        self.addCleanup(shutil.rmtree, home, True)
        p = subprocess.Popen([CLI, "--port", str(self.server.port)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, HOME=home))
        p.stdin.write("learn first\n")
        p.stdin.flush()
        time.sleep(1.2)  # three idle timeouts
        out, err = p.communicate("learn second\nquit\n", timeout=30)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(len(out.split()), 2, (out, err))
        with self.server.client() as c:
            self.assertTrue(c.query_concept(out.split()[1])["found"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
