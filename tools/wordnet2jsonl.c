/* wordnet2jsonl - converts WordNet 3.0 (Debian wordnet-base: data.noun,
 * data.verb, data.adj, data.adv) into the JSON Lines that sutra-import
 * loads: one concept per synset, then one association per relation.
 *
 * The data files are read whole (about 30 MB) and parsed per wndb(5):
 *   offset lex_filenum ss_type w_cnt(hex) {word lex_id(hex)} p_cnt
 *   {pointer_symbol offset pos source/target(hex)} [verb frames] | gloss
 * Each line's offset is checked against its position in the file, which is
 * what every pointer relies on.
 *
 * A synset's id is the text "wn30:<ss_type>:<offset>" (n, v, a, s, r; the
 * offset as its 8 digits), which sutra-import hashes into an id; content is
 * "lemma, lemma: gloss"; metadata pos, lexfile (noun.animal ...), lemmas
 * (as in the file, space-separated) and synset (the id text).
 *
 * Pointers become associations by type (docs/IMPORT.md has the table):
 * hypernyms (@ @i) hierarchical, synset -> hypernym; holonyms (#m #s #p)
 * compositional, part -> whole; entailment (*) and cause (>) causal;
 * everything else semantic. Inverse pointers (~ ~i hyponyms, %m %s %p
 * meronyms) are turned around into the kept direction rather than dropped,
 * and every association is emitted once: a set of (source, target, type)
 * removes the copies, and for semantic relations, which are symmetric or
 * come in inverse pairs (antonym, similar, also see, derivation, domain and
 * member of domain ...), one association per pair of synsets is kept, in the
 * direction met first. Lexical pointers (between words) join their words'
 * synsets. The counts printed on stderr are what the store will hold.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonl/writer.h"

#define NFILES 4

static const char *const file_names[NFILES] = {"data.noun", "data.verb", "data.adj", "data.adv"};

static const char *const lexnames[] = {
    "adj.all",          "adj.pert",           "adv.all",
    "noun.Tops",        "noun.act",           "noun.animal",
    "noun.artifact",    "noun.attribute",     "noun.body",
    "noun.cognition",   "noun.communication", "noun.event",
    "noun.feeling",     "noun.food",          "noun.group",
    "noun.location",    "noun.motive",        "noun.object",
    "noun.person",      "noun.phenomenon",    "noun.plant",
    "noun.possession",  "noun.process",       "noun.quantity",
    "noun.relation",    "noun.shape",         "noun.state",
    "noun.substance",   "noun.time",          "verb.body",
    "verb.change",      "verb.cognition",     "verb.communication",
    "verb.competition", "verb.consumption",   "verb.contact",
    "verb.creation",    "verb.emotion",       "verb.motion",
    "verb.perception",  "verb.possession",    "verb.social",
    "verb.stative",     "verb.weather",       "adj.ppl"};
#define NLEXNAMES (sizeof lexnames / sizeof lexnames[0])

struct word {
	const char *s; /* into the file buffer; marker "(a)" excluded */
	uint32_t len;
};

struct ptr {
	char sym[3];
	uint8_t file; /* of the target */
	uint32_t offset;
};

struct synset {
	uint32_t offset;
	uint8_t lexfile, file;
	char type; /* n v a s r */
	uint32_t word0, nwords, ptr0, nptrs;
	const char *gloss;
	uint32_t gloss_len;
};

struct wordnet {
	char *buf[NFILES];
	uint32_t first[NFILES + 1]; /* synsets of file f: [first[f], first[f + 1]) */
	struct synset *syn;
	size_t nsyn, syn_cap;
	struct word *words;
	size_t nwords, words_cap;
	struct ptr *ptrs;
	size_t nptrs, ptrs_cap;
};

#define GROW(arr, n, cap) ((n) < (cap) || grow((void **)&(arr), &(cap), sizeof *(arr)) == 0)

static int grow(void **p, size_t *cap, size_t size)
{
	size_t c = *cap ? *cap * 2 : 1024;
	void *q = realloc(*p, c * size);

	if (!q)
		return -1;
	*p = q;
	*cap = c;
	return 0;
}

