/* recfast.c - single-pass, allocation-free parsing of one Sutra JSONL record
 * (see recfast.h), with jansson's rec_parse as the authority it defers to.
 *
 * Why by hand: with jansson, parsing a record builds a tree of malloc'd
 * nodes (an object with its hash table, a copy of every key and string, a
 * node per number) that is freed right after the record is copied into a
 * batch; on WordNet that parse-and-free took about two thirds of
 * sutra-import's CPU, and no packaged C library does better (cJSON and
 * json-c allocate per value as well; simdjson is C++). The Sutra format is
 * narrow - one flat object with nine known keys, strings, numbers, one array
 * of numbers, one flat object of strings - so a parser for exactly that is
 * short, decodes strings straight into the caller's arena and numbers
 * straight into floats, and can be checked against jansson line by line.
 *
 * It follows jansson's rules wherever it accepts: strict UTF-8 (no overlong
 * forms, no surrogates, nothing past U+10FFFF), no raw control characters in
 * strings, the escapes \" \\ \/ \b \f \n \r \t and \uXXXX with surrogate
 * pairs joined (\u0000 allowed in values, not in keys), JSON's number
 * grammar, whitespace of space, tab, CR and LF, nothing after the object.
 * Integers (no fraction, no exponent, at most 18 digits) are exact, like
 * jansson's json_int_t. A real with at most 15 significant digits and a
 * decimal exponent within +-22 is one exact multiplication or division of
 * two exact doubles, hence correctly rounded, hence equal to strtod's
 * result, which is what jansson uses and what any other real goes through
 * here. Whatever falls outside - errors, duplicate or escaped keys, more
 * than 64 metadata entries, huge numbers - is declined and parsed by
 * rec_parse, so the messages stay jansson's and record.c's.
 */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "recfast.h"

enum field {
	F_ID,
	F_CONTENT,
	F_VECTOR,
	F_STRENGTH,
	F_CONFIDENCE,
	F_METADATA,
	F_SOURCE,
	F_TARGET,
	F_TYPE,
	F_COUNT
};

#define BIT(f)        (1u << (f))
#define CONCEPT_ONLY  (BIT(F_CONTENT) | BIT(F_VECTOR) | BIT(F_STRENGTH) | BIT(F_METADATA))
#define ASSOC_ONLY    (BIT(F_SOURCE) | BIT(F_TARGET) | BIT(F_TYPE))
#define META_MAX_SCAN 64   /* more entries: rec_parse (the duplicate check here is quadratic) */
#define WIRE_MAX_KEY  255  /* metadata key bytes (record.c) */
#define VEC_MAX       4096 /* numbers in a vector (record.c) */
#define NUM_MAX       63   /* longest number token handed to strtod */

#define DECLINE RECFAST_DECLINE

static const char *const type_names[SUTRA_ASSOC_TYPES] = {"semantic", "causal", "temporal",
                                                          "hierarchical", "compositional"};

/* The input being scanned and where decoded strings go. */
struct cur {
	const unsigned char *p, *end;
	struct arena *a;
	struct recfast *f;
};

/* What the fields of a line held, before the record is built. */
struct fields {
	unsigned seen, null; /* BIT(field): key met, value was null */
	const char *str[F_COUNT];
	size_t len[F_COUNT];
	double num[F_COUNT];
	unsigned type;
	size_t dim;      /* numbers in f->vec */
	size_t meta_n;   /* entries in f->meta */
	uint64_t meta_b; /* metadata as the engine encodes it */
};

/* 1 for a byte that stands for itself inside a JSON string: printable
 * ASCII other than '"' and '\\'. */
static const unsigned char plain[256] = {
#define R16 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
    [0x20] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x22 is '"' */
    R16,                                                     /* 0x30 */
    R16,                                                     /* 0x40 */
    1,          1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x5c is '\\' */
    R16,                                                     /* 0x60 */
    R16,                                                     /* 0x70 (0x7f is not a control) */
#undef R16
};

static bool is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void skip_ws(struct cur *c)
{
	while (c->p < c->end && is_ws(*c->p))
		c->p++;
}

