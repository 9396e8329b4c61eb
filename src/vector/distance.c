/* distance.c - dot product and squared L2 kernels (see distance.h).
 *
 * The SIMD versions are compiled with target attributes so the rest of the
 * build stays portable; tails shorter than a vector are done in scalar.
 */
#include "vector/distance.h"

#include <immintrin.h>
#include <pthread.h>

static float dot_scalar(const float *a, const float *b, uint32_t d)
{
	float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	uint32_t i = 0;

	for (; i + 4 <= d; i += 4) {
		s0 += a[i] * b[i];
		s1 += a[i + 1] * b[i + 1];
		s2 += a[i + 2] * b[i + 2];
		s3 += a[i + 3] * b[i + 3];
	}
	for (; i < d; i++)
		s0 += a[i] * b[i];
	return (s0 + s1) + (s2 + s3);
}

static float l2_scalar(const float *a, const float *b, uint32_t d)
{
	float s = 0;

	for (uint32_t i = 0; i < d; i++) {
		float t = a[i] - b[i];
		s += t * t;
	}
	return s;
}

__attribute__((target("avx2,fma"))) static float hsum256(__m256 v)
{
	__m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
	__m128 s = _mm_add_ps(lo, hi);

	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
	return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) static float dot_avx2(const float *a, const float *b,
                                                          uint32_t d)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
	uint32_t i = 0;

	for (; i + 16 <= d; i += 16) {
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
	}
	for (; i + 8 <= d; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
	float s = hsum256(_mm256_add_ps(s0, s1));
	for (; i < d; i++)
		s += a[i] * b[i];
	return s;
}

__attribute__((target("avx2,fma"))) static float l2_avx2(const float *a, const float *b, uint32_t d)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
	uint32_t i = 0;

	for (; i + 16 <= d; i += 16) { /* two chains: the FMA latency overlaps */
		__m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
		__m256 t1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
		s0 = _mm256_fmadd_ps(t0, t0, s0);
		s1 = _mm256_fmadd_ps(t1, t1, s1);
	}
	for (; i + 8 <= d; i += 8) {
		__m256 t = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
		s0 = _mm256_fmadd_ps(t, t, s0);
	}
	float s = hsum256(_mm256_add_ps(s0, s1));
	for (; i < d; i++) {
		float t = a[i] - b[i];
		s += t * t;
	}
	return s;
}

/* Four independent accumulators: one FMA chain would wait out its latency
 * on every step of a long vector. */
__attribute__((target("avx512f"))) static float dot_avx512(const float *a, const float *b,
                                                           uint32_t d)
{
	__m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
	__m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
	uint32_t i = 0;

	for (; i + 64 <= d; i += 64) {
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
		s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
		s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
		s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
	}
	for (; i + 16 <= d; i += 16)
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
	if (i < d) {
		__mmask16 m = (__mmask16)((1u << (d - i)) - 1);
		s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i),
		                     _mm512_maskz_loadu_ps(m, b + i), s1);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

__attribute__((target("avx512f"))) static __m512 sq_diff(__m512 acc, const float *a, const float *b)
{
	__m512 t = _mm512_sub_ps(_mm512_loadu_ps(a), _mm512_loadu_ps(b));
	return _mm512_fmadd_ps(t, t, acc);
}

__attribute__((target("avx512f"))) static float l2_avx512(const float *a, const float *b,
                                                          uint32_t d)
{
	__m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
	__m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
	uint32_t i = 0;

	for (; i + 64 <= d; i += 64) {
		s0 = sq_diff(s0, a + i, b + i);
		s1 = sq_diff(s1, a + i + 16, b + i + 16);
		s2 = sq_diff(s2, a + i + 32, b + i + 32);
		s3 = sq_diff(s3, a + i + 48, b + i + 48);
	}
	for (; i + 16 <= d; i += 16)
		s0 = sq_diff(s0, a + i, b + i);
	if (i < d) {
		__mmask16 m = (__mmask16)((1u << (d - i)) - 1);
		__m512 t =
		    _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
		s1 = _mm512_fmadd_ps(t, t, s1);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

static const struct dist_kernels k_scalar = {dot_scalar, l2_scalar, "scalar"};
static const struct dist_kernels k_avx2 = {dot_avx2, l2_avx2, "avx2"};
static const struct dist_kernels k_avx512 = {dot_avx512, l2_avx512, "avx512"};
static const struct dist_kernels *k_best = &k_scalar;
static pthread_once_t k_once = PTHREAD_ONCE_INIT;

static void pick(void)
{
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f"))
		k_best = &k_avx512;
	else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		k_best = &k_avx2;
}

const struct dist_kernels *distance_kernels(void)
{
	pthread_once(&k_once, pick);
	return k_best;
}

const struct dist_kernels *distance_scalar(void)
{
	return &k_scalar;
}