/* ---- reading ------------------------------------------------------------------------ */

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		buf[n] = 0;
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
		if (!errno)
			errno = EIO;
	}
	fclose(f);
	return buf;
}

/* The next space-separated token of [*p, end); false at the end. */
static bool token(const char **p, const char *end, const char **tok, size_t *len)
{
	const char *s = *p;

	while (s < end && *s == ' ')
		s++;
	if (s >= end)
		return false;
	*tok = s;
	while (s < end && *s != ' ')
		s++;
	*len = (size_t)(s - *tok);
	*p = s;
	return true;
}

static bool number(const char **p, const char *end, int base, unsigned long *out)
{
	const char *t;
	size_t n;
	char tmp[16], *e;

	if (!token(p, end, &t, &n) || n == 0 || n >= sizeof tmp)
		return false;
	memcpy(tmp, t, n);
	tmp[n] = 0;
	*out = strtoul(tmp, &e, base);
	return *e == 0;
}

static int file_of_pos(char pos)
{
	switch (pos) {
	case 'n':
		return 0;
	case 'v':
		return 1;
	case 'a':
	case 's':
		return 2;
	case 'r':
		return 3;
	default:
		return -1;
	}
}

/* A word as written, without an adjective's syntactic marker "(p)". */
static struct word make_word(const char *t, size_t n)
{
	if (n > 2 && t[n - 1] == ')') {
		size_t k = n - 1;
		while (k > 0 && t[k] != '(')
			k--;
		if (k > 0)
			n = k;
	}
	return (struct word){t, (uint32_t)n};
}

static bool parse_words(struct wordnet *wn, struct synset *s, const char **p, const char *end)
{
	unsigned long nw, lex_id;
	const char *t;
	size_t n;

	if (!number(p, end, 16, &nw) || nw == 0)
		return false;
	s->word0 = (uint32_t)wn->nwords;
	s->nwords = (uint32_t)nw;
	for (unsigned long i = 0; i < nw; i++) {
		if (!token(p, end, &t, &n) || !number(p, end, 16, &lex_id) ||
		    !GROW(wn->words, wn->nwords, wn->words_cap))
			return false;
		wn->words[wn->nwords++] = make_word(t, n);
	}
	return true;
}

static bool parse_ptrs(struct wordnet *wn, struct synset *s, const char **p, const char *end)
{
	unsigned long np, off, st;
	const char *sym, *pos;
	size_t n, pn;

	if (!number(p, end, 10, &np))
		return false;
	s->ptr0 = (uint32_t)wn->nptrs;
	s->nptrs = (uint32_t)np;
	for (unsigned long i = 0; i < np; i++) {
		if (!token(p, end, &sym, &n) || n > 2 || !number(p, end, 10, &off) ||
		    !token(p, end, &pos, &pn) || pn != 1 || file_of_pos(*pos) < 0 ||
		    !number(p, end, 16, &st) || !GROW(wn->ptrs, wn->nptrs, wn->ptrs_cap))
			return false;
		struct ptr *q = &wn->ptrs[wn->nptrs++];
		memset(q->sym, 0, sizeof q->sym);
		memcpy(q->sym, sym, n);
		q->file = (uint8_t)file_of_pos(*pos);
		q->offset = (uint32_t)off;
	}
	return true;
}

/* The gloss: after "| " to the end of the line, trailing spaces dropped. */
static bool parse_gloss(struct synset *s, const char *line, const char *end)
{
	const char *bar = memchr(line, '|', (size_t)(end - line));

	if (!bar)
		return false;
	bar++;
	while (bar < end && *bar == ' ')
		bar++;
	while (end > bar && (end[-1] == ' ' || end[-1] == '\r'))
		end--;
	s->gloss = bar;
	s->gloss_len = (uint32_t)(end - bar);
	return true;
}