/* Expects byte ch (after whitespace) and steps over it. */
static bool expect(struct cur *c, unsigned char ch)
{
	skip_ws(c);
	if (c->p == c->end || *c->p != ch)
		return false;
	c->p++;
	return true;
}

/* Length of the valid UTF-8 sequence at p (2..4), 0 if invalid, by
 * jansson's utf8_check_first / utf8_check_full. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned u = p[0];
	size_t n;
	uint32_t v;

	if (u < 0xC2)
		return 0; /* continuation byte, or overlong 0xC0/0xC1 */
	if (u <= 0xDF)
		n = 2, v = u & 0x1F;
	else if (u <= 0xEF)
		n = 3, v = u & 0x0F;
	else if (u <= 0xF4)
		n = 4, v = u & 0x07;
	else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		v = v << 6 | (p[i] & 0x3F);
	}
	if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) || (n == 3 && v < 0x800) ||
	    (n == 4 && v < 0x10000))
		return 0;
	return n;
}

static int hex4(const unsigned char *p)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		unsigned c = p[i];
		int d = c >= '0' && c <= '9'   ? (int)c - '0'
		        : c >= 'a' && c <= 'f' ? (int)c - 'a' + 10
		        : c >= 'A' && c <= 'F' ? (int)c - 'A' + 10
		                               : -1;
		if (d < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

static char *put_utf8(char *t, uint32_t v)
{
	if (v < 0x80) {
		*t++ = (char)v;
	} else if (v < 0x800) {
		*t++ = (char)(0xC0 | v >> 6);
		*t++ = (char)(0x80 | (v & 0x3F));
	} else if (v < 0x10000) {
		*t++ = (char)(0xE0 | v >> 12);
		*t++ = (char)(0x80 | (v >> 6 & 0x3F));
		*t++ = (char)(0x80 | (v & 0x3F));
	} else {
		*t++ = (char)(0xF0 | v >> 18);
		*t++ = (char)(0x80 | (v >> 12 & 0x3F));
		*t++ = (char)(0x80 | (v >> 6 & 0x3F));
		*t++ = (char)(0x80 | (v & 0x3F));
	}
	return t;
}

/* One escape at x (x[0] == '\\', the string ends before r): the decoded
 * bytes go to *t. Returns the byte after the escape, NULL if invalid. */
static const unsigned char *unescape(const unsigned char *x, const unsigned char *r, char **t,
                                     bool *nul)
{
	static const char simple[][2] = {{'"', '"'},  {'\\', '\\'}, {'/', '/'},  {'b', '\b'},
	                                 {'f', '\f'}, {'n', '\n'},  {'r', '\r'}, {'t', '\t'}};

	for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
		if (x[1] == (unsigned char)simple[i][0]) {
			*(*t)++ = simple[i][1];
			return x + 2;
		}
	if (x[1] != 'u' || r - x < 6)
		return NULL;
	int v = hex4(x + 2);
	x += 6;
	if (v >= 0xD800 && v <= 0xDBFF) {
		int lo = r - x >= 6 && x[0] == '\\' && x[1] == 'u' ? hex4(x + 2) : -1;
		if (lo < 0xDC00 || lo > 0xDFFF)
			return NULL;
		v = ((v - 0xD800) << 10) + (lo - 0xDC00) + 0x10000;
		x += 6;
	} else if (v < 0 || (v >= 0xDC00 && v <= 0xDFFF)) {
		return NULL;
	}
	if (v == 0)
		*nul = true;
	*t = put_utf8(*t, (uint32_t)v);
	return x;
}

/* The slow half of scan_string: a string with escapes, from s; q is the
 * first escape. Decoding never lengthens a string, so its raw length bounds
 * the buffer. */
static bool scan_escaped(struct cur *c, const unsigned char *s, const unsigned char *q,
                         const char **out, size_t *len, bool *nul)
{
	const unsigned char *r = q;

	while (r < c->end && *r != '"')
		r += *r == '\\' ? 2 : 1;
	if (r >= c->end)
		return false;
	char *buf = arena_alloc(c->a, (size_t)(r - s) + 1), *t = buf;
	if (!buf)
		return false;
	memcpy(t, s, (size_t)(q - s));
	t += q - s;
	for (const unsigned char *x = q; x < r;) {
		if (plain[*x]) {
			*t++ = (char)*x++;
		} else if (*x == '\\') {
			if (!(x = unescape(x, r, &t, nul)))
				return false;
		} else {
			size_t n = *x >= 0x80 ? utf8_seq(x, r) : 0;
			if (n == 0)
				return false; /* a control character or bad UTF-8 */
			memcpy(t, x, n);
			t += n;
			x += n;
		}
	}
	*t = 0;
	*out = buf;
	*len = (size_t)(t - buf);
	c->p = r + 1;
	return true;
}

/* A string at c->p (which is '"'), decoded into the arena with a NUL after
 * it; *nul tells whether it holds \u0000. */
static bool scan_string(struct cur *c, const char **out, size_t *len, bool *nul)
{
	const unsigned char *s = c->p + 1, *q = s;

	*nul = false;
	for (;;) {
		while (q < c->end && plain[*q])
			q++;
		if (q == c->end || *q < 0x80)
			break;
		size_t n = utf8_seq(q, c->end);
		if (n == 0)
			return false;
		q += n;
	}
	if (q == c->end)
		return false;
	if (*q != '"')
		return *q == '\\' && scan_escaped(c, s, q, out, len, nul);
	if (!(*out = arena_strndup(c->a, (const char *)s, (size_t)(q - s))))
		return false;
	*len = (size_t)(q - s);
	c->p = q + 1;
	return true;
}

static bool is_digit(const unsigned char *p, const unsigned char *end)
{
	return p < end && *p >= '0' && *p <= '9';
}

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* A number token from s to x with its digits gathered: the value, exactly
 * as strtod makes it. */
static bool real_value(const unsigned char *s, const unsigned char *x, uint64_t m, int sig,
                       bool exact, long e, bool neg, double *d)
{
	if (exact && sig <= 15 && e >= -22 && e <= 22) {
		double v = (double)m;
		v = e < 0 ? v / pow10_exact[-e] : v * pow10_exact[e];
		*d = neg ? -v : v;
		return true;
	}
	char buf[NUM_MAX + 1], *endp;
	size_t n = (size_t)(x - s);
	if (n > NUM_MAX)
		return false;
	memcpy(buf, s, n);
	buf[n] = 0;
	*d = strtod(buf, &endp);
	return endp == buf + n && !isinf(*d); /* jansson: "real number overflow" */
}

/* A JSON number at c->p. *is_int: no fraction and no exponent (jansson's
 * integer), then *ival holds it. */
static bool scan_number(struct cur *c, double *d, bool *is_int, int64_t *ival)
{
	const unsigned char *s = c->p, *x = s, *end = c->end;
	bool neg = false, exact = true, real = false;
	uint64_t m = 0;
	int sig = 0, int_digits = 0;
	long e = 0;

	if (x < end && *x == '-')
		neg = true, x++;
	if (!is_digit(x, end))
		return false;
	if (*x == '0') {
		x++;
		int_digits = 1;
		if (is_digit(x, end))
			return false;
	}
	for (; is_digit(x, end); x++, int_digits++)
		if (sig < 19)
			m = m * 10 + (unsigned)(*x - '0'), sig += m != 0;
		else
			exact = false, e++;
	if (x < end && *x == '.') {
		real = true;
		if (!is_digit(++x, end))
			return false;
		for (; is_digit(x, end); x++)
			if (sig < 19)
				m = m * 10 + (unsigned)(*x - '0'), sig += m != 0, e--;
			else
				exact = false;
	}
	if (x < end && (*x == 'e' || *x == 'E')) {
		bool eneg = false;
		long ev = 0;
		real = true;
		x++;
		if (x < end && (*x == '+' || *x == '-'))
			eneg = *x++ == '-';
		if (!is_digit(x, end))
			return false;
		for (; is_digit(x, end); x++)
			if (ev < 100000)
				ev = ev * 10 + (*x - '0');
		e += eneg ? -ev : ev;
	}
	c->p = x;
	*is_int = !real;
	if (real)
		return real_value(s, x, m, sig, exact, e, neg, d);
	if (int_digits > 18)
		return false; /* may be past json_int_t: jansson decides */
	*ival = neg ? -(int64_t)m : (int64_t)m;
	*d = (double)*ival;
	return true;
}

/* A number that must fit a 32-bit float, as record.c's to_f32. */
static bool f32_ok(double d)
{
	return isfinite(d) && fabs(d) <= FLT_MAX;
}

/* Room for one more number in the scratch vector. */
static bool vec_room(struct recfast *f, size_t n)
{
	if (n < f->vec_cap)
		return true;
	size_t cap = f->vec_cap ? f->vec_cap * 2 : 64;
	float *v = realloc(f->vec, cap * sizeof *v);
	if (!v)
		return false;
	f->vec = v;
	f->vec_cap = cap;
	return true;
}

/* Room for one more scratch metadata entry. */
static bool meta_room(struct recfast *f, size_t n)
{
	if (n < f->meta_cap)
		return true;
	size_t cap = f->meta_cap ? f->meta_cap * 2 : 16;
	sutra_meta_entry *m = realloc(f->meta, cap * sizeof *m);
	if (!m)
		return false;
	f->meta = m;
	f->meta_cap = cap;
	return true;
}

static bool scan_vector(struct cur *c, const struct rec_limits *lim, struct fields *fl)
{
	size_t n = 0, most = lim->dimension && lim->dimension < VEC_MAX ? lim->dimension : VEC_MAX;
	struct recfast *f = c->f;

	if (!expect(c, '['))
		return false;
	do {
		double d;
		bool is_int;
		int64_t iv;
		skip_ws(c);
		if (n == most || !scan_number(c, &d, &is_int, &iv) || !f32_ok(d) || !vec_room(f, n))
			return false;
		f->vec[n++] = (float)d;
		skip_ws(c);
	} while (c->p < c->end && *c->p == ',' && c->p++);
	fl->dim = n;
	return expect(c, ']') && (!lim->dimension || n == lim->dimension);
}

static bool scan_meta_entry(struct cur *c, struct fields *fl)
{
	struct recfast *f = c->f;
	const char *key, *val;
	size_t kl, vl;
	bool nul;

	skip_ws(c);
	if (c->p == c->end || *c->p != '"' || !scan_string(c, &key, &kl, &nul) || nul || kl == 0 ||
	    kl > WIRE_MAX_KEY || fl->meta_n == META_MAX_SCAN)
		return false;
	for (size_t i = 0; i < fl->meta_n; i++)
		if (strcmp(f->meta[i].key, key) == 0)
			return false; /* jansson: duplicate object key */
	if (!expect(c, ':'))
		return false;
	skip_ws(c);
	if (c->p == c->end || *c->p != '"' || !scan_string(c, &val, &vl, &nul) || nul ||
	    !meta_room(f, fl->meta_n))
		return false;
	f->meta[fl->meta_n++] = (sutra_meta_entry){key, val};
	fl->meta_b += 6 + kl + 1 + vl + 1;
	return true;
}

static bool scan_meta(struct cur *c, struct fields *fl)
{
	fl->meta_b = 4;
	if (!expect(c, '{'))
		return false;
	skip_ws(c);
	if (c->p < c->end && *c->p == '}') {
		c->p++;
		return true;
	}
	do {
		if (!scan_meta_entry(c, fl))
			return false;
		skip_ws(c);
	} while (c->p < c->end && *c->p == ',' && c->p++);
	return expect(c, '}');
}

static bool scan_type(struct cur *c, struct fields *fl)
{
	if (*c->p == '"') {
		const char *s;
		size_t len;
		bool nul;
		if (!scan_string(c, &s, &len, &nul) || nul)
			return false;
		for (unsigned t = 0; t < SUTRA_ASSOC_TYPES; t++)
			if (strcmp(s, type_names[t]) == 0) {
				fl->type = t;
				return true;
			}
		return false;
	}
	double d;
	bool is_int;
	int64_t iv;
	if (!scan_number(c, &d, &is_int, &iv) || !is_int || iv < 0 || iv >= SUTRA_ASSOC_TYPES)
		return false;
	fl->type = (unsigned)iv;
	return true;
}

/* The value of field k at c->p (after the colon and whitespace). */
static bool scan_value(struct cur *c, enum field k, const struct rec_limits *lim, struct fields *fl)
{
	bool nul, is_int;
	int64_t iv;

	if (c->p == c->end)
		return false;
	if (*c->p == 'n' && k != F_ID && k != F_SOURCE && k != F_TARGET) {
		if (c->end - c->p < 4 || memcmp(c->p, "null", 4) != 0)
			return false;
		c->p += 4;
		fl->null |= BIT(k);
		return true;
	}
	switch (k) {
	case F_ID:
	case F_SOURCE:
	case F_TARGET:
	case F_CONTENT:
		return *c->p == '"' && scan_string(c, &fl->str[k], &fl->len[k], &nul) &&
		       (k == F_CONTENT || fl->len[k] > 0);
	case F_VECTOR:
		return scan_vector(c, lim, fl);
	case F_STRENGTH:
	case F_CONFIDENCE:
		return scan_number(c, &fl->num[k], &is_int, &iv) && f32_ok(fl->num[k]);
	case F_METADATA:
		return scan_meta(c, fl);
	case F_TYPE:
		return scan_type(c, fl);
	default:
		return false;
	}
}

/* A key without escapes: which field it names, -1 for any other. */
static int field_of(const unsigned char *s, size_t n)
{
	static const char *const names[F_COUNT] = {"id",       "content",    "vector",
	                                           "strength", "confidence", "metadata",
	                                           "source",   "target",     "type"};

	for (int k = 0; k < F_COUNT; k++)
		if (strlen(names[k]) == n && memcmp(names[k], s, n) == 0)
			return k;
	return -1;
}

/* The object's members, into fl. */
static bool scan_object(struct cur *c, const struct rec_limits *lim, struct fields *fl)
{
	if (!expect(c, '{'))
		return false;
	do {
		skip_ws(c);
		if (c->p == c->end || *c->p != '"')
			return false;
		const unsigned char *s = ++c->p;
		while (c->p < c->end && plain[*c->p])
			c->p++;
		if (c->p == c->end || *c->p != '"')
			return false; /* an escaped or non-ASCII key: rec_parse */
		int k = field_of(s, (size_t)(c->p++ - s));
		if (k < 0 || (fl->seen & BIT(k)) || !expect(c, ':'))
			return false;
		fl->seen |= BIT(k);
		skip_ws(c);
		if (!scan_value(c, (enum field)k, lim, fl))
			return false;
		skip_ws(c);
	} while (c->p < c->end && *c->p == ',' && c->p++);
	if (!expect(c, '}'))
		return false;
	skip_ws(c);
	return c->p == c->end;
}

/* Whether field k was given a value other than null. */
static bool has(const struct fields *fl, enum field k)
{
	return (fl->seen & ~fl->null) & BIT(k);
}

static void set_id(struct recfast *f, const struct fields *fl, enum field k, sutra_id *id,
                   char *hex, const char **text)
{
	recfast_id(f, fl->str[k], fl->len[k], id);
	sutra_id_format(id, hex);
	*text = fl->str[k];
}

static int build_concept(struct cur *c, const struct rec_limits *lim, const struct fields *fl,
                         struct rec *r)
{
	struct recfast *f = c->f;

	if (fl->seen & ASSOC_ONLY)
		return DECLINE;
	r->kind = REC_CONCEPT;
	set_id(f, fl, F_ID, &r->id, r->id_hex, &r->id_text);
	r->content = has(fl, F_CONTENT) ? fl->str[F_CONTENT] : "";
	r->content_len = has(fl, F_CONTENT) ? fl->len[F_CONTENT] : 0;
	if (lim->max_content && r->content_len > lim->max_content)
		return DECLINE;
	if (has(fl, F_VECTOR)) {
		if (!(r->vector = arena_alloc(c->a, fl->dim * sizeof *r->vector)))
			return DECLINE;
		memcpy(r->vector, f->vec, fl->dim * sizeof *r->vector);
		r->dim = (uint32_t)fl->dim;
	}
	r->strength = has(fl, F_STRENGTH) ? (float)fl->num[F_STRENGTH] : 1.0f;
	r->confidence = has(fl, F_CONFIDENCE) ? (float)fl->num[F_CONFIDENCE] : 1.0f;
	if (r->strength < 0 || r->confidence < 0 || r->confidence > 1)
		return DECLINE;
	if (has(fl, F_METADATA) && fl->meta_n) {
		if ((lim->max_meta_entries && fl->meta_n > lim->max_meta_entries) ||
		    (lim->max_meta_bytes && fl->meta_b > lim->max_meta_bytes) ||
		    !(r->meta = arena_alloc(c->a, fl->meta_n * sizeof *r->meta)))
			return DECLINE;
		memcpy(r->meta, f->meta, fl->meta_n * sizeof *r->meta);
		r->meta_count = fl->meta_n;
		r->meta_bytes = (uint32_t)fl->meta_b;
	}
	r->cost = 72 + r->content_len + (size_t)r->dim * 5 + r->meta_bytes;
	return RECFAST_OK;
}

static int build_assoc(struct cur *c, const struct fields *fl, struct rec *r)
{
	if ((fl->seen & CONCEPT_ONLY) || !(fl->seen & BIT(F_SOURCE)) || !(fl->seen & BIT(F_TARGET)))
		return DECLINE;
	r->kind = REC_ASSOC;
	r->confidence = has(fl, F_CONFIDENCE) ? (float)fl->num[F_CONFIDENCE] : 1.0f;
	if (r->confidence < 0 || r->confidence > 1)
		return DECLINE;
	set_id(c->f, fl, F_SOURCE, &r->source, r->source_hex, &r->source_text);
	set_id(c->f, fl, F_TARGET, &r->target, r->target_hex, &r->target_text);
	r->type = has(fl, F_TYPE) ? fl->type : SUTRA_ASSOC_SEMANTIC;
	r->cost = 96;
	return RECFAST_OK;
}

int recfast_parse(struct recfast *f, const char *line, size_t len, const struct rec_limits *lim,
                  struct arena *a, struct rec *r)
{
	struct cur c = {(const unsigned char *)line, (const unsigned char *)line + len, a, f};
	struct fields fl = {0};
	size_t i = 0;

	memset(r, 0, sizeof *r);
	while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
		i++;
	if (i == len)
		return RECFAST_BLANK; /* as rec_parse's blank() */
	if (!scan_object(&c, lim, &fl))
		return DECLINE;
	if (fl.seen & BIT(F_ID))
		return build_concept(&c, lim, &fl, r);
	return build_assoc(&c, &fl, r);
}

static bool all_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
		      (ch >= 'A' && ch <= 'F')))
			return false;
	}
	return true;
}

