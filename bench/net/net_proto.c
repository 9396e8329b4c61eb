/* net_proto.c - the benchmark's two wire protocols: pre-encoded requests and reply scanners.
 *
 * Sutra requests are encoded once with msgpuck, as a client would send them:
 * a 4-byte big-endian length, then a one-entry map {variant: {field: value}}
 * with the payload as a map by field name (SEED-PROTOCOL.md). Redis requests
 * are RESP arrays of bulk strings, as redis-cli and client libraries send
 * them. Each template carries a template key (32 hex characters) whose
 * offset is recorded, so a request costs one memcpy and one 32-byte copy.
 * The scanners cut exactly one reply off the stream by its framing (Sutra:
 * the length prefix; RESP: the type byte, CRLF lines and bulk lengths) and
 * check that it is the expected reply: a Sutra reply's variant name (in both
 * compact and named encodings), QueryConceptOk's found flag, a RESP bulk
 * string that is not nil, +OK. Anything else is an error reply whose text is
 * kept for the report. The self-test holds the byte examples of
 * SEED-PROTOCOL.md and of RESP, so the scanners can be checked without a
 * server.
 */
#include "net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpuck.h>

#define SUTRA_MAX_FRAME (100u << 20)

/* ---- templates ------------------------------------------------------------- */

static const char template_key[NET_KEY_LEN + 1] = "00000000000000000000000000000000";

