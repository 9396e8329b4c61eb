/* siphash.c - SipHash-1-3, written out from the SipHash paper.
 *
 * Four 64-bit lanes initialized from the key; each 8-byte little-endian
 * word m is absorbed as v3 ^= m, one SipRound, v0 ^= m. The last word holds
 * the 0..7 leftover bytes with (length mod 256) in its top byte; then
 * v2 ^= 0xff and three SipRounds, and the hash is v0 ^ v1 ^ v2 ^ v3.
 * Rust's SipHasher13 computes exactly this over the concatenation of every
 * write(), which is why the incremental form below buffers up to 7 bytes.
 * Hand-written: 60 lines, and it must match Rust bit for bit (the packaged
 * xxHash is a different function).
 */
#include "util/siphash.h"

#include "util/bytes.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "siphash.c: words are loaded in host order, which must be little-endian"
#endif

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

static inline void sip_round(siphash13_state *s)
{
	s->v0 += s->v1;
	s->v1 = ROTL(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = ROTL(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = ROTL(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = ROTL(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = ROTL(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = ROTL(s->v2, 32);
}

static inline void sip_absorb(siphash13_state *s, uint64_t m)
{
	s->v3 ^= m;
	sip_round(s);
	s->v0 ^= m;
}

void siphash13_init(siphash13_state *s, uint64_t k0, uint64_t k1)
{
	s->v0 = k0 ^ 0x736f6d6570736575ULL;
	s->v1 = k1 ^ 0x646f72616e646f6dULL;
	s->v2 = k0 ^ 0x6c7967656e657261ULL;
	s->v3 = k1 ^ 0x7465646279746573ULL;
	s->tail = 0;
	s->len = 0;
	s->ntail = 0;
}

void siphash13_update(siphash13_state *s, const void *p, size_t n)
{
	const uint8_t *b = p;

	s->len += n;
	while (n > 0 && s->ntail != 0) { /* finish a pending word first */
		s->tail |= (uint64_t)*b++ << (8 * s->ntail);
		n--;
		if (++s->ntail == 8) {
			sip_absorb(s, s->tail);
			s->tail = 0;
			s->ntail = 0;
		}
	}
	for (; n >= 8; n -= 8, b += 8)
		sip_absorb(s, ld64(b));
	for (; n > 0; n--)
		s->tail |= (uint64_t)*b++ << (8 * s->ntail++);
}

uint64_t siphash13_final(siphash13_state *s)
{
	sip_absorb(s, s->tail | (s->len << 56));
	s->v2 ^= 0xff;
	sip_round(s);
	sip_round(s);
	sip_round(s);
	return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

uint64_t siphash13(uint64_t k0, uint64_t k1, const void *p, size_t n)
{
	siphash13_state s;

	siphash13_init(&s, k0, k1);
	siphash13_update(&s, p, n);
	return siphash13_final(&s);
}