void recfast_id(struct recfast *f, const char *s, size_t len, sutra_id *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	/* sutra_id_parse's rule: hex is decoded, any other text is its MD5 */
	if (len == 0 || !f->md5_ctx || all_hex(s, len) ||
	    !EVP_DigestInit_ex2(f->md5_ctx, f->md5, NULL) ||
	    !EVP_DigestUpdate(f->md5_ctx, s, len) || !EVP_DigestFinal_ex(f->md5_ctx, md, &n) ||
	    n != SUTRA_ID_BYTES) {
		sutra_id_parse(s, len, out);
		return;
	}
	memcpy(out->b, md, SUTRA_ID_BYTES);
}

int recfast_init(struct recfast *f)
{
	*f = (struct recfast){0};
	f->md5 = EVP_MD_fetch(NULL, "MD5", NULL);
	f->md5_ctx = f->md5 ? EVP_MD_CTX_new() : NULL;
	if (f->md5 && !f->md5_ctx) {
		recfast_free(f);
		return -1;
	}
	return 0; /* without MD5, sutra_id_parse says why */
}

void recfast_free(struct recfast *f)
{
	EVP_MD_CTX_free(f->md5_ctx);
	EVP_MD_free(f->md5);
	free(f->vec);
	free(f->meta);
	*f = (struct recfast){0};
}
