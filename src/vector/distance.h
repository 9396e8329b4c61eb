/* distance.h - vector distance kernels with run-time dispatch.
 *
 * Dot product and squared L2 over f32 vectors, in AVX-512, AVX2+FMA and
 * scalar versions; distance_init() picks the best the CPU supports once.
 * Cosine distance is 1 - dot over vectors normalised at insert time, so
 * the index only ever needs dot and L2.
 */
#ifndef SUTRA_VECTOR_DISTANCE_H
#define SUTRA_VECTOR_DISTANCE_H

#include <stdint.h>

typedef float (*dist_fn)(const float *a, const float *b, uint32_t dim);

struct dist_kernels {
	dist_fn dot;
	dist_fn l2sq;
	const char *name; /* "avx512", "avx2", "scalar" */
};

/* The kernels for this CPU (thread-safe, computed once). */
const struct dist_kernels *distance_kernels(void);
/* The scalar kernels (tests compare against them). */
const struct dist_kernels *distance_scalar(void);

#endif
