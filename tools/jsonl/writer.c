/* writer.c - JSONL output with a fixed field order and shortest round-trip
 * floats (see writer.h).
 *
 * Shortest floats: try 6, 7, 8 and 9 significant digits (9 always round-
 * trips a float) and keep the first whose reading through strtod and a
 * cast to float gives the same bits. Reading through a double is what the
 * importer does (jansson yields doubles), so the check matches the reader.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "writer.h"

bool jw_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		unsigned c = p[i];
		size_t len = c < 0x80         ? 1
		             : (c >> 5) == 6  ? 2
		             : (c >> 4) == 14 ? 3
		             : (c >> 3) == 30 ? 4
		                              : 0;
		if (len == 0 || i + len > n || (len == 2 && c < 0xc2))
			return false;
		uint32_t cp = len == 1 ? c : c & (0x7f >> len);
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		/* overlong 3/4-byte forms, surrogates, beyond U+10FFFF */
		if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		i += len;
	}
	return true;
}

void jw_float_str(float f, char out[32])
{
	for (int digits = 6; digits <= 9; digits++) {
		snprintf(out, 32, "%.*g", digits, (double)f);
		float back = (float)strtod(out, NULL);
		if (memcmp(&back, &f, sizeof f) == 0)
			return;
	}
}

void jw_string(FILE *f, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0; /* start of the bytes not yet written */

	putc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		fwrite(s + run, 1, i - run, f);
		run = i + 1;
		putc('\\', f);
		switch (c) {
		case '"':
		case '\\':
			putc(c, f);
			break;
		case '\n':
			putc('n', f);
			break;
		case '\t':
			putc('t', f);
			break;
		case '\r':
			putc('r', f);
			break;
		default:
			fprintf(f, "u00%c%c", hex[c >> 4], hex[c & 15]);
		}
	}
	fwrite(s + run, 1, n - run, f);
	putc('"', f);
}

static void put_float(FILE *f, float v)
{
	char buf[32];

	jw_float_str(v, buf);
	fputs(buf, f);
}

static void put_vector(FILE *f, const float *v, uint32_t dim)
{
	fputs(",\"vector\":[", f);
	for (uint32_t i = 0; i < dim; i++) {
		if (i)
			putc(',', f);
		put_float(f, v[i]);
	}
	putc(']', f);
}

static void put_meta(FILE *f, const sutra_meta_entry *m, size_t n)
{
	fputs(",\"metadata\":{", f);
	for (size_t i = 0; i < n; i++) {
		if (i)
			putc(',', f);
		jw_string(f, m[i].key, strlen(m[i].key));
		putc(':', f);
		jw_string(f, m[i].value, strlen(m[i].value));
	}
	putc('}', f);
}

void jw_concept(FILE *f, const struct jw_concept *c)
{
	fputs("{\"id\":", f);
	jw_string(f, c->id, strlen(c->id));
	fputs(",\"content\":", f);
	jw_string(f, c->content, c->content_len);
	if (c->vector)
		put_vector(f, c->vector, c->dim);
	if (c->scores) {
		fputs(",\"strength\":", f);
		put_float(f, c->strength);
		fputs(",\"confidence\":", f);
		put_float(f, c->confidence);
	}
	if (c->meta_count)
		put_meta(f, c->meta, c->meta_count);
	fputs("}\n", f);
}

void jw_assoc(FILE *f, const char *source, const char *target, unsigned type, float confidence)
{
	fputs("{\"source\":", f);
	jw_string(f, source, strlen(source));
	fputs(",\"target\":", f);
	jw_string(f, target, strlen(target));
	fprintf(f, ",\"type\":\"%s\",\"confidence\":", rec_type_name(type));
	put_float(f, confidence);
	fputs("}\n", f);
}