static bool parse_line(struct wordnet *wn, int file, const char *line, const char *end, size_t at)
{
	struct synset s = {.file = (uint8_t)file};
	unsigned long off, lex;
	const char *p = line, *t;
	size_t n;

	if (!number(&p, end, 10, &off) || off != at || !number(&p, end, 10, &lex) ||
	    lex >= NLEXNAMES || !token(&p, end, &t, &n) || n != 1 || file_of_pos(*t) != file)
		return false;
	s.offset = (uint32_t)off;
	s.lexfile = (uint8_t)lex;
	s.type = *t;
	if (!parse_words(wn, &s, &p, end) || !parse_ptrs(wn, &s, &p, end) ||
	    !parse_gloss(&s, p, end) || !GROW(wn->syn, wn->nsyn, wn->syn_cap))
		return false;
	wn->syn[wn->nsyn++] = s;
	return true;
}

static int load_file(struct wordnet *wn, const char *dir, int file)
{
	char path[4096];
	size_t len;
	long lineno = 0;

	snprintf(path, sizeof path, "%s/%s", dir, file_names[file]);
	if (!(wn->buf[file] = read_file(path, &len))) {
		fprintf(stderr,
		        "wordnet2jsonl: %s: %s (install wordnet-base, or give --wordnet DIR)\n",
		        path, strerror(errno));
		return -1;
	}
	wn->first[file] = (uint32_t)wn->nsyn;
	for (const char *p = wn->buf[file], *end = p + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		lineno++;
		if (!(p[0] == ' ' && eol - p > 1 && p[1] == ' ') && eol > p &&
		    !parse_line(wn, file, p, eol, (size_t)(p - wn->buf[file]))) {
			fprintf(stderr,
			        "wordnet2jsonl: %s:%ld: not a synset line of WordNet 3.0 "
			        "(wndb(5))\n",
			        path, lineno);
			return -1;
		}
		p = eol + 1;
	}
	wn->first[file + 1] = (uint32_t)wn->nsyn;
	return 0;
}

/* Index of the synset at offset in file, or -1 (offsets are ascending). */
static long find_synset(const struct wordnet *wn, int file, uint32_t offset)
{
	size_t lo = wn->first[file], hi = wn->first[file + 1];

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (wn->syn[mid].offset < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < wn->first[file + 1] && wn->syn[lo].offset == offset ? (long)lo : -1;
}

/* ---- concepts -------------------------------------------------------------------------- */

struct text {
	char *s;
	size_t len, cap;
};

static int put(struct text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		size_t c = (t->len + n + 1) * 2;
		char *p = realloc(t->s, c);
		if (!p)
			return -1;
		t->s = p;
		t->cap = c;
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = 0;
	return 0;
}

static void synset_id(const struct synset *s, char out[24])
{
	snprintf(out, 24, "wn30:%c:%08u", s->type, s->offset);
}

/* content "w1, w2: gloss" (underscores as spaces) and lemmas "w1 w2". */
static int synset_texts(const struct wordnet *wn, const struct synset *s, struct text *content,
                        struct text *lemmas)
{
	content->len = lemmas->len = 0;
	for (uint32_t i = 0; i < s->nwords; i++) {
		const struct word *w = &wn->words[s->word0 + i];
		if (i && (put(content, ", ", 2) < 0 || put(lemmas, " ", 1) < 0))
			return -1;
		if (put(lemmas, w->s, w->len) < 0)
			return -1;
		for (uint32_t k = 0; k < w->len; k++)
			if (put(content, w->s[k] == '_' ? " " : w->s + k, 1) < 0)
				return -1;
	}
	if (put(content, ": ", 2) < 0 || put(content, s->gloss, s->gloss_len) < 0)
		return -1;
	return 0;
}

static int write_concepts(const struct wordnet *wn, FILE *out, size_t per_type[256])
{
	struct text content = {0}, lemmas = {0};
	char id[24], pos[2] = {0};
	int rc = 0;

	for (size_t i = 0; i < wn->nsyn && rc == 0; i++) {
		const struct synset *s = &wn->syn[i];
		if ((rc = synset_texts(wn, s, &content, &lemmas)) < 0)
			break;
		synset_id(s, id);
		pos[0] = s->type;
		sutra_meta_entry meta[] = {{"pos", pos},
		                           {"lexfile", lexnames[s->lexfile]},
		                           {"lemmas", lemmas.s},
		                           {"synset", id}};
		struct jw_concept c = {.id = id,
		                       .content = content.s,
		                       .content_len = content.len,
		                       .meta = meta,
		                       .meta_count = 4};
		jw_concept(out, &c);
		per_type[(unsigned char)s->type]++;
	}
	free(content.s);
	free(lemmas.s);
	return rc;
}

/* ---- associations ----------------------------------------------------------------------- */

/* How a pointer symbol becomes an association. */
struct mapping {
	const char *sym;
	unsigned type;
	bool reverse; /* the inverse of a kept pointer: swap the ends */
};

static const struct mapping mappings[] = {
    {"@", SUTRA_ASSOC_HIERARCHICAL, false},   {"@i", SUTRA_ASSOC_HIERARCHICAL, false},
    {"~", SUTRA_ASSOC_HIERARCHICAL, true},    {"~i", SUTRA_ASSOC_HIERARCHICAL, true},
    {"#m", SUTRA_ASSOC_COMPOSITIONAL, false}, {"#s", SUTRA_ASSOC_COMPOSITIONAL, false},
    {"#p", SUTRA_ASSOC_COMPOSITIONAL, false}, {"%m", SUTRA_ASSOC_COMPOSITIONAL, true},
    {"%s", SUTRA_ASSOC_COMPOSITIONAL, true},  {"%p", SUTRA_ASSOC_COMPOSITIONAL, true},
    {"*", SUTRA_ASSOC_CAUSAL, false},         {">", SUTRA_ASSOC_CAUSAL, false},
};

static const struct mapping *map_symbol(const char *sym)
{
	static const struct mapping semantic = {"", SUTRA_ASSOC_SEMANTIC, false};

	for (size_t i = 0; i < sizeof mappings / sizeof mappings[0]; i++)
		if (strcmp(mappings[i].sym, sym) == 0)
			return &mappings[i];
	return &semantic;
}

/* A set of (source, target, type) keys, open addressing; semantic keys
 * are stored with the ends in order, so a pair is one key. */
struct edgeset {
	uint64_t *slot; /* 0: empty */
	size_t mask;
};

static int edgeset_init(struct edgeset *e, size_t n)
{
	size_t cap = 1024;

	while (cap < n * 2)
		cap *= 2;
	e->mask = cap - 1;
	e->slot = calloc(cap, sizeof *e->slot);
	return e->slot ? 0 : -1;
}

/* true if the key was new. */
static bool edgeset_add(struct edgeset *e, uint64_t key)
{
	size_t i = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 20) & e->mask;

	while (e->slot[i] && e->slot[i] != key)
		i = (i + 1) & e->mask;
	if (e->slot[i])
		return false;
	e->slot[i] = key;
	return true;
}

