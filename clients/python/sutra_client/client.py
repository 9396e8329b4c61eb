"""client.py - blocking TCP client of the Sutra MessagePack protocol.

Every message, both directions, is a 4-byte big-endian length followed by that
many bytes of MessagePack. A request with fields is sent as a one-entry map
{VariantName: {field: value}} (or, with request_form="array", as
{VariantName: [values in declared order]}); a unit request is the bare name.
Replies come in two encodings: compact ({VariantName: [fields in order]}, the
Rust server's) and named ({VariantName: {field: value}}); parse_reply() turns
either into (variant, {field: value}) using the declared field orders below,
nested structs included. f32 fields are sent as MessagePack float32.

An Error reply raises SutraError carrying the server's message; a reply the
client cannot read raises SutraProtocolError; socket trouble raises the usual
OSError subclasses (ConnectionError, socket.timeout).
"""

import socket
import struct

import msgpack

__all__ = [
    "SutraClient",
    "SutraError",
    "SutraProtocolError",
    "REQUESTS",
    "RESPONSES",
    "REQUEST_INDEX",
    "encode_request",
    "parse_reply",
    "unpack",
]

# Requests: name -> declared fields (the Rust table keeps its wire index).
REQUESTS = {
    "LearnConceptV2": ("content", "options"),
    "LearnBatch": ("contents", "options"),
    "LearnConcept": ("concept_id", "content", "embedding", "strength", "confidence"),
    "LearnAssociation": ("source_id", "target_id", "assoc_type", "confidence"),
    "QueryConcept": ("concept_id",),
    "GetNeighbors": ("concept_id",),
    "FindPath": ("start_id", "end_id", "max_depth"),
    "VectorSearch": ("query_vector", "k", "ef_search"),
    "FindPathSemantic": ("start_id", "end_id", "filter", "max_depth", "max_paths"),
    "FindTemporalChain": ("domain", "start_time", "end_time"),
    "FindCausalChain": ("start_id", "causal_type", "max_depth"),
    "FindContradictions": ("domain",),
    "QueryBySemantic": ("filter", "limit"),
    "GetStats": (),
    "Flush": (),
    "HealthCheck": (),
    # extensions (names only on the wire)
    "DeleteConcept": ("concept_id",),
    "DeleteAssociation": ("source_id", "target_id", "assoc_type"),
    "GetConcept": ("concept_id",),
    "GetNeighborsDetailed": ("concept_id", "direction", "assoc_type", "limit"),
    "LearnConcepts": ("concepts",),
    "LearnAssociations": ("associations",),
    "Sync": (),
    "Checkpoint": (),
    "ServerInfo": (),
    "StatsExtended": (),
    "SetEncoding": ("named",),
    "VectorSearchFiltered": ("query_vector", "k", "ef_search", "filter"),
    "FindPathEx": ("start_id", "end_id", "query"),
    "FindPaths": ("start_id", "end_id", "query", "max_paths", "k_shortest"),
    "FindBestPath": ("start_id", "end_id", "query"),
    "KHop": ("concept_id", "query", "limit"),
    "HybridSearch": ("query_vector", "k_seeds", "ef_search", "query", "limit"),
}
REQUEST_INDEX = {name: i for i, name in enumerate(list(REQUESTS)[:16])}

LEARN_OPTIONS = (
    "generate_embedding",
    "embedding_model",
    "extract_associations",
    "min_association_confidence",
    "max_associations_per_concept",
    "strength",
    "confidence",
)
SEMANTIC_FILTER = (
    "semantic_type",
    "domain_context",
    "temporal_after",
    "temporal_before",
    "has_causal_relation",
    "min_confidence",
    "required_terms",
)
VECTOR_FILTER = ("meta_key", "meta_value", "reachable_from", "assoc_type", "direction",
                 "max_depth", "ids")
GRAPH_QUERY = ("assoc_type", "direction", "max_depth", "max_visited")
CONCEPT_ITEM = ("concept_id", "content", "vector", "strength", "confidence", "metadata")
ASSOC_ITEM = ("source_id", "target_id", "assoc_type", "confidence")

