/* siphash.h - SipHash-1-3 (1 compression round, 3 finalization rounds).
 *
 * Rust's std DefaultHasher with keys (0,0) is SipHash-1-3; the Rust server
 * derived content ids and shard routes from it, so we reproduce it exactly.
 */
#ifndef SUTRA_UTIL_SIPHASH_H
#define SUTRA_UTIL_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t siphash13(uint64_t k0, uint64_t k1, const void *p, size_t n);

#endif
