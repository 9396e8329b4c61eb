/* peer_hnswlib.h - hnswlib (Debian libhnswlib-dev) behind a small C interface.
 *
 * hnswlib is a header-only C++ library; peer_hnswlib.cpp instantiates its
 * HierarchicalNSW<float> once and exposes what the vector benchmark needs as
 * plain C: build (one addPoint per vector, in the caller's thread), search
 * (setEf + searchKnn), saveIndex and loadIndex. Labels are the caller's
 * vector indices. Every C++ exception is caught at this boundary and turned
 * into a -1 return with the message in phnsw_error(), so the C benchmark
 * never sees one. Metric PHNSW_L2 is hnswlib's L2Space (squared L2);
 * PHNSW_IP is its InnerProductSpace (distance 1 - dot), which is what
 * hnswlib's own "cosine" does once the caller has normalised the vectors.
 */
#ifndef SUTRA_BENCH_PEER_HNSWLIB_H
#define SUTRA_BENCH_PEER_HNSWLIB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { PHNSW_L2 = 0, PHNSW_IP = 1 };

typedef struct phnsw phnsw;

/* A new empty index for up to max_elements vectors. Caller frees with
 * phnsw_free. Returns 0 or -1 (message in phnsw_error()). */
int phnsw_new(uint32_t dim, int metric, size_t max_elements, uint32_t M, uint32_t ef_construction,
              uint64_t seed, phnsw **out);
void phnsw_free(phnsw *p);
/* Adds one vector (copied) under label. */
int phnsw_add(phnsw *p, const float *vec, uint64_t label);
/* The k nearest labels, best first, into labels (room for k); returns how
 * many were found, or -1. ef is hnswlib's ef (it searches max(ef, k)). */
int phnsw_search(phnsw *p, const float *query, uint32_t k, uint32_t ef, uint64_t *labels);
/* saveIndex to path; loadIndex from path into a new index (caller frees). */
int phnsw_save(phnsw *p, const char *path);
int phnsw_load(const char *path, uint32_t dim, int metric, phnsw **out);
size_t phnsw_count(const phnsw *p);

/* The message of the last failure on this thread (never NULL). */
const char *phnsw_error(void);
/* The distance kernel hnswlib picked for dim on this CPU ("avx512", "avx",
 * "sse", "scalar") and the compiler flags it was built with. */
const char *phnsw_simd(uint32_t dim);
const char *phnsw_build_flags(void);
/* The Debian package version of the headers (from the build), or "unknown". */
const char *phnsw_version(void);

#ifdef __cplusplus
}
#endif
#endif
