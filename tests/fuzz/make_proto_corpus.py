#!/usr/bin/python3
"""make_proto_corpus.py - writes the seed corpus of fuzz_proto (protocol requests).

Usage: make_proto_corpus.py OUTDIR [FILE...]   (Debian's python3-msgpack)

fuzz_proto decodes each input whole and also as a stream of frames (4-byte
big-endian length + payload), so requests are grouped into a few framed
files: seed-valid (one request per variant in the shapes clients send: map
by field name, array in field order, index key, bin strings, float32
vectors; the unit variants in each form) and seed-broken (truncated,
unknown variant, wrong types, a limit one past, a huge declared count, deep
nesting). A few single payloads are written raw (seed-raw-*) for libFuzzer
to mutate directly. With FILE arguments (e.g. the inputs a fuzzing run
found, after a merge), those are packed as frames into OUTDIR/fuzz-found.
"""
import os
import struct
import sys

import msgpack


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True, use_single_float=True)


OPTS = {"generate_embedding": False, "embedding_model": None, "extract_associations": True,
        "min_association_confidence": 0.5, "max_associations_per_concept": 10,
        "strength": 1.0, "confidence": 0.9}
OPTS_ARR = [False, "m", False, 0.5, 10, 1.0, 1.0]
ITEM = {"concept_id": "c1", "content": "hello", "vector": [0.1, 0.2, 0.3], "strength": 1,
        "confidence": 0.75, "metadata": {"lang": "en", "src": "wiki"}}
FILTER = {"semantic_type": "rule", "domain_context": None, "temporal_after": -5,
          "temporal_before": None, "has_causal_relation": True, "min_confidence": 0.2,
          "required_terms": ["a", "b"]}

