/* record.c - parsing and checking one JSONL record (see record.h).
 *
 * jansson decodes the line (duplicate keys refused, NUL allowed in strings
 * so that content may hold it; keys and metadata may not, the engine keeps
 * them NUL-terminated). Then each field is checked in the order a reader
 * would look for the mistake: its JSON type, then its range or limit. Every
 * float is checked to be finite and representable as a 32-bit float before
 * it is narrowed, so 1e39 is an error rather than infinity.
 */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

static const char *const type_names[SUTRA_ASSOC_TYPES] = {"semantic", "causal", "temporal",
                                                          "hierarchical", "compositional"};

static const char *const concept_fields[] = {"id",         "content",  "vector", "strength",
                                             "confidence", "metadata", NULL};
static const char *const assoc_fields[] = {"source", "target", "type", "confidence", NULL};

#define WIRE_MAX_KEY 255 /* metadata key bytes, engine and wire */

const char *rec_type_name(unsigned type)
{
	return type < SUTRA_ASSOC_TYPES ? type_names[type] : "?";
}

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -1;
}

/* "a string", "a number", ... for messages. */
static const char *kind_of(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

/* A JSON number as a finite 32-bit float. */
static int to_f32(const json_t *v, const char *field, float *out, char *err, size_t len)
{
	if (!json_is_number(v))
		return fail(err, len, "field \"%s\": expected a number, got %s", field, kind_of(v));
	double d = json_number_value(v);
	if (!isfinite(d) || fabs(d) > FLT_MAX)
		return fail(err, len, "field \"%s\": %g is out of range for a 32-bit float", field,
		            d);
	*out = (float)d;
	return 0;
}

/* An optional number within [lo, hi]; absent or null leaves *out alone. */
static int opt_range(const json_t *obj, const char *field, double lo, double hi, float *out,
                     char *err, size_t len)
{
	const json_t *v = json_object_get(obj, field);

	if (!v || json_is_null(v))
		return 0;
	if (to_f32(v, field, out, err, len) < 0)
		return -1;
	if (*out < lo && hi == FLT_MAX)
		return fail(err, len, "field \"%s\": %g is negative (allowed: 0 or more)", field,
		            (double)*out);
	if (*out < lo || *out > hi)
		return fail(err, len, "field \"%s\": %g is outside the allowed range %g..%g", field,
		            (double)*out, lo, hi);
	return 0;
}

static int no_unknown_fields(const json_t *obj, const char *const *allowed, const char *what,
                             char *err, size_t len)
{
	const char *key;
	const json_t *v;

	json_object_foreach((json_t *)obj, key, v)
	{
		size_t i = 0;
		while (allowed[i] && strcmp(allowed[i], key) != 0)
			i++;
		if (!allowed[i])
			return fail(err, len, "field \"%s\": not %s field (%s)", key, what,
			            allowed == concept_fields
			                ? "id, content, vector, strength, confidence, metadata"
			                : "source, target, type, confidence");
	}
	return 0;
}

/* A required, non-empty id string, parsed as the engine parses ids. */
static int get_id(const json_t *obj, const char *field, sutra_id *id, char *hex, const char **text,
                  char *err, size_t len)
{
	const json_t *v = json_object_get(obj, field);

	if (!v)
		return fail(err, len, "field \"%s\": missing", field);
	if (!json_is_string(v))
		return fail(err, len, "field \"%s\": expected a string, got %s", field, kind_of(v));
	if (json_string_length(v) == 0)
		return fail(err, len, "field \"%s\": an id must not be empty", field);
	*text = json_string_value(v);
	sutra_id_parse(*text, json_string_length(v), id);
	sutra_id_format(id, hex);
	return 0;
}

static int parse_vector(const json_t *obj, const struct rec_limits *lim, struct rec *r, char *err,
                        size_t len)
{
	const json_t *v = json_object_get(obj, "vector");
	char field[32];

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return fail(err, len, "field \"vector\": expected an array of numbers, got %s",
		            kind_of(v));
	size_t n = json_array_size(v);
	if (n == 0)
		return fail(err, len, "field \"vector\": empty (leave it out, or null, for none)");
	if (lim->dimension && n != lim->dimension)
		return fail(err, len,
		            "field \"vector\": %zu numbers, but the store's dimension is %u", n,
		            lim->dimension);
	if (n > 4096)
		return fail(err, len, "field \"vector\": %zu numbers, over the limit of 4096", n);
	if (!(r->vector = malloc(n * sizeof *r->vector)))
		return fail(err, len, "field \"vector\": out of memory");
	for (size_t i = 0; i < n; i++) {
		snprintf(field, sizeof field, "vector[%zu]", i);
		if (to_f32(json_array_get(v, i), field, &r->vector[i], err, len) < 0)
			return -1;
	}
	r->dim = (uint32_t)n;
	return 0;
}

/* Checks one metadata entry and adds its encoded size (op.h: u16 key_len,
 * u32 value_len, key, NUL, value, NUL) to *bytes. */
static int meta_entry(const char *key, const json_t *v, uint64_t *bytes, char *err, size_t len)
{
	size_t kl = strlen(key);

	if (kl == 0 || kl > WIRE_MAX_KEY)
		return fail(err, len,
		            "field \"metadata\": key \"%.40s\" is %zu bytes (allowed 1..%d)", key,
		            kl, WIRE_MAX_KEY);
	if (!json_is_string(v))
		return fail(err, len, "field \"metadata.%s\": expected a string, got %s", key,
		            kind_of(v));
	if (strlen(json_string_value(v)) != json_string_length(v))
		return fail(err, len,
		            "field \"metadata.%s\": a value must not contain NUL (\\u0000)", key);
	*bytes += 6 + kl + 1 + json_string_length(v) + 1;
	return 0;
}

static int parse_meta(const json_t *obj, const struct rec_limits *lim, struct rec *r, char *err,
                      size_t len)
{
	const json_t *m = json_object_get(obj, "metadata"), *v;
	const char *key;
	uint64_t bytes = 4;
	size_t n, i = 0;

	if (!m || json_is_null(m))
		return 0;
	if (!json_is_object(m))
		return fail(err, len, "field \"metadata\": expected an object of strings, got %s",
		            kind_of(m));
	if ((n = json_object_size(m)) == 0)
		return 0;
	if (lim->max_meta_entries && n > lim->max_meta_entries)
		return fail(err, len, "field \"metadata\": %zu entries, over the limit of %u", n,
		            lim->max_meta_entries);
	if (!(r->meta = calloc(n, sizeof *r->meta)))
		return fail(err, len, "field \"metadata\": out of memory");
	json_object_foreach((json_t *)m, key, v)
	{
		if (meta_entry(key, v, &bytes, err, len) < 0)
			return -1;
		r->meta[i].key = key;
		r->meta[i++].value = json_string_value(v);
	}
	if (lim->max_meta_bytes && bytes > lim->max_meta_bytes)
		return fail(err, len,
		            "field \"metadata\": %llu bytes encoded, over the limit of %u "
		            "(max_meta_bytes)",
		            (unsigned long long)bytes, lim->max_meta_bytes);
	r->meta_count = n;
	r->meta_bytes = (uint32_t)bytes;
	return 0;
}

static int parse_content(const json_t *obj, const struct rec_limits *lim, struct rec *r, char *err,
                         size_t len)
{
	const json_t *v = json_object_get(obj, "content");

	r->content = "";
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return fail(err, len, "field \"content\": expected a string, got %s", kind_of(v));
	r->content = json_string_value(v);
	r->content_len = json_string_length(v);
	if (lim->max_content && r->content_len > lim->max_content)
		return fail(
		    err, len,
		    "field \"content\": %zu bytes, over the limit of %u (max_content_bytes)",
		    r->content_len, lim->max_content);
	return 0;
}

static int parse_concept(const json_t *obj, const struct rec_limits *lim, struct rec *r, char *err,
                         size_t len)
{
	r->kind = REC_CONCEPT;
	r->strength = 1.0f;
	r->confidence = 1.0f;
	if (no_unknown_fields(obj, concept_fields, "a concept", err, len) < 0 ||
	    get_id(obj, "id", &r->id, r->id_hex, &r->id_text, err, len) < 0 ||
	    parse_content(obj, lim, r, err, len) < 0 || parse_vector(obj, lim, r, err, len) < 0 ||
	    opt_range(obj, "strength", 0, FLT_MAX, &r->strength, err, len) < 0 ||
	    opt_range(obj, "confidence", 0, 1, &r->confidence, err, len) < 0 ||
	    parse_meta(obj, lim, r, err, len) < 0)
		return -1;
	r->cost = 72 + r->content_len + (size_t)r->dim * 5 + r->meta_bytes;
	return 0;
}

/* "type": a name or 0..4; absent means semantic. */
static int parse_type(const json_t *obj, unsigned *type, char *err, size_t len)
{
	const json_t *v = json_object_get(obj, "type");

	*type = SUTRA_ASSOC_SEMANTIC;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		json_int_t t = json_integer_value(v);
		if (t < 0 || t >= SUTRA_ASSOC_TYPES)
			return fail(err, len, "field \"type\": %lld is outside 0..4", (long long)t);
		*type = (unsigned)t;
		return 0;
	}
	if (json_is_string(v))
		for (unsigned t = 0; t < SUTRA_ASSOC_TYPES; t++)
			if (strcmp(json_string_value(v), type_names[t]) == 0) {
				*type = t;
				return 0;
			}
	return fail(err, len,
	            "field \"type\": expected semantic, causal, temporal, hierarchical, "
	            "compositional or 0..4, got %s%s%.40s%s",
	            kind_of(v), json_is_string(v) ? " \"" : "",
	            json_is_string(v) ? json_string_value(v) : "", json_is_string(v) ? "\"" : "");
}