/* Printable filler (fixed, so every run sends the same bytes). */
static void fill_content(char *p, size_t n)
{
	static const char alpha[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .";
	uint64_t x = 0x5eed5eedull;

	for (size_t i = 0; i < n; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		p[i] = alpha[(x >> 58) & 63];
	}
}

static int tmpl_alloc(net_tmpl *t, size_t cap, enum net_proto proto, enum net_expect want)
{
	memset(t, 0, sizeof(*t));
	t->buf = malloc(cap);
	t->id_off = -1;
	t->content_off = -1;
	t->proto = proto;
	t->expect = want;
	return t->buf ? 0 : -1;
}

/* Writes the big-endian frame length once the payload is encoded up to end. */
static void sutra_finish(net_tmpl *t, const char *end)
{
	uint32_t n = (uint32_t)(end - t->buf - 4);

	t->buf[0] = (char)(n >> 24);
	t->buf[1] = (char)(n >> 16);
	t->buf[2] = (char)(n >> 8);
	t->buf[3] = (char)n;
	t->len = (size_t)(end - t->buf);
}

/* Encodes "name": <template key> and records where the key went. */
static char *enc_key_field(net_tmpl *t, char *p, const char *name)
{
	p = mp_encode_str(p, name, (uint32_t)strlen(name));
	p = mp_encode_strl(p, NET_KEY_LEN);
	t->id_off = p - t->buf;
	memcpy(p, template_key, NET_KEY_LEN);
	return p + NET_KEY_LEN;
}

int np_sutra_query(net_tmpl *t)
{
	char *p;

	if (tmpl_alloc(t, 128, NP_SUTRA, NE_QUERY))
		return -1;
	p = t->buf + 4;
	p = mp_encode_map(p, 1);
	p = mp_encode_str(p, "QueryConcept", 12);
	p = mp_encode_map(p, 1);
	p = enc_key_field(t, p, "concept_id");
	sutra_finish(t, p);
	return 0;
}

/* LearnConcept {concept_id, content, embedding: [], strength 1.0, confidence
 * 0.9}: no vector, as the Python client sends it (embedding=[]). */
int np_sutra_learn(net_tmpl *t, size_t content_len)
{
	char *p;

	if (content_len < NET_KEY_LEN || tmpl_alloc(t, 256 + content_len, NP_SUTRA, NE_LEARN))
		return -1;
	p = t->buf + 4;
	p = mp_encode_map(p, 1);
	p = mp_encode_str(p, "LearnConcept", 12);
	p = mp_encode_map(p, 5);
	p = enc_key_field(t, p, "concept_id");
	p = mp_encode_str(p, "content", 7);
	p = mp_encode_strl(p, (uint32_t)content_len);
	t->content_off = p - t->buf;
	fill_content(p, content_len);
	p += content_len;
	p = mp_encode_str(p, "embedding", 9);
	p = mp_encode_array(p, 0);
	p = mp_encode_str(p, "strength", 8);
	p = mp_encode_float(p, 1.0f);
	p = mp_encode_str(p, "confidence", 10);
	p = mp_encode_float(p, 0.9f);
	sutra_finish(t, p);
	return 0;
}

/* The unit variant as a bare string. */
int np_sutra_health(net_tmpl *t)
{
	if (tmpl_alloc(t, 32, NP_SUTRA, NE_HEALTH))
		return -1;
	sutra_finish(t, mp_encode_str(t->buf + 4, "HealthCheck", 11));
	return 0;
}

int np_redis_get(net_tmpl *t)
{
	int n;

	if (tmpl_alloc(t, 64, NP_REDIS, NE_GET))
		return -1;
	n = sprintf(t->buf, "*2\r\n$3\r\nGET\r\n$%d\r\n", NET_KEY_LEN);
	t->id_off = n;
	n += sprintf(t->buf + n, "%s\r\n", template_key);
	t->len = (size_t)n;
	return 0;
}

int np_redis_set(net_tmpl *t, size_t value_len)
{
	int n;

	if (value_len < NET_KEY_LEN || tmpl_alloc(t, 96 + value_len, NP_REDIS, NE_SET))
		return -1;
	n = sprintf(t->buf, "*3\r\n$3\r\nSET\r\n$%d\r\n", NET_KEY_LEN);
	t->id_off = n;
	n += sprintf(t->buf + n, "%s\r\n$%zu\r\n", template_key, value_len);
	t->content_off = n;
	fill_content(t->buf + n, value_len);
	n += (int)value_len;
	memcpy(t->buf + n, "\r\n", 2);
	t->len = (size_t)n + 2;
	return 0;
}

int np_redis_ping(net_tmpl *t)
{
	if (tmpl_alloc(t, 32, NP_REDIS, NE_PONG))
		return -1;
	t->len = (size_t)sprintf(t->buf, "*1\r\n$4\r\nPING\r\n");
	return 0;
}

void np_free(net_tmpl *t)
{
	free(t->buf);
	t->buf = NULL;
}

void np_fill(const net_tmpl *t, const char *key, char *out)
{
	memcpy(out, t->buf, t->len);
	if (t->id_off >= 0)
		memcpy(out + t->id_off, key, NET_KEY_LEN);
	if (t->content_off >= 0)
		memcpy(out + t->content_off, key, NET_KEY_LEN);
}

/* ---- Sutra replies --------------------------------------------------------- */

static const char *const sutra_expected[] = {
    [NE_QUERY] = "QueryConceptOk",
    [NE_LEARN] = "LearnConceptOk",
    [NE_HEALTH] = "HealthCheckOk",
};

static int is_str(const char *p, uint32_t n, const char *s)
{
	return n == strlen(s) && memcmp(p, s, n) == 0;
}

/* Finds key in the map at *p (named encoding); leaves *p at its value. */
static int map_find(const char **p, const char *key)
{
	uint32_t n = mp_decode_map(p);

	for (uint32_t i = 0; i < n; i++) {
		uint32_t kl;
		const char *k;

		if (mp_typeof(**p) != MP_STR) {
			mp_next(p);
			mp_next(p);
			continue;
		}
		k = mp_decode_str(p, &kl);
		if (is_str(k, kl, key))
			return 0;
		mp_next(p);
	}
	return -1;
}

/* The first field of a payload: array element 0 (compact) or the named key. */
static int first_field(const char **p, const char *key)
{
	if (mp_typeof(**p) == MP_ARRAY)
		return mp_decode_array(p) >= 1 ? 0 : -1;
	if (mp_typeof(**p) == MP_MAP)
		return map_find(p, key);
	return -1;
}

/* Error{message}: copies the message into err. */
static void error_text(const char *p, char *err, size_t errn)
{
	uint32_t n;
	const char *s;

	if (first_field(&p, "message") == 0 && mp_typeof(*p) == MP_STR) {
		s = mp_decode_str(&p, &n);
		snprintf(err, errn, "Error reply: %.*s", (int)n, s);
	} else {
		snprintf(err, errn, "Error reply (no message)");
	}
}

/* QueryConceptOk's found flag must be true (the key was preloaded). */
static int check_found(const char *p, char *err, size_t errn)
{
	if (first_field(&p, "found") != 0 || mp_typeof(*p) != MP_BOOL) {
		snprintf(err, errn, "QueryConceptOk without a found flag");
		return 0;
	}
	if (!mp_decode_bool(&p)) {
		snprintf(err, errn, "QueryConceptOk found=false for a preloaded key");
		return 0;
	}
	return 1;
}

/* Checks one complete payload [p, end): *ok and err as in np_scan. */
static void sutra_check(enum net_expect want, const char *p, const char *end, int *ok, char *err,
                        size_t errn)
{
	const char *q = p, *name;
	uint32_t nl;

	*ok = 0;
	if (mp_check(&q, end) != 0) {
		snprintf(err, errn, "reply is not valid MessagePack");
		return;
	}
	if (mp_typeof(*p) == MP_MAP && mp_decode_map(&p) == 1 && mp_typeof(*p) == MP_STR) {
		name = mp_decode_str(&p, &nl);
	} else if (mp_typeof(*p) == MP_STR) {
		name = mp_decode_str(&p, &nl);
		snprintf(err, errn, "unexpected reply '%.*s'", (int)nl, name);
		return;
	} else {
		snprintf(err, errn, "reply is neither a one-entry map nor a variant name");
		return;
	}
	if (is_str(name, nl, "Error")) {
		error_text(p, err, errn);
	} else if (!is_str(name, nl, sutra_expected[want])) {
		snprintf(err, errn, "unexpected reply '%.*s' (wanted %s)", (int)nl, name,
		         sutra_expected[want]);
	} else {
		*ok = want == NE_QUERY ? check_found(p, err, errn) : 1;
	}
}

static long sutra_scan(enum net_expect want, const char *p, size_t n, int *ok, char *err,
                       size_t errn)
{
	const unsigned char *u = (const unsigned char *)p;
	uint32_t len;

	if (n < 4)
		return 0;
	len = (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
	if (len == 0 || len > SUTRA_MAX_FRAME) {
		snprintf(err, errn, "bad reply frame length %u", len);
		return -1;
	}
	if (n - 4 < len)
		return 0;
	sutra_check(want, p + 4, p + 4 + len, ok, err, errn);
	return (long)len + 4;
}

/* ---- RESP replies ---------------------------------------------------------- */

/* Length of the line at p including CRLF; 0 if incomplete. */
static size_t resp_line(const char *p, size_t n)
{
	const char *lf = memchr(p, '\n', n);

	return lf ? (size_t)(lf - p) + 1 : 0;
}

static long resp_bulk(enum net_expect want, const char *p, size_t n, size_t line, int *ok,
                      char *err, size_t errn)
{
	char *end;
	long blen = strtol(p + 1, &end, 10);

	if (end == p + 1 || *end != '\r' || blen < -1 || blen > (long)SUTRA_MAX_FRAME) {
		snprintf(err, errn, "bad RESP bulk length");
		return -1;
	}
	if (blen == -1) {
		snprintf(err, errn, "GET returned nil for a preloaded key");
		return (long)line;
	}
	if (n < line + (size_t)blen + 2)
		return 0;
	*ok = want == NE_GET;
	if (!*ok)
		snprintf(err, errn, "unexpected bulk string reply");
	return (long)(line + (size_t)blen + 2);
}

static long resp_scan(enum net_expect want, const char *p, size_t n, int *ok, char *err,
                      size_t errn)
{
	size_t line = resp_line(p, n);
	int len = (int)(line > 2 ? line - 2 : 0);

	*ok = 0;
	if (!line)
		return n > (64u << 10) ? (snprintf(err, errn, "RESP line too long"), -1) : 0;
	switch (p[0]) {
	case '+':
		*ok = (want == NE_SET && len == 3 && memcmp(p, "+OK", 3) == 0) ||
		      (want == NE_PONG && len == 5 && memcmp(p, "+PONG", 5) == 0);
		if (!*ok)
			snprintf(err, errn, "unexpected reply '%.*s'", len, p);
		return (long)line;
	case '-':
		snprintf(err, errn, "Error reply: %.*s", len > 1 ? len - 1 : 0, p + 1);
		return (long)line;
	case '$':
		return resp_bulk(want, p, n, line, ok, err, errn);
	default:
		snprintf(err, errn, "unexpected RESP type '%c'", p[0]);
		return -1;
	}
}

long np_scan(enum net_proto proto, enum net_expect want, const char *p, size_t n, int *ok,
             char *err, size_t errn)
{
	*ok = 0;
	if (proto == NP_SUTRA)
		return sutra_scan(want, p, n, ok, err, errn);
	return resp_scan(want, p, n, ok, err, errn);
}

/* ---- self-test ------------------------------------------------------------- */

typedef struct scan_case {
	const char *what;
	enum net_proto proto;
	enum net_expect want;
	const char *bytes;
	size_t len;
	long consumed; /* expected return */
	int ok;
	const char *err; /* expected substring of err, or NULL */
} scan_case;

#define B(s) s, sizeof(s) - 1

/* SEED-PROTOCOL.md's examples, with the frame length in front. */
static const scan_case scan_cases[] = {
    {"LearnConceptOk{5} compact", NP_SUTRA, NE_LEARN,
     B("\x00\x00\x00\x12\x81\xae"
       "LearnConceptOk\x91\x05"),
     22, 1, NULL},
    {"QueryConceptOk compact", NP_SUTRA, NE_QUERY,
     B("\x00\x00\x00\x21\x81\xae"
       "QueryConceptOk\x95\xc3\xa2"
       "ab\xa1x\xca\x3f\x80\x00\x00\xca\x3f\x00\x00\x00"),
     37, 1, NULL},
    {"QueryConceptOk not found", NP_SUTRA, NE_QUERY,
     B("\x00\x00\x00\x16\x81\xae"
       "QueryConceptOk\x95\xc2\xa0\xa0\x00\x00"),
     26, 0, "found=false"},
    {"QueryConceptOk named", NP_SUTRA, NE_QUERY,
     B("\x00\x00\x00\x18\x81\xae"
       "QueryConceptOk\x81\xa5"
       "found\xc3"),
     28, 1, NULL},
    {"LearnConceptOk named", NP_SUTRA, NE_LEARN,
     B("\x00\x00\x00\x1b\x81\xae"
       "LearnConceptOk\x81\xa8sequence\x05"),
     31, 1, NULL},
    {"Error compact", NP_SUTRA, NE_LEARN,
     B("\x00\x00\x00\x0a\x81\xa5"
       "Error\x91\xa1m"),
     14, 0, "Error reply: m"},
    {"Error named", NP_SUTRA, NE_QUERY,
     B("\x00\x00\x00\x12\x81\xa5"
       "Error\x81\xa7message\xa1m"),
     22, 0, "Error reply: m"},
    {"FlushOk (bare) for a learn", NP_SUTRA, NE_LEARN,
     B("\x00\x00\x00\x08\xa7"
       "FlushOk"),
     12, 0, "unexpected reply 'FlushOk'"},
    {"wrong variant", NP_SUTRA, NE_QUERY,
     B("\x00\x00\x00\x12\x81\xae"
       "LearnConceptOk\x91\x05"),
     22, 0, "unexpected reply 'LearnConceptOk'"},
    {"partial frame", NP_SUTRA, NE_LEARN,
     B("\x00\x00\x00\x12\x81\xae"
       "Learn"),
     0, 0, NULL},
    {"partial length", NP_SUTRA, NE_LEARN, B("\x00\x00"), 0, 0, NULL},
    {"truncated msgpack", NP_SUTRA, NE_LEARN, B("\x00\x00\x00\x02\x81\xae"), 6, 0, "not valid"},
    {"zero length", NP_SUTRA, NE_LEARN, B("\x00\x00\x00\x00"), -1, 0, "length"},
    {"RESP +OK", NP_REDIS, NE_SET, B("+OK\r\n"), 5, 1, NULL},
    {"RESP +PONG", NP_REDIS, NE_PONG, B("+PONG\r\n"), 7, 1, NULL},
    {"RESP bulk", NP_REDIS, NE_GET, B("$3\r\nabc\r\n+OK"), 9, 1, NULL},
    {"RESP partial bulk", NP_REDIS, NE_GET, B("$3\r\nab"), 0, 0, NULL},
    {"RESP nil", NP_REDIS, NE_GET, B("$-1\r\n"), 5, 0, "nil"},
    {"RESP error", NP_REDIS, NE_SET, B("-ERR oops\r\n"), 11, 0, "Error reply: ERR oops"},
    {"RESP partial line", NP_REDIS, NE_SET, B("+O"), 0, 0, NULL},
    {"RESP array", NP_REDIS, NE_GET, B("*1\r\n"), -1, 0, "type"},
};

static int check_scan(const scan_case *c)
{
	char err[256] = "";
	int ok = -1;
	long got = np_scan(c->proto, c->want, c->bytes, c->len, &ok, err, sizeof(err));

	if (got == c->consumed && (got <= 0 || ok == c->ok) && (!c->err || strstr(err, c->err)))
		return 0;
	printf("self-test FAILED: %s: returned %ld ok=%d err='%s' (wanted %ld ok=%d err~'%s')\n",
	       c->what, got, ok, err, c->consumed, c->ok, c->err ? c->err : "");
	return 1;
}

/* QueryConcept {concept_id: "0123456789abcdef0123456789abcdef"}, by hand. */
static const char query_bytes[] = "\x00\x00\x00\x3c\x81\xac"
                                  "QueryConcept\x81\xaa"
                                  "concept_id\xd9\x20"
                                  "0123456789abcdef0123456789abcdef";

static int check_bytes(const char *what, const net_tmpl *t, const char *key, const char *want,
                       size_t n)
{
	char buf[512];

	np_fill(t, key, buf);
	if (t->len == n && memcmp(buf, want, n) == 0)
		return 0;
	printf("self-test FAILED: %s encodes to %zu bytes, wanted %zu\n", what, t->len, n);
	return 1;
}

/* Decodes the LearnConcept template field by field. */
static int check_learn(void)
{
	static const char *const names[] = {"concept_id", "content", "embedding", "strength",
	                                    "confidence"};
	net_tmpl t;
	char buf[512];
	const char *p = buf + 4, *k;
	uint32_t n, i;
	int bad = 0;

	if (np_sutra_learn(&t, 100))
		return 1;
	np_fill(&t, "0123456789abcdef0123456789abcdef", buf);
	bad |= t.len != 4 + ((uint32_t)(unsigned char)buf[2] << 8 | (unsigned char)buf[3]);
	bad |= mp_decode_map(&p) != 1;
	k = mp_decode_str(&p, &n);
	bad |= !is_str(k, n, "LearnConcept") || mp_decode_map(&p) != 5;
	for (i = 0; i < 5 && !bad; i++) {
		k = mp_decode_str(&p, &n);
		bad |= !is_str(k, n, names[i]);
		if (i == 1) {
			k = mp_decode_str(&p, &n);
			bad |= n != 100 || memcmp(k, "0123456789abcdef", 16) != 0;
		} else {
			mp_next(&p);
		}
	}
	bad |= p != buf + t.len;
	np_free(&t);
	if (bad)
		printf("self-test FAILED: LearnConcept template does not decode as expected\n");
	return bad;
}

int np_self_test(void)
{
	static const char key[] = "0123456789abcdef0123456789abcdef";
	static const char get_bytes[] = "*2\r\n$3\r\nGET\r\n$32\r\n"
	                                "0123456789abcdef0123456789abcdef\r\n";
	static const char health_bytes[] = "\x00\x00\x00\x0c\xab"
	                                   "HealthCheck";
	net_tmpl t;
	int failed = 0;

	for (size_t i = 0; i < sizeof(scan_cases) / sizeof(scan_cases[0]); i++)
		failed += check_scan(&scan_cases[i]);
	if (np_sutra_query(&t) == 0) {
		failed +=
		    check_bytes("QueryConcept", &t, key, query_bytes, sizeof(query_bytes) - 1);
		np_free(&t);
	}
	if (np_redis_get(&t) == 0) {
		failed += check_bytes("GET", &t, key, get_bytes, sizeof(get_bytes) - 1);
		np_free(&t);
	}
	if (np_sutra_health(&t) == 0) {
		failed +=
		    check_bytes("HealthCheck", &t, key, health_bytes, sizeof(health_bytes) - 1);
		np_free(&t);
	}
	failed += check_learn();
	return failed;
}
