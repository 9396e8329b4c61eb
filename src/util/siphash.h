/* siphash.h - SipHash-1-3 (1 compression round, 3 finalization rounds).
 *
 * Rust's std DefaultHasher with keys (0,0) is SipHash-1-3; the Rust server
 * derived content ids and shard routes from it, so we reproduce it exactly.
 * The incremental form hashes a byte stream in pieces without copying it
 * (content || 0xFF for content ids): any split of the stream into updates
 * gives the same result as siphash13() over the whole.
 */
#ifndef SUTRA_UTIL_SIPHASH_H
#define SUTRA_UTIL_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t siphash13(uint64_t k0, uint64_t k1, const void *p, size_t n);

/* Incremental state; plain data, lives wherever the caller puts it. */
typedef struct siphash13_state {
	uint64_t v0, v1, v2, v3;
	uint64_t tail;  /* pending bytes, little-endian, ntail of them */
	uint64_t len;   /* bytes hashed so far (only len mod 256 matters) */
	unsigned ntail; /* 0..7 */
} siphash13_state;

void siphash13_init(siphash13_state *s, uint64_t k0, uint64_t k1);
void siphash13_update(siphash13_state *s, const void *p, size_t n);
/* Returns the hash; s must be initialized again before reuse. */
uint64_t siphash13_final(siphash13_state *s);

#endif
