"""test_wire.py - the bytes on the wire: compact fixtures, content-hash ids and
lenient request decoding, against the live server.

The fixtures are the Rust server's reply bytes (SEED-PROTOCOL.md); a client
written for it must read ours unchanged, so these compare whole payloads
byte for byte. The leniency matrix sends one request in every form the Rust
server accepted (map or array payload, name or index key, unit variants as
bare name, {name: nil} or bare index, bin strings, integers and float64 for
f32 fields, unknown keys, trailing bytes) and checks that each one did the
same thing.
"""

import unittest

import msgpack

from serverutil import ServerTestCase, ask, pack, reply_of, roundtrip_raw, unpack


def fstr(s):
    b = s.encode()
    assert len(b) < 32
    return bytes([0xA0 | len(b)]) + b


class Fixtures(ServerTestCase):
    """Byte-exact compact replies on a fresh server (its own data directory)."""

    def test_learn_concept_ok_sequence_5(self):
        with self.server.raw() as s:
            for i in range(1, 6):
                got = roundtrip_raw(s, pack({"LearnConcept": {
                    "concept_id": "seq%d" % i, "content": "c", "embedding": [],
                    "strength": 1.0, "confidence": 1.0}}))
            # the fifth write of a fresh store: LearnConceptOk{sequence: 5}
            self.assertEqual(got.hex(), (b"\x81" + fstr("LearnConceptOk") + b"\x91\x05").hex())

    def test_query_concept_ok(self):
        # The fixture's layout; the id is what the Rust server put there for
        # "ab": ConceptId::from_string("ab").to_hex(), 32 hex characters (str8).
        with self.server.raw() as s:
            ask(s, {"LearnConcept": {"concept_id": "ab", "content": "x", "embedding": [],
                                     "strength": 1.0, "confidence": 0.5}})
            got = roundtrip_raw(s, pack({"QueryConcept": {"concept_id": "ab"}}))
        hex_id = b"\xd9\x20ab" + b"0" * 30
        want = (b"\x81" + fstr("QueryConceptOk") + b"\x95\xc3" + hex_id + fstr("x") +
                bytes.fromhex("ca3f800000ca3f000000"))
        self.assertEqual(got.hex(), want.hex())

    def test_query_concept_not_found(self):
        with self.server.raw() as s:
            got = roundtrip_raw(s, pack({"QueryConcept": {"concept_id": "ffee"}}))
        want = (b"\x81" + fstr("QueryConceptOk") + b"\x95\xc2" + fstr("") + fstr("") +
                bytes.fromhex("ca00000000ca00000000"))
        self.assertEqual(got.hex(), want.hex())

    def test_flush_ok(self):
        with self.server.raw() as s:
            self.assertEqual(roundtrip_raw(s, pack("Flush")), b"\xa7FlushOk")

    def test_error_bytes(self):
        msg = "k too large: 1001 (max: 1000)"
        with self.server.raw() as s:
            got = roundtrip_raw(s, pack({"VectorSearch": {
                "query_vector": [0.0, 0.0, 0.0, 1.0], "k": 1001, "ef_search": 10}}))
        self.assertEqual(got.hex(), (b"\x81\xa5Error\x91" + msgpack.packb(msg)).hex())

    def test_vector_search_ok_shape(self):
        with self.server.raw() as s:
            ask(s, {"LearnConcept": {"concept_id": "abcd", "content": "v",
                                     "embedding": [0.0, 0.0, 1.0, 0.0],
                                     "strength": 1.0, "confidence": 1.0}})
            got = roundtrip_raw(s, pack({"VectorSearch": {
                "query_vector": [0.0, 0.0, 1.0, 0.0], "k": 1, "ef_search": 10}}))
        head = b"\x81" + fstr("VectorSearchOk") + b"\x91\x91\x92"
        self.assertEqual(got[:len(head)].hex(), head.hex())
        hit = unpack(got)["VectorSearchOk"][0][0]
        self.assertEqual(hit, ["abcd" + "0" * 28, 1.0])
        self.assertEqual(got[-5], 0xCA)  # similarity as float32

    def test_health_and_stats_compact_shapes(self):
        with self.server.raw() as s:
            h = unpack(roundtrip_raw(s, pack("HealthCheck")))["HealthCheckOk"]
            st = unpack(roundtrip_raw(s, pack("GetStats")))["StatsOk"]
        self.assertEqual(len(h), 3)
        self.assertIs(h[0], True)
        self.assertEqual(len(st), 8)
        self.assertTrue(all(isinstance(v, int) and v >= 0 for v in st))


