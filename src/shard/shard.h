/* shard.h - routing concepts to shards, and the header of a sharded
 * store's WAL records.
 *
 * A sharded store keeps one in-memory graph and one WAL per shard
 * (shard_NNNN/). Every write gets a global sequence number (gsn) under the
 * engine's writer lock, so the logs together are one ordered history that
 * recovery merges back by gsn. A write whose operations all route to one
 * shard is one record in that shard's log; a write that spans shards is a
 * two-phase-commit transaction whose id is its gsn:
 *
 *   PREPARE  in every participant's log, all made durable at once (the
 *            coordinator's carries the ops and, like every PREPARE, names
 *            the participants). A participant that cannot queue its PREPARE
 *            within txn_timeout_ms aborts the write before it is applied.
 *            The decision is durable when the last PREPARE is: a
 *            transaction whose PREPAREs are all on disk is committed, one
 *            missing any is aborted. The write is acknowledged then, after
 *            one round of (parallel) fdatasyncs instead of two.
 *   COMMIT   in the coordinator's log, not synced: the decision written out,
 *            so recovery need not look for the PREPAREs
 *   APPLIED  in every participant's log (the apply step: participants learn
 *            the outcome), not synced
 *   END      in the coordinator's log (clean-up: nothing depends on the
 *            transaction any more), not synced
 *   ABORT    in the coordinator's log when a participant could not prepare,
 *            or at recovery for a transaction found without every PREPARE
 *
 * A COMMIT can only exist once every PREPARE was durable, so a COMMIT beside
 * a missing PREPARE is corruption; so is an ABORT beside a full set.
 *
 * Record payload in a sharded store (all integers little-endian):
 *
 *   offset size field
 *   0      1    phase: 1 single, 2 prepare, 3 commit, 4 abort, 5 applied, 6 end
 *   1      1    reserved (0)
 *   2      2    coordinator shard
 *   4      2    participant count (1 for a single-shard record)
 *   6      2    reserved (0)
 *   8      8    gsn (the transaction id for phases 2..6)
 *   16     32   participant bitmap (bit s: shard s takes part)
 *   48     ...  an op batch (store/op.h): single records and the
 *               coordinator's PREPARE; empty for every other record
 */
#ifndef SUTRA_SHARD_SHARD_H
#define SUTRA_SHARD_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHARD_MAX        256
#define TXN_HEADER_BYTES 48
/* Larger gsns are corruption: a store never counts that far, and the next
 * gsn after any valid one cannot wrap. */
#define SHARD_GSN_MAX (1ull << 62)

/* The shard of a concept id among n: the Rust server's routing, SipHash-1-3
 * with keys (0, 0) over the u64 16 (little-endian) followed by the 16 id
 * bytes, modulo n; so a concept lives in the shard of the same number in
 * both servers. Stable across runs, builds and machines (it is part of the
 * on-disk layout). */
uint64_t shard_hash(const uint8_t id[16]);
uint32_t shard_of(const uint8_t id[16], uint32_t n);

enum txn_phase {
	TXN_SINGLE = 1,
	TXN_PREPARE = 2,
	TXN_COMMIT = 3,
	TXN_ABORT = 4,
	TXN_APPLIED = 5,
	TXN_END = 6
};

struct shard_set {
	uint64_t bits[SHARD_MAX / 64];
};

static inline void shard_set_add(struct shard_set *s, uint32_t shard)
{
	s->bits[shard / 64] |= 1ull << (shard % 64);
}
static inline bool shard_set_has(const struct shard_set *s, uint32_t shard)
{
	return (s->bits[shard / 64] >> (shard % 64)) & 1;
}
uint32_t shard_set_count(const struct shard_set *s);
/* The lowest shard in s at or after from, or SHARD_MAX. */
uint32_t shard_set_next(const struct shard_set *s, uint32_t from);

struct txn_header {
	int phase;
	uint32_t coordinator, nparts;
	uint64_t gsn;
	struct shard_set parts;
};

void txn_header_encode(uint8_t dst[TXN_HEADER_BYTES], const struct txn_header *h);
/* Checks an untrusted header against a store of nshards; SUTRA_ECORRUPT
 * with the reason. */
int txn_header_decode(const uint8_t *p, size_t len, uint32_t nshards, struct txn_header *h);

#endif