SEEDS = {
    "v2-map": {"LearnConceptV2": {"content": "The Eiffel Tower is in Paris", "options": OPTS}},
    "v2-array": {"LearnConceptV2": ["hello", OPTS_ARR]},
    "v2-index": {0: {"content": b"bin content"}},
    "batch-map": {"LearnBatch": {"contents": ["a", "bb", ""], "options": OPTS}},
    "batch-array": {"LearnBatch": [["x", "y"], OPTS_ARR]},
    "learn-map": {"LearnConcept": {"concept_id": "00ff", "content": "c",
                                   "embedding": [1.0, 2, -3.5], "strength": 1,
                                   "confidence": 0.5}},
    "learn-array": {"LearnConcept": ["concept_1", "c", [], 1.0, 1.0]},
    "assoc-map": {"LearnAssociation": {"source_id": "a", "target_id": "b", "assoc_type": 1,
                                       "confidence": 0.8}},
    "assoc-index": {3: ["a", "b", 4, 1]},
    "query": {"QueryConcept": {"concept_id": "e037876b880b8ed9"}},
    "query-index": {4: ["abc"]},
    "neighbors": {"GetNeighbors": {"concept_id": "abc"}},
    "path": {"FindPath": {"start_id": "a", "end_id": "b", "max_depth": 20}},
    "search": {"VectorSearch": {"query_vector": [0.5, 0.25], "k": 10, "ef_search": 64}},
    "search-array": {7: [[1, 2, 3], 1000, 0]},
    "path-semantic": {"FindPathSemantic": {"start_id": "a", "end_id": "b", "filter": FILTER,
                                           "max_depth": 3, "max_paths": 2}},
    "temporal": {"FindTemporalChain": {"domain": None, "start_time": 0, "end_time": 2**40}},
    "causal": {"FindCausalChain": ["a", "causes", 5]},
    "contradictions": {"FindContradictions": {"domain": "physics"}},
    "query-semantic": {"QueryBySemantic": {"filter": list(FILTER.values()), "limit": None}},
    "stats": "GetStats",
    "stats-index": 13,
    "flush-nil": {"Flush": None},
    "health-index-nil": {15: None},
    "delete": {"DeleteConcept": {"concept_id": "abc"}},
    "delete-assoc": {"DeleteAssociation": ["a", "b", 2]},
    "get": {"GetConcept": ["abc"]},
    "neighbors-detailed": {"GetNeighborsDetailed": {"concept_id": "a", "direction": "in",
                                                    "assoc_type": None, "limit": 5}},
    "concepts": {"LearnConcepts": {"concepts": [ITEM, ["c2", "x", None, 1, 1, None]]}},
    "associations": {"LearnAssociations": {"associations": [
        {"source_id": "a", "target_id": "b", "assoc_type": 0}, ["b", "c", 3, 0.5]]}},
    "sync": "Sync",
    "checkpoint": {"Checkpoint": None},
    "server-info": "ServerInfo",
    "stats-extended": "StatsExtended",
    "set-encoding": {"SetEncoding": {"named": True}},
    "search-filtered": {"VectorSearchFiltered": {
        "query_vector": [0.5, 0.25], "k": 10, "ef_search": 64,
        "filter": {"meta_key": "lang", "meta_value": "en", "reachable_from": "a",
                   "assoc_type": 3, "direction": "out", "max_depth": 20,
                   "ids": ["a", "b", b"c"]}}},
    "search-filtered-array": {"VectorSearchFiltered": [[1, 2], 5, None,
                                                       [None, None, "a", None, None, 2, []]]},
    "search-filtered-none": {"VectorSearchFiltered": {"query_vector": [1.0], "k": 1,
                                                      "filter": None}},
    "path-ex": {"FindPathEx": {"start_id": "a", "end_id": "b", "query": {
        "assoc_type": 1, "direction": "out", "max_depth": 20, "max_visited": 10000000}}},
    "path-ex-array": {"FindPathEx": ["a", "b", [None, "in", 0, None]]},
    "path-ex-none": {"FindPathEx": {"start_id": "a", "end_id": b"b"}},
    "paths": {"FindPaths": {"start_id": "a", "end_id": "b", "query": None, "max_paths": 1000,
                            "k_shortest": True}},
    "paths-array": {"FindPaths": ["a", "b", {"max_depth": 3}, 1, False]},
    "best-path": {"FindBestPath": {"start_id": "a", "end_id": "b",
                                   "query": {"direction": "both", "max_visited": 1}}},
    "khop": {"KHop": {"concept_id": "a", "query": {"max_depth": 2}, "limit": 100000}},
    "khop-array": {"KHop": ["a", None, None]},
    "hybrid": {"HybridSearch": {"query_vector": [0.5, 0.25], "k_seeds": 1000, "ef_search": 64,
                                "query": {"assoc_type": 0, "direction": "out", "max_depth": 2},
                                "limit": 10000}},
    "hybrid-array": {"HybridSearch": [[1, 2], None, None, None, None]},
    "bad-unknown": {"Nope": None},
    "bad-type": {"LearnAssociation": ["a", "b", 9, 1.0]},
    "bad-k": {"VectorSearch": [[1.0], 1001, 0]},
    "bad-missing": {"LearnConcept": {"content": "x"}},
    "bad-length": {"FindPath": ["a", "b"]},
    "bad-meta-key": {"LearnConcepts": [[["c", "x", None, 1, 1, {"": "v"}]]]},
    "bad-filter-half-meta": {"VectorSearchFiltered": {"query_vector": [1.0], "k": 1,
                                                      "filter": {"meta_key": "k"}}},
    "bad-filter-depth-0": {"VectorSearchFiltered": [[1.0], 1, 0,
                                                    {"reachable_from": "a", "max_depth": 0}]},
    "bad-filter-no-start": {"VectorSearchFiltered": [[1.0], 1, 0, {"direction": "in"}]},
    "bad-filter-ids": {"VectorSearchFiltered": [[1.0], 1, 0, {"ids": ["x"] * 4}]},
    "bad-graph-depth": {"FindPathEx": ["a", "b", {"max_depth": 21}]},
    "bad-graph-visited": {"KHop": {"concept_id": "a", "query": {"max_visited": 10000001}}},
    "bad-graph-visited-0": {"FindBestPath": ["a", "b", {"max_visited": 0}]},
    "bad-graph-direction": {"FindBestPath": ["a", "b", {"direction": "up"}]},
    "bad-graph-query-length": {"FindPathEx": ["a", "b", [1, "out", 2]]},
    "bad-paths-0": {"FindPaths": ["a", "b", None, 0, False]},
    "bad-khop-limit": {"KHop": ["a", None, 100001]},
    "bad-hybrid-k-seeds": {"HybridSearch": {"query_vector": [1.0], "k_seeds": 1001}},
    "bad-hybrid-limit": {"HybridSearch": {"query_vector": [1.0], "limit": 10001}},
}


def framed(payloads):
    return b"".join(struct.pack(">I", len(p)) + p for p in payloads)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    files = {name: pack(obj) for name, obj in SEEDS.items()}
    files["bad-truncated"] = files["concepts"][:-7]
    files["bad-trailing"] = files["query"] + b"\xc1\xc1"
    files["bad-huge-count"] = pack({"VectorSearch": {"query_vector": 0}})[:-1] + \
        b"\xdd\xff\xff\xff\xff"
    files["bad-deep"] = (b"\x81" + pack("QueryConcept") + b"\x82" + pack("concept_id") +
                         pack("a") + pack("x") + b"\x91" * 40 + b"\xc0")
    files["bad-float64-vector"] = b"\x81" + pack("VectorSearch") + b"\x93\x92" + \
        b"\xcb" + struct.pack(">d", 0.5) + b"\xcb" + struct.pack(">d", -1e300) + b"\x05\xc0"
    out_files = {
        "seed-valid": framed(v for k, v in files.items() if not k.startswith("bad-")),
        "seed-broken": framed(v for k, v in files.items() if k.startswith("bad-")),
    }
    for name in ("concepts", "v2-map", "search-array", "stats-index", "bad-deep",
                 "search-filtered", "path-ex", "hybrid"):
        out_files["seed-raw-" + name] = files[name]
    if len(sys.argv) > 2:
        found = []
        for path in sorted(sys.argv[2:]):
            with open(path, "rb") as f:
                found.append(f.read())
        out_files["fuzz-found"] = framed(found)
    for name, data in out_files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