class Utf8(ServerTestCase):
    """A MessagePack str must hold UTF-8: content that is not UTF-8 is either
    refused (as the Rust server did: its String fields rejected it) or
    answered as valid UTF-8 (its QueryConcept used from_utf8_lossy); a reply
    a strict decoder cannot read breaks every Rust-compatible client."""

    def test_non_utf8_content(self):
        with self.server.raw() as s:
            variant, _ = ask(s, {"LearnConcept": {"concept_id": "bad-utf8",
                                                  "content": b"\xff\xfe ok \xc3",
                                                  "embedding": [], "strength": 1.0,
                                                  "confidence": 1.0}})
            if variant == "Error":
                return
            for req in ({"QueryConcept": {"concept_id": "bad-utf8"}},
                        {"GetConcept": {"concept_id": "bad-utf8"}}):
                raw = roundtrip_raw(s, pack(req))
                try:
                    msgpack.unpackb(raw, raw=False)  # strict UTF-8 for str
                except UnicodeDecodeError as e:
                    self.fail("%s reply has a str that is not UTF-8: %s" % (req, e))

    def test_utf8_round_trip(self):
        text = "caf\u00e9 \u4e2d\u6587 \U0001f600 a\x00b"
        with self.server.client() as c:
            cid = c.learn_concept_v2(text)
            self.assertEqual(c.query_concept(cid)["content"], text)
            self.assertEqual(c.get_concept(cid)["content"], text)


class ContentHashIds(ServerTestCase):
    VECTORS = {"hello": "e037876b880b8ed9",
               "The Eiffel Tower is in Paris": "9e1a612bb9146168",
               "": "30406ea523c53def"}

    def test_seed_vectors(self):
        with self.server.client() as c:
            for text, want in self.VECTORS.items():
                self.assertEqual(c.learn_concept_v2(text), want, text)
                q = c.query_concept(want)
                self.assertEqual((q["found"], q["content"]), (True, text))
                self.assertTrue(c.query_concept(want + "0" * 16)["found"])

    def test_batch_uses_the_same_ids(self):
        with self.server.client() as c:
            texts = list(self.VECTORS)
            self.assertEqual(c.learn_batch(texts), [self.VECTORS[t] for t in texts])

    def test_identical_content_is_one_concept(self):
        with self.server.client() as c:
            before = c.get_stats()["concepts"]
            a = c.learn_concept_v2("same text twice", strength=1.0)
            b = c.learn_concept_v2("same text twice", strength=2.0)
            self.assertEqual(a, b)
            self.assertEqual(c.get_stats()["concepts"], before + 1)
            self.assertEqual(c.query_concept(a)["strength"], 2.0)
            self.assertNotEqual(c.learn_concept_v2("same text thrice"), a)