SEMANTIC_PATH = ("concepts", "confidence", "type_distribution", "domains",
                 "is_temporally_ordered")
CONCEPT_WITH_SEMANTIC = ("concept_id", "content", "semantic_type", "domain", "confidence")
STATS_EXTENDED = (
    "concepts", "associations", "vectors", "content_bytes", "vector_bytes", "meta_bytes",
    "ops_written", "records_written", "ops_dropped", "busy_rejections", "wal_next_lsn",
    "wal_durable_lsn", "wal_segments", "wal_bytes", "wal_fsyncs", "wal_writes",
    "pending_records", "pending_bytes", "checkpoint_lsn", "checkpoints", "checkpoint_bytes",
    "checkpoint_last_us", "recovery_replayed", "recovery_torn_bytes", "recovery_skipped_ops",
    "recovery_us", "read_only", "sticky_error", "sticky_message", "sched_cycles",
    "queue_depth", "queue_ema", "utilization", "interval_ms", "processing_rate",
    "predicted_depth", "estimated_lag_ms", "health_score", "recommendation", "uptime_us",
)

# Responses: name -> declared fields, in the Rust wire-index order first.
RESPONSES = {
    "LearnConceptV2Ok": ("concept_id",),
    "LearnBatchOk": ("concept_ids",),
    "LearnConceptOk": ("sequence",),
    "LearnAssociationOk": ("sequence",),
    "QueryConceptOk": ("found", "concept_id", "content", "strength", "confidence"),
    "GetNeighborsOk": ("neighbor_ids",),
    "FindPathOk": ("found", "path"),
    "VectorSearchOk": ("results",),
    "FindPathSemanticOk": ("paths",),
    "FindTemporalChainOk": ("paths",),
    "FindCausalChainOk": ("paths",),
    "FindContradictionsOk": ("contradictions",),
    "QueryBySemanticOk": ("concepts",),
    "StatsOk": ("concepts", "edges", "vectors", "written", "dropped", "pending",
                "reconciliations", "uptime_seconds"),
    "FlushOk": (),
    "HealthCheckOk": ("healthy", "status", "uptime_seconds"),
    "Error": ("message",),
    # extensions
    "DeleteConceptOk": ("sequence",),
    "DeleteAssociationOk": ("sequence",),
    "GetConceptOk": ("found", "concept_id", "content", "vector", "strength", "confidence",
                     "created_us", "updated_us", "metadata", "out_degree", "in_degree"),
    "GetNeighborsDetailedOk": ("neighbors", "total", "truncated"),
    "LearnConceptsOk": ("concept_ids", "sequence"),
    "LearnAssociationsOk": ("count", "sequence"),
    "SyncOk": ("durable_lsn",),
    "CheckpointOk": ("checkpoint_lsn",),
    "ServerInfoOk": ("version", "protocol_version", "encodings", "response_encoding",
                     "dimension", "durability", "limits"),
    "StatsExtendedOk": STATS_EXTENDED,
    "SetEncodingOk": ("named",),
    "FindPathsOk": ("paths", "truncated"),
    "FindBestPathOk": ("found", "path", "confidence"),
    "KHopOk": ("results", "truncated"),
    "HybridSearchOk": ("results", "truncated"),
}
RESPONSE_BY_INDEX = list(RESPONSES)[:17]

# Nested structs inside replies: (variant, field) -> struct fields of each item.
_NESTED = {
    ("FindPathSemanticOk", "paths"): SEMANTIC_PATH,
    ("FindTemporalChainOk", "paths"): SEMANTIC_PATH,
    ("FindCausalChainOk", "paths"): SEMANTIC_PATH,
    ("QueryBySemanticOk", "concepts"): CONCEPT_WITH_SEMANTIC,
    ("GetNeighborsDetailedOk", "neighbors"): ("concept_id", "assoc_type", "confidence",
                                              "direction"),
    ("KHopOk", "results"): ("concept_id", "depth", "confidence"),
    ("HybridSearchOk", "results"): ("concept_id", "score", "similarity", "path_confidence",
                                    "hops"),
}
_TUPLES = {("VectorSearchOk", "results"), ("FindContradictionsOk", "contradictions")}