static uint64_t edge_key(size_t a, size_t b, unsigned type)
{
	if (type == SUTRA_ASSOC_SEMANTIC && b < a) {
		size_t t = a;
		a = b;
		b = t;
	}
	return (((uint64_t)a << 24 | (uint64_t)b) << 3 | type) + 1;
}

struct counts {
	size_t per_type[SUTRA_ASSOC_TYPES];
	size_t pointers, merged, self;
};

static int write_assocs(const struct wordnet *wn, FILE *out, struct counts *k)
{
	struct edgeset set;
	char a[24], b[24];

	if (edgeset_init(&set, wn->nptrs) < 0)
		return -1;
	for (size_t i = 0; i < wn->nsyn; i++) {
		const struct synset *s = &wn->syn[i];
		for (uint32_t j = 0; j < s->nptrs; j++) {
			const struct ptr *p = &wn->ptrs[s->ptr0 + j];
			const struct mapping *m = map_symbol(p->sym);
			long t = find_synset(wn, p->file, p->offset);
			if (t < 0) {
				synset_id(s, a);
				fprintf(stderr,
				        "wordnet2jsonl: %s: pointer %s to a missing synset "
				        "%08u in %s\n",
				        a, p->sym, p->offset, file_names[p->file]);
				free(set.slot);
				return -1;
			}
			size_t src = m->reverse ? (size_t)t : i, dst = m->reverse ? i : (size_t)t;
			k->pointers++;
			if (src == dst) {
				k->self++;
				continue;
			}
			if (!edgeset_add(&set, edge_key(src, dst, m->type))) {
				k->merged++;
				continue;
			}
			synset_id(&wn->syn[src], a);
			synset_id(&wn->syn[dst], b);
			jw_assoc(out, a, b, m->type, 1.0f);
			k->per_type[m->type]++;
		}
	}
	free(set.slot);
	return 0;
}

