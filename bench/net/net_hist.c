/* net_hist.c - log-linear latency histogram of the network benchmark.
 *
 * Storing every latency of a 10-second run at a few hundred thousand
 * requests per second would cost tens of megabytes and a sort; a histogram
 * costs one increment per request. Values below 128 ns have a bucket each;
 * above, every power of two is split into 64 equal buckets, so a quantile is
 * reported within about 1.5 % (the bucket's midpoint). Each generator thread
 * fills its own histogram; they are merged after the run.
 */
#include "net.h"

#define NH_MAX_NS ((1ull << 42) - 1)

static unsigned bucket_of(uint64_t v)
{
	unsigned msb;

	if (v > NH_MAX_NS)
		v = NH_MAX_NS;
	if (v < 2 * NH_SUB)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	return 2 * NH_SUB + (msb - 7) * NH_SUB + (unsigned)((v >> (msb - 6)) - NH_SUB);
}

static uint64_t bucket_mid(unsigned idx)
{
	unsigned k, msb;
	uint64_t low, width;

	if (idx < 2 * NH_SUB)
		return idx;
	k = idx - 2 * NH_SUB;
	msb = 7 + k / NH_SUB;
	width = 1ull << (msb - 6);
	low = (uint64_t)(NH_SUB + k % NH_SUB) * width;
	return low + width / 2;
}

void nh_add(net_hist *h, uint64_t ns)
{
	h->count[bucket_of(ns)]++;
	h->n++;
}

void nh_merge(net_hist *dst, const net_hist *src)
{
	for (unsigned i = 0; i < NH_BUCKETS; i++)
		dst->count[i] += src->count[i];
	dst->n += src->n;
}

uint64_t nh_quantile(const net_hist *h, double q)
{
	uint64_t rank, seen = 0;

	if (!h->n)
		return 0;
	rank = (uint64_t)(q * (double)(h->n - 1) + 0.5);
	for (unsigned i = 0; i < NH_BUCKETS; i++) {
		seen += h->count[i];
		if (seen > rank)
			return bucket_mid(i);
	}
	return bucket_mid(NH_BUCKETS - 1);
}