DEFAULT_PORT = 50051
MAX_REPLY = 256 << 20


class SutraError(Exception):
    """The server answered Error{message}; .message is its text."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class SutraProtocolError(SutraError):
    """The reply is not valid protocol."""


def _shape(fields, values, form):
    """A struct as a map by field name or an array in declared order."""
    if form == "array":
        return [values[f] for f in fields]
    return {f: values[f] for f in fields}


def encode_request(variant, fields=None, form="map", by_index=False, unit_as_map=False):
    """MessagePack bytes (no frame header) of one request.

    fields: {field: value} in any order (nested structs already shaped, see
    SutraClient). form "map" sends {name: {...}}, "array" {name: [...]};
    by_index uses the Rust wire index for variants 0..15.
    """
    key = REQUEST_INDEX[variant] if by_index and variant in REQUEST_INDEX else variant
    declared = REQUESTS[variant]
    if not declared:
        obj = {key: None} if unit_as_map else key
    else:
        obj = {key: _shape(declared, fields or {}, form)}
    return msgpack.packb(obj, use_bin_type=True, use_single_float=True)


def unpack(payload):
    """Decodes one MessagePack value (strings as str, invalid UTF-8 kept)."""
    return msgpack.unpackb(payload, raw=False, strict_map_key=False,
                           unicode_errors="surrogateescape")


def _struct(value, fields):
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, (list, tuple)) and len(value) == len(fields):
        return dict(zip(fields, value))
    raise SutraProtocolError("expected a struct of %d fields, got %r" % (len(fields), value))


def _nested(variant, field, value):
    sub = _NESTED.get((variant, field))
    if sub is not None and isinstance(value, list):
        return [_struct(v, sub) for v in value]
    if (variant, field) in _TUPLES and isinstance(value, list):
        return [tuple(v) for v in value]
    if field == "limits" and isinstance(value, dict):
        return dict(value)
    return value


def parse_reply(obj):
    """(variant, {field: value}) of a decoded reply in either encoding."""
    if isinstance(obj, (str, int)) and not isinstance(obj, bool):
        key, payload = obj, None
    elif isinstance(obj, dict) and len(obj) == 1:
        key, payload = next(iter(obj.items()))
    else:
        raise SutraProtocolError("not a reply variant: %r" % (obj,))
    if isinstance(key, int) and 0 <= key < len(RESPONSE_BY_INDEX):
        key = RESPONSE_BY_INDEX[key]
    if key not in RESPONSES:
        raise SutraProtocolError("unknown reply variant %r" % (key,))
    declared = RESPONSES[key]
    if payload is None:
        values = {}
    elif isinstance(payload, dict):
        values = dict(payload)
    elif isinstance(payload, list):
        if len(payload) != len(declared):
            raise SutraProtocolError("%s: %d fields, expected %d" %
                                     (key, len(payload), len(declared)))
        values = dict(zip(declared, payload))
    else:
        raise SutraProtocolError("%s: payload is %r" % (key, type(payload).__name__))
    return key, {f: _nested(key, f, v) for f, v in values.items()}


def _options(opts):
    o = {
        "generate_embedding": False,
        "embedding_model": None,
        "extract_associations": False,
        "min_association_confidence": 0.5,
        "max_associations_per_concept": 10,
        "strength": 1.0,
        "confidence": 1.0,
    }
    unknown = set(opts) - set(o)
    if unknown:
        raise TypeError("unknown learn options: %s" % ", ".join(sorted(unknown)))
    o.update(opts)
    return o


def _filter(f):
    o = {
        "semantic_type": None,
        "domain_context": None,
        "temporal_after": None,
        "temporal_before": None,
        "has_causal_relation": False,
        "min_confidence": 0.0,
        "required_terms": [],
    }
    unknown = set(f or {}) - set(o)
    if unknown:
        raise TypeError("unknown filter fields: %s" % ", ".join(sorted(unknown)))
    o.update(f or {})
    return o


def _vector_filter(f):
    """Every VECTOR_FILTER field, None (sent as nil: no condition) where not given."""
    unknown = set(f) - set(VECTOR_FILTER)
    if unknown:
        raise TypeError("unknown vector filter fields: %s" % ", ".join(sorted(unknown)))
    o = dict.fromkeys(VECTOR_FILTER)
    o.update(f)
    if o["ids"] is not None:
        o["ids"] = list(o["ids"])
    return o


def _graph_query(q):
    """Every GRAPH_QUERY field, None (sent as nil: the server's default) where not given."""
    unknown = set(q) - set(GRAPH_QUERY)
    if unknown:
        raise TypeError("unknown graph query fields: %s" % ", ".join(sorted(unknown)))
    o = dict.fromkeys(GRAPH_QUERY)
    o.update(q)
    return o


class SutraClient:
    """One connection to a Sutra server.

    encoding: "compact" (the server's default) or "named"; "named" sends
    SetEncoding{named: true} after connecting. request_form: "map" or "array"
    (how request payloads are shaped). Use as a context manager or call close().
    """

    def __init__(self, host="127.0.0.1", port=DEFAULT_PORT, timeout=10.0, encoding="compact",
                 request_form="map"):
        if encoding not in ("compact", "named"):
            raise ValueError("encoding must be 'compact' or 'named'")
        if request_form not in ("map", "array"):
            raise ValueError("request_form must be 'map' or 'array'")
        self.request_form = request_form
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = bytearray()
        if encoding == "named":
            self.set_encoding(True)

    # ---- plumbing ----

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_frame(self, payload):
        """Sends one frame carrying payload (bytes) as is."""
        self.sock.sendall(struct.pack(">I", len(payload)) + payload)

    def _read_exact(self, n):
        while len(self._buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self._buf)))
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self._buf += chunk
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def recv_frame(self):
        """The payload (bytes) of the next reply frame."""
        (n,) = struct.unpack(">I", self._read_exact(4))
        if n > MAX_REPLY:
            raise SutraProtocolError("reply of %d bytes is too large" % n)
        return self._read_exact(n)

    def send(self, variant, **fields):
        """Sends one request without waiting (pipelining: send many, then recv many)."""
        self.send_frame(encode_request(variant, fields, self.request_form))

    def recv(self):
        """(variant, fields) of the next reply; raises SutraError on Error."""
        variant, fields = parse_reply(unpack(self.recv_frame()))
        if variant == "Error":
            raise SutraError(fields.get("message", ""))
        return variant, fields

    def call(self, variant, **fields):
        """One round trip: (variant, fields) of the reply."""
        self.send(variant, **fields)
        return self.recv()

    def _expect(self, want, variant, **fields):
        got, values = self.call(variant, **fields)
        if got != want:
            raise SutraProtocolError("%s answered %s, expected %s" % (variant, got, want))
        return values

    def _shape(self, fields, values):
        return _shape(fields, values, self.request_form)

    # ---- the Rust requests ----

    def learn_concept_v2(self, content, **options):
        """Learns content under its content-hash id; returns the 16-hex-char id."""
        opts = self._shape(LEARN_OPTIONS, _options(options))
        return self._expect("LearnConceptV2Ok", "LearnConceptV2", content=content,
                            options=opts)["concept_id"]

    def learn_batch(self, contents, **options):
        """Learns many contents; returns their ids in input order."""
        opts = self._shape(LEARN_OPTIONS, _options(options))
        return self._expect("LearnBatchOk", "LearnBatch", contents=list(contents),
                            options=opts)["concept_ids"]

    def learn_concept(self, concept_id, content, embedding=None, strength=1.0,
                      confidence=1.0):
        """Learns a concept under a client id; returns the write's sequence number."""
        return self._expect("LearnConceptOk", "LearnConcept", concept_id=concept_id,
                            content=content, embedding=list(embedding or []),
                            strength=strength, confidence=confidence)["sequence"]

    def learn_association(self, source_id, target_id, assoc_type=0, confidence=1.0):
        return self._expect("LearnAssociationOk", "LearnAssociation", source_id=source_id,
                            target_id=target_id, assoc_type=assoc_type,
                            confidence=confidence)["sequence"]

    def query_concept(self, concept_id):
        """{found, concept_id, content, strength, confidence}."""
        return self._expect("QueryConceptOk", "QueryConcept", concept_id=concept_id)

    def get_neighbors(self, concept_id):
        return self._expect("GetNeighborsOk", "GetNeighbors",
                            concept_id=concept_id)["neighbor_ids"]

    def find_path(self, start_id, end_id, max_depth=6):
        """The path as a list of ids, or None when there is none."""
        r = self._expect("FindPathOk", "FindPath", start_id=start_id, end_id=end_id,
                         max_depth=max_depth)
        return r["path"] if r["found"] else None

    def vector_search(self, query_vector, k=10, ef_search=64):
        """[(concept_id, similarity)], best first."""
        return self._expect("VectorSearchOk", "VectorSearch", query_vector=list(query_vector),
                            k=k, ef_search=ef_search)["results"]

    def find_path_semantic(self, start_id, end_id, filter=None, max_depth=6, max_paths=10):
        return self._expect("FindPathSemanticOk", "FindPathSemantic", start_id=start_id,
                            end_id=end_id, filter=self._shape(SEMANTIC_FILTER, _filter(filter)),
                            max_depth=max_depth, max_paths=max_paths)["paths"]

    def find_temporal_chain(self, domain=None, start_time=0, end_time=2**62):
        return self._expect("FindTemporalChainOk", "FindTemporalChain", domain=domain,
                            start_time=start_time, end_time=end_time)["paths"]

    def find_causal_chain(self, start_id, causal_type="causes", max_depth=6):
        return self._expect("FindCausalChainOk", "FindCausalChain", start_id=start_id,
                            causal_type=causal_type, max_depth=max_depth)["paths"]

    def find_contradictions(self, domain):
        return self._expect("FindContradictionsOk", "FindContradictions",
                            domain=domain)["contradictions"]

    def query_by_semantic(self, filter=None, limit=None):
        return self._expect("QueryBySemanticOk", "QueryBySemantic",
                            filter=self._shape(SEMANTIC_FILTER, _filter(filter)),
                            limit=limit)["concepts"]

    def get_stats(self):
        return self._expect("StatsOk", "GetStats")

    def flush(self):
        self._expect("FlushOk", "Flush")

    def health_check(self):
        """{healthy, status, uptime_seconds}."""
        return self._expect("HealthCheckOk", "HealthCheck")

    # ---- extensions ----

    def delete_concept(self, concept_id):
        return self._expect("DeleteConceptOk", "DeleteConcept",
                            concept_id=concept_id)["sequence"]

    def delete_association(self, source_id, target_id, assoc_type=0):
        return self._expect("DeleteAssociationOk", "DeleteAssociation", source_id=source_id,
                            target_id=target_id, assoc_type=assoc_type)["sequence"]

    def get_concept(self, concept_id):
        """Every stored field, or None when the concept does not exist."""
        r = self._expect("GetConceptOk", "GetConcept", concept_id=concept_id)
        return r if r.get("found") else None

    def get_neighbors_detailed(self, concept_id, direction="both", assoc_type=None, limit=0):
        """{neighbors: [{concept_id, assoc_type, confidence, direction}], total, truncated}."""
        return self._expect("GetNeighborsDetailedOk", "GetNeighborsDetailed",
                            concept_id=concept_id, direction=direction,
                            assoc_type=assoc_type, limit=limit)

    def learn_concepts(self, concepts):
        """Atomically learns dicts with concept_id, content and optionally vector,
        strength, confidence, metadata. Returns {concept_ids, sequence}."""
        items = []
        for c in concepts:
            item = {"vector": None, "strength": 1.0, "confidence": 1.0, "metadata": {}}
            item.update(c)
            items.append(self._shape(CONCEPT_ITEM, item))
        return self._expect("LearnConceptsOk", "LearnConcepts", concepts=items)

    def learn_associations(self, associations):
        """Atomically learns dicts with source_id, target_id and optionally
        assoc_type, confidence. Returns {count, sequence}."""
        items = []
        for a in associations:
            item = {"assoc_type": 0, "confidence": 1.0}
            item.update(a)
            items.append(self._shape(ASSOC_ITEM, item))
        return self._expect("LearnAssociationsOk", "LearnAssociations", associations=items)

    def sync(self):
        return self._expect("SyncOk", "Sync")["durable_lsn"]

    def checkpoint(self):
        return self._expect("CheckpointOk", "Checkpoint")["checkpoint_lsn"]

    def server_info(self):
        return self._expect("ServerInfoOk", "ServerInfo")

    def stats_extended(self):
        return self._expect("StatsExtendedOk", "StatsExtended")

    def vector_search_filtered(self, query_vector, k=10, ef_search=64, **filter):
        """vector_search restricted by conditions that must all hold, given by their
        wire names: meta_key and meta_value (together), ids (a list), reachable_from
        with optional assoc_type (None: any), direction ("out", "in", "both") and
        max_depth (1..20). [(concept_id, similarity)], best first."""
        return self._expect("VectorSearchOk", "VectorSearchFiltered",
                            query_vector=list(query_vector), k=k, ef_search=ef_search,
                            filter=self._shape(VECTOR_FILTER, _vector_filter(filter)))["results"]

    # ---- graph queries (extensions) ----
    #
    # The keyword arguments **query are the GraphQuery fields: assoc_type (0..4,
    # None: any), direction ("out", "in", "both"; default both), max_depth (0..20;
    # default 20, hybrid_search 2) and max_visited (the visit budget, 1..2,000,000;
    # default 1,000,000).

    def _query(self, query):
        return self._shape(GRAPH_QUERY, _graph_query(query))

    def find_path_ex(self, start_id, end_id, **query):
        """The shortest path (fewest hops) over the associations query allows, as a
        list of ids, or None when there is none."""
        r = self._expect("FindPathOk", "FindPathEx", start_id=start_id, end_id=end_id,
                         query=self._query(query))
        return r["path"] if r["found"] else None

    def find_paths(self, start_id, end_id, max_paths=10, k_shortest=False, **query):
        """{paths: [[id, ...]], truncated}: every shortest path (at most max_paths);
        with k_shortest, then further simple paths by increasing length."""
        return self._expect("FindPathsOk", "FindPaths", start_id=start_id, end_id=end_id,
                            query=self._query(query), max_paths=max_paths,
                            k_shortest=bool(k_shortest))

    def find_best_path(self, start_id, end_id, **query):
        """(path, confidence) of the path whose confidences have the greatest
        product (within max_depth hops), or None when there is no path."""
        r = self._expect("FindBestPathOk", "FindBestPath", start_id=start_id, end_id=end_id,
                         query=self._query(query))
        return (r["path"], r["confidence"]) if r["found"] else None

    def khop(self, concept_id, limit=1000, **query):
        """{results: [{concept_id, depth, confidence}], truncated}: the concepts within
        max_depth hops, nearest first (the start excluded)."""
        return self._expect("KHopOk", "KHop", concept_id=concept_id, query=self._query(query),
                            limit=limit)

    def hybrid_search(self, query_vector, k_seeds=10, ef_search=64, limit=100, **query):
        """{results: [{concept_id, score, similarity, path_confidence, hops}], truncated}:
        the k_seeds nearest vectors expanded max_depth hops (default 2) through the
        graph, best score first."""
        return self._expect("HybridSearchOk", "HybridSearch", query_vector=list(query_vector),
                            k_seeds=k_seeds, ef_search=ef_search, query=self._query(query),
                            limit=limit)

    def set_encoding(self, named):
        """Switches this connection's replies to named (True) or compact form."""
        return self._expect("SetEncodingOk", "SetEncoding", named=bool(named))["named"]