/* ---- main ------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("usage: wordnet2jsonl [--wordnet DIR] [--out FILE]\n"
	      "\n"
	      "Converts WordNet 3.0 (DIR/data.noun, data.verb, data.adj, data.adv; default\n"
	      "$WNSEARCHDIR, else /usr/share/wordnet from Debian's wordnet-base) into the\n"
	      "JSON Lines sutra-import loads, on standard output or FILE: one concept per\n"
	      "synset (id text wn30:<n|v|a|s|r>:<offset>, hashed by the importer; content\n"
	      "\"lemmas: gloss\"; metadata pos, lexfile, lemmas, synset), then one association\n"
	      "per relation: hypernyms hierarchical (synset -> hypernym), holonyms\n"
	      "compositional (part -> whole), entailment and cause causal, the rest semantic;\n"
	      "inverse pointers once. Counts go to stderr. Mapping: docs/IMPORT.md.\n",
	      f);
}

static void print_counts(const struct wordnet *wn, const size_t *per_pos, const struct counts *k)
{
	size_t total = 0;

	for (unsigned t = 0; t < SUTRA_ASSOC_TYPES; t++)
		total += k->per_type[t];
	fprintf(stderr, "wordnet2jsonl: %zu synsets (n %zu, v %zu, a %zu, s %zu, r %zu)\n",
	        wn->nsyn, per_pos['n'], per_pos['v'], per_pos['a'], per_pos['s'], per_pos['r']);
	fprintf(stderr,
	        "wordnet2jsonl: %zu associations (semantic %zu, causal %zu, temporal %zu, "
	        "hierarchical %zu, compositional %zu)\n",
	        total, k->per_type[0], k->per_type[1], k->per_type[2], k->per_type[3],
	        k->per_type[4]);
	fprintf(stderr,
	        "wordnet2jsonl: %zu pointers read: %zu merged as inverses or repeats, %zu from a "
	        "synset to itself skipped\n",
	        k->pointers, k->merged, k->self);
}

static void free_wordnet(struct wordnet *wn)
{
	for (int f = 0; f < NFILES; f++)
		free(wn->buf[f]);
	free(wn->syn);
	free(wn->words);
	free(wn->ptrs);
}

static int convert(const char *dir, FILE *out)
{
	struct wordnet wn = {0};
	struct counts k = {0};
	size_t per_pos[256] = {0};
	int rc = 0;

	for (int f = 0; f < NFILES && rc == 0; f++)
		rc = load_file(&wn, dir, f);
	if (rc == 0 && (rc = write_concepts(&wn, out, per_pos)) == 0)
		rc = write_assocs(&wn, out, &k);
	if (rc == 0)
		print_counts(&wn, per_pos, &k);
	free_wordnet(&wn);
	return rc;
}

int main(int argc, char **argv)
{
	const char *dir = getenv("WNSEARCHDIR"), *out_path = NULL;
	FILE *out = stdout;

	if (!dir || !*dir)
		dir = "/usr/share/wordnet";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--wordnet") == 0 && i + 1 < argc) {
			dir = argv[++i];
		} else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
			out_path = argv[++i];
		} else {
			fprintf(stderr, "wordnet2jsonl: bad argument '%s' (see --help)\n", argv[i]);
			return 2;
		}
	}
	if (out_path && !(out = fopen(out_path, "w"))) {
		fprintf(stderr, "wordnet2jsonl: %s: %s\n", out_path, strerror(errno));
		return 1;
	}
	setvbuf(out, NULL, _IOFBF, 1u << 20);
	int rc = convert(dir, out);
	if ((fflush(out) != 0 || ferror(out) || (out != stdout && fclose(out) != 0)) && rc == 0) {
		fprintf(stderr, "wordnet2jsonl: writing %s: %s\n", out_path ? out_path : "stdout",
		        strerror(errno));
		rc = -1;
	}
	return rc < 0 ? 1 : 0;
}
