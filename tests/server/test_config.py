"""test_config.py - the server binary's configuration contract.

Bad settings fail fast (exit 2) with a message naming the setting, its value
and the allowed range; --help and --print-config exit 0 and reflect flags and
the Rust server's environment variables; a data directory already served by
another process, a port already taken, and a store created with another
dimension are refused with a clear message while the running server goes on.
"""

import subprocess
import unittest

from serverutil import SERVER, Server


def run(*args, env=None, timeout=20):
    import os
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([SERVER] + list(args), capture_output=True, text=True, env=e,
                          timeout=timeout, stdin=subprocess.DEVNULL)


class Flags(unittest.TestCase):
    def setUp(self):
        if not SERVER:
            raise unittest.SkipTest("SUTRA_SERVER is not set")

    def test_bad_values_exit_2_naming_setting_and_value(self):
        for flag, value, name in (("--port", "70000", "port"),
                                  ("--durability", "sometimes", "durability"),
                                  ("--dimension", "0", "dimension"),
                                  ("--dimension", "4097", "dimension"),
                                  ("--max-frame-bytes", "10", "max_frame_bytes"),
                                  ("--max-frame-bytes", "104857601", "max_frame_bytes"),
                                  ("--response-encoding", "fancy", "response_encoding"),
                                  ("--workers", "0", "workers"),
                                  ("--max-connections", "0", "max_connections"),
                                  ("--idle-timeout-ms", "-5", "idle_timeout_ms")):
            p = run(flag, value, "--data-dir", "/nonexistent/never-created")
            self.assertEqual(p.returncode, 2, (flag, value, p.stderr))
            self.assertIn(name, p.stderr)
            self.assertIn(value, p.stderr)

    def test_unknown_flag(self):
        p = run("--frobnicate", "1")
        self.assertEqual(p.returncode, 2)
        self.assertIn("frobnicate", p.stderr)

    def test_help_and_print_config(self):
        p = run("--help")
        self.assertEqual(p.returncode, 0)
        for flag in ("--host", "--port", "--data-dir", "--durability", "--idle-timeout-ms"):
            self.assertIn(flag, p.stdout)
        p = run("--print-config", "--port", "1234", "--durability", "interval:50",
                "--response-encoding", "named")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = {l.split("=")[0].strip(): l.split("=", 1)[1].strip()
                 for l in p.stdout.splitlines() if "=" in l and not l.startswith("#")}
        self.assertEqual((lines["port"], lines["durability"], lines["response_encoding"],
                          lines["host"]), ("1234", "interval:50", "named", "127.0.0.1"))

    def test_rust_environment_variables(self):
        p = run("--print-config", env={"STORAGE_PORT": "4321", "VECTOR_DIMENSION": "16"})
        self.assertIn("port = 4321", p.stdout)
        self.assertIn("dimension = 16", p.stdout)
        p = run("--print-config", "--port", "99", env={"STORAGE_PORT": "4321"})
        self.assertIn("port = 99", p.stdout)  # flags win


class Refusals(unittest.TestCase):
    def setUp(self):
        self.server = Server().start()
        self.addCleanup(self.server.cleanup)

    def test_data_dir_in_use(self):
        p = run("--port", "0", "--data-dir", self.server.data_dir, "--dimension", "4")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("locked", p.stderr)
        with self.server.client() as c:
            self.assertTrue(c.health_check()["healthy"])

    def test_port_in_use(self):
        p = run("--port", str(self.server.port), "--data-dir", self.server.root + "/other",
                "--dimension", "4")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(str(self.server.port), p.stderr)

    def test_other_dimension(self):
        self.assertEqual(self.server.stop(), 0)
        p = run("--port", "0", "--data-dir", self.server.data_dir, "--dimension", "8")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("dimension", p.stderr)

    def test_restart_keeps_everything(self):
        with self.server.client() as c:
            c.learn_concept("keep", "kept", [1, 2, 3, 4], 2.0, 0.5)
            c.learn_concept("keep2", "kept too")
            c.learn_association("keep", "keep2", 1, 0.25)
        self.assertEqual(self.server.stop(), 0)
        self.server.start()
        with self.server.client() as c:
            g = c.get_concept("keep")
            self.assertEqual((g["content"], g["vector"], g["strength"], g["confidence"]),
                             ("kept", [1.0, 2.0, 3.0, 4.0], 2.0, 0.5))
            n = c.get_neighbors_detailed("keep")["neighbors"]
            self.assertEqual([(x["assoc_type"], x["confidence"], x["direction"]) for x in n],
                             [(1, 0.25, "out")])
            self.assertEqual(c.server_info()["dimension"], 4)


if __name__ == "__main__":
    unittest.main(verbosity=2)
