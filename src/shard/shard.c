/* shard.c - concept routing and the record header (formats in shard.h). */
#include "shard/shard.h"

#include <string.h>

#include "sutra/sutra.h"
#include "util/bytes.h"
#include "util/err.h"
#include "util/siphash.h"

uint64_t shard_hash(const uint8_t id[16])
{
	uint8_t buf[24];

	st64(buf, 16); /* the length prefix Rust's Hash writes before a slice */
	memcpy(buf + 8, id, 16);
	return siphash13(0, 0, buf, sizeof buf);
}

uint32_t shard_of(const uint8_t id[16], uint32_t n)
{
	return n <= 1 ? 0 : (uint32_t)(shard_hash(id) % n);
}

uint32_t shard_set_count(const struct shard_set *s)
{
	uint32_t n = 0;

	for (size_t i = 0; i < SHARD_MAX / 64; i++)
		n += (uint32_t)__builtin_popcountll(s->bits[i]);
	return n;
}

uint32_t shard_set_next(const struct shard_set *s, uint32_t from)
{
	for (uint32_t i = from; i < SHARD_MAX; i++) {
		uint64_t w = s->bits[i / 64] >> (i % 64);
		if (w)
			return i + (uint32_t)__builtin_ctzll(w);
		i |= 63; /* rest of this word is empty */
	}
	return SHARD_MAX;
}

void txn_header_encode(uint8_t dst[TXN_HEADER_BYTES], const struct txn_header *h)
{
	memset(dst, 0, TXN_HEADER_BYTES);
	dst[0] = (uint8_t)h->phase;
	st16(dst + 2, (uint16_t)h->coordinator);
	st16(dst + 4, (uint16_t)h->nparts);
	st64(dst + 8, h->gsn);
	for (size_t i = 0; i < SHARD_MAX / 64; i++)
		st64(dst + 16 + 8 * i, h->parts.bits[i]);
}

int txn_header_decode(const uint8_t *p, size_t len, uint32_t nshards, struct txn_header *h)
{
	if (len < TXN_HEADER_BYTES)
		return err_set(SUTRA_ECORRUPT, "sharded record of %zu bytes (header: %d)", len,
		               TXN_HEADER_BYTES);
	h->phase = p[0];
	h->coordinator = ld16(p + 2);
	h->nparts = ld16(p + 4);
	h->gsn = ld64(p + 8);
	for (size_t i = 0; i < SHARD_MAX / 64; i++)
		h->parts.bits[i] = ld64(p + 16 + 8 * i);
	if (h->phase < TXN_SINGLE || h->phase > TXN_END)
		return err_set(SUTRA_ECORRUPT, "sharded record with unknown phase %d", h->phase);
	if (h->gsn == 0 || h->gsn > SHARD_GSN_MAX || h->coordinator >= nshards || h->nparts == 0 ||
	    h->nparts != shard_set_count(&h->parts) || !shard_set_has(&h->parts, h->coordinator) ||
	    shard_set_next(&h->parts, nshards) != SHARD_MAX)
		return err_set(SUTRA_ECORRUPT,
		               "sharded record gsn %llu: coordinator %u, %u participants do not "
		               "fit a store of %u shards",
		               (unsigned long long)h->gsn, h->coordinator, h->nparts, nshards);
	return 0;
}