static int parse_assoc(const json_t *obj, struct rec *r, char *err, size_t len)
{
	r->kind = REC_ASSOC;
	r->confidence = 1.0f;
	if (no_unknown_fields(obj, assoc_fields, "an association", err, len) < 0 ||
	    get_id(obj, "source", &r->source, r->source_hex, &r->source_text, err, len) < 0 ||
	    get_id(obj, "target", &r->target, r->target_hex, &r->target_text, err, len) < 0 ||
	    parse_type(obj, &r->type, err, len) < 0 ||
	    opt_range(obj, "confidence", 0, 1, &r->confidence, err, len) < 0)
		return -1;
	r->cost = 96;
	return 0;
}

static int blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

int rec_parse(const char *line, size_t len, const struct rec_limits *lim, struct rec *r, char *err,
              size_t errlen)
{
	json_error_t je;
	int rc;

	memset(r, 0, sizeof *r);
	if (blank(line, len))
		return 1;
	r->root = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
	if (!r->root)
		return fail(err, errlen, "invalid JSON at column %d: %s", je.column, je.text);
	if (!json_is_object(r->root))
		rc = fail(err, errlen, "expected a JSON object, got %s", kind_of(r->root));
	else if (json_object_get(r->root, "id"))
		rc = parse_concept(r->root, lim, r, err, errlen);
	else if (json_object_get(r->root, "source") || json_object_get(r->root, "target"))
		rc = parse_assoc(r->root, r, err, errlen);
	else
		rc = fail(err, errlen,
		          "expected a concept (with \"id\") or an association (with \"source\" "
		          "and \"target\")");
	if (rc < 0) {
		int kind = r->kind; /* kept: two-pass imports report each error once */
		rec_free(r);
		r->kind = kind;
	}
	return rc;
}

void rec_free(struct rec *r)
{
	if (r->owner) {
		r->owner->release(r->owner);
	} else {
		if (r->root)
			json_decref(r->root);
		free(r->vector);
		free(r->meta);
	}
	memset(r, 0, sizeof *r);
}