class Lenient(ServerTestCase):
    """Every accepted request form does the same thing."""

    LEARN_FIELDS = ("concept_id", "content", "embedding", "strength", "confidence")

    def learn_forms(self, cid):
        v = {"concept_id": cid, "content": "lenient " + cid, "embedding": [1, 0, 0, 0],
             "strength": 2, "confidence": 0.5}
        arr = [v[f] for f in self.LEARN_FIELDS]
        bin_v = {k.encode(): (x.encode() if isinstance(x, str) else x) for k, x in v.items()}
        return {
            "map-by-name": pack({"LearnConcept": v}),
            "array-by-name": pack({"LearnConcept": arr}),
            "map-by-index": pack({2: v}),
            "array-by-index": pack({2: arr}),
            "bin-strings": pack({b"LearnConcept": bin_v}),
            "float64": pack({"LearnConcept": dict(v, strength=2.0)}, single_float=False),
            "unknown-keys": pack({"LearnConcept": dict(v, extra={"x": [1, 2]}, more=None)}),
            "trailing-bytes": pack({"LearnConcept": v}) + b"\xc1\xff trailing",
        }

    def test_learn_concept_forms(self):
        with self.server.raw() as s, self.server.client() as c:
            for form in self.learn_forms("x"):
                cid = "lenient-" + form
                variant, fields = ask_bytes(s, self.learn_forms(cid)[form])
                self.assertEqual(variant, "LearnConceptOk", (form, fields))
                q = c.query_concept(cid)
                self.assertEqual((q["found"], q["content"], q["strength"], q["confidence"]),
                                 (True, "lenient " + cid, 2.0, 0.5), form)

    def test_unit_variant_forms(self):
        with self.server.raw() as s:
            for obj in ("HealthCheck", {"HealthCheck": None}, 15, {15: None}, b"HealthCheck",
                        {"HealthCheck": []}, {"HealthCheck": {}}):
                self.assertEqual(ask(s, obj)[0], "HealthCheckOk", obj)
            self.assertEqual(ask(s, 13)[0], "StatsOk")
            self.assertEqual(ask(s, 14)[0], "FlushOk")

    def test_optional_fields_may_be_missing(self):
        with self.server.raw() as s, self.server.client() as c:
            variant, fields = ask(s, {"LearnConceptV2": {"content": "no options"}})
            self.assertEqual(variant, "LearnConceptV2Ok")
            q = c.query_concept(fields["concept_id"])
            self.assertEqual((q["content"], q["strength"], q["confidence"]),
                             ("no options", 1.0, 1.0))
            variant, fields = ask(s, {"GetNeighborsDetailed": {"concept_id": "ab"}})
            self.assertEqual((variant, fields["total"]), ("GetNeighborsDetailedOk", 0))
            variant, _ = ask(s, {"LearnConcepts": {"concepts": [{"concept_id": "opt1",
                                                                  "content": "bare item"}]}})
            self.assertEqual(variant, "LearnConceptsOk")
            g = c.get_concept("opt1")
            self.assertEqual((g["content"], g["vector"], g["strength"], g["confidence"],
                              g["metadata"]), ("bare item", None, 1.0, 1.0, {}))

    def test_field_index_keys_and_duplicates(self):
        with self.server.raw() as s, self.server.client() as c:
            v = ask(s, {"LearnConcept": {0: "by-index", 1: "field indexes", 3: 2.0}})
            self.assertEqual(v[0], "LearnConceptOk", v)
            q = c.query_concept("by-index")
            self.assertEqual((q["content"], q["strength"]), ("field indexes", 2.0))
            dup = (b"\x81" + pack("QueryConcept") + b"\x82" + pack("concept_id") + pack("a") +
                   pack("concept_id") + pack("b"))
            self.assert_error(ask_bytes(s, dup))
            self.assert_alive(s)

    def test_number_ranges(self):
        with self.server.raw() as s:
            big = {"LearnConcept": {"concept_id": "r", "content": "r", "strength": 1e300}}
            self.assert_error(ask(s, big))
            fp = {"FindPath": {"start_id": "a", "end_id": "b", "max_depth": 2 ** 32 - 1}}
            self.assertEqual(ask(s, fp), ("Error", {"message":
                                                    "Path depth too large: 4294967295 (max: 20)"}))
            fp["FindPath"]["max_depth"] = 2 ** 32
            self.assertIn("u32", self.assert_error(ask(s, fp)))

    def test_missing_required_field_is_an_error(self):
        with self.server.raw() as s:
            msg = self.assert_error(ask(s, {"QueryConcept": {}}))
            self.assertIn("concept_id", msg)
            self.assert_error(ask(s, {"FindPath": {"start_id": "a", "end_id": "b"}}))
            self.assert_alive(s)

    def test_array_payload_must_have_exact_length(self):
        with self.server.raw() as s:
            self.assert_error(ask(s, {"QueryConcept": []}))
            self.assert_error(ask(s, {"QueryConcept": ["ab", "extra"]}))
            self.assert_error(ask(s, {"FindPath": ["a", "b"]}))
            self.assertEqual(ask(s, {"QueryConcept": ["ab"]})[0], "QueryConceptOk")

    def test_variant_names_are_case_sensitive(self):
        with self.server.raw() as s:
            self.assert_error(ask(s, "healthcheck"))
            self.assert_error(ask(s, {"queryConcept": {"concept_id": "ab"}}))
            self.assert_alive(s)

    def test_nested_structs_as_arrays(self):
        opts = [False, None, False, 0.5, 10, 3, 0.25]
        with self.server.raw() as s, self.server.client() as c:
            variant, fields = ask(s, {"LearnConceptV2": ["array options", opts]})
            self.assertEqual(variant, "LearnConceptV2Ok")
            q = c.query_concept(fields["concept_id"])
            self.assertEqual((q["strength"], q["confidence"]), (3.0, 0.25))
            item = ["arr1", "array item", [0, 0, 1, 0], 2, 0.5, {"k": "v"}]
            self.assertEqual(ask(s, {"LearnConcepts": [[item]]})[0], "LearnConceptsOk")
            g = c.get_concept("arr1")
            self.assertEqual((g["content"], g["vector"], g["strength"], g["metadata"]),
                             ("array item", [0.0, 0.0, 1.0, 0.0], 2.0, {"k": "v"}))
            assoc = ["arr1", fields["concept_id"], 3, 0.75]
            self.assertEqual(ask(s, {"LearnAssociations": [[assoc]]})[1]["count"], 1)
            n = c.get_neighbors_detailed("arr1", "out")["neighbors"]
            self.assertEqual([(x["assoc_type"], x["confidence"]) for x in n], [(3, 0.75)])


def ask_bytes(sock, payload):
    return reply_of(roundtrip_raw(sock, payload))


if __name__ == "__main__":
    unittest.main(verbosity=2)
