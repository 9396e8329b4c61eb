/* peer_hnswlib.cpp - hnswlib's HierarchicalNSW<float> behind the C interface of peer_hnswlib.h.
 *
 * The only C++ in the benchmark. It uses hnswlib exactly as its README
 * shows: a space (L2Space or InnerProductSpace) and a HierarchicalNSW built
 * with (max_elements, M, ef_construction, random_seed), addPoint per
 * vector, setEf then searchKnn per query, saveIndex/loadIndex. Nothing is
 * tuned: the library's own SIMD selection (compile-time -march plus its
 * run-time AVX/AVX-512 checks) decides its kernels, and phnsw_simd()
 * reports what it picked. Exceptions never cross into C.
 */
#include "peer_hnswlib.h"

#include <exception>
#include <new>
#include <string>

#include <hnswlib/hnswlib.h>

#ifndef PHNSW_FLAGS
#define PHNSW_FLAGS "unknown"
#endif
#ifndef PHNSW_VERSION
#define PHNSW_VERSION "unknown"
#endif

struct phnsw {
	hnswlib::SpaceInterface<float> *space;
	hnswlib::HierarchicalNSW<float> *index;
};

static thread_local std::string last_error;

static int fail(const char *what, const char *why)
{
	last_error = std::string(what) + ": " + why;
	return -1;
}

static hnswlib::SpaceInterface<float> *make_space(uint32_t dim, int metric)
{
	if (metric == PHNSW_L2)
		return new hnswlib::L2Space(dim);
	return new hnswlib::InnerProductSpace(dim);
}

extern "C" const char *phnsw_error(void)
{
	return last_error.c_str();
}

extern "C" int phnsw_new(uint32_t dim, int metric, size_t max_elements, uint32_t M,
                         uint32_t ef_construction, uint64_t seed, phnsw **out)
{
	phnsw *p = nullptr;

	try {
		p = new phnsw{make_space(dim, metric), nullptr};
		p->index = new hnswlib::HierarchicalNSW<float>(p->space, max_elements, M,
		                                               ef_construction, (size_t)seed);
	} catch (const std::exception &e) {
		phnsw_free(p);
		return fail("hnswlib new", e.what());
	}
	*out = p;
	return 0;
}

extern "C" void phnsw_free(phnsw *p)
{
	if (!p)
		return;
	delete p->index;
	delete p->space;
	delete p;
}

extern "C" int phnsw_add(phnsw *p, const float *vec, uint64_t label)
{
	try {
		p->index->addPoint(vec, (hnswlib::labeltype)label);
	} catch (const std::exception &e) {
		return fail("hnswlib addPoint", e.what());
	}
	return 0;
}

extern "C" int phnsw_search(phnsw *p, const float *query, uint32_t k, uint32_t ef, uint64_t *labels)
{
	try {
		p->index->setEf(ef);
		auto top = p->index->searchKnn(query, k);
		int n = (int)top.size();
		/* a max-heap on distance: the worst comes out first */
		for (int i = n - 1; i >= 0; i--) {
			labels[i] = top.top().second;
			top.pop();
		}
		return n;
	} catch (const std::exception &e) {
		return fail("hnswlib searchKnn", e.what());
	}
}

extern "C" int phnsw_save(phnsw *p, const char *path)
{
	try {
		p->index->saveIndex(path);
	} catch (const std::exception &e) {
		return fail("hnswlib saveIndex", e.what());
	}
	return 0;
}

extern "C" int phnsw_load(const char *path, uint32_t dim, int metric, phnsw **out)
{
	phnsw *p = nullptr;

	try {
		p = new phnsw{make_space(dim, metric), nullptr};
		p->index = new hnswlib::HierarchicalNSW<float>(p->space, std::string(path));
	} catch (const std::exception &e) {
		phnsw_free(p);
		return fail("hnswlib loadIndex", e.what());
	}
	*out = p;
	return 0;
}

extern "C" size_t phnsw_count(const phnsw *p)
{
	return p->index->cur_element_count;
}

extern "C" const char *phnsw_simd(uint32_t dim)
{
	const char *isa = "scalar";

#if defined(USE_AVX512)
	isa = AVX512Capable() ? "avx512" : AVXCapable() ? "avx" : "sse";
#elif defined(USE_AVX)
	isa = AVXCapable() ? "avx" : "sse";
#elif defined(USE_SSE)
	isa = "sse";
#endif
	static thread_local std::string s;
	s = std::string(isa) + (dim % 16 == 0  ? " (16-wide)"
	                        : dim % 4 == 0 ? " (4-wide)"
	                                       : " (with scalar residuals)");
	return s.c_str();
}

extern "C" const char *phnsw_build_flags(void)
{
	return PHNSW_FLAGS;
}

extern "C" const char *phnsw_version(void)
{
	return PHNSW_VERSION;
}
