/* lines.c - bounded line reader (see lines.h). getc_unlocked on a stdio
 * buffer is fast enough here: parsing the JSON costs far more per byte.
 */
#include <stdlib.h>

#include "lines.h"

void lines_init(struct lines *r, FILE *f, size_t max)
{
	*r = (struct lines){.f = f, .max = max};
}

void lines_free(struct lines *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = 0;
}

static int put(struct lines *r, char c)
{
	if (r->len + 1 >= r->cap) {
		size_t cap = r->cap * 2;
		if (cap > r->max + 1)
			cap = r->max + 1;
		char *b = realloc(r->buf, cap);
		if (!b)
			return -1;
		r->buf = b;
		r->cap = cap;
	}
	r->buf[r->len++] = c;
	return 0;
}

int lines_next(struct lines *r)
{
	int c;
	bool any = false;

	r->len = 0;
	r->too_long = false;
	if (!r->buf && !(r->buf = malloc(r->cap = 4096)))
		return -1;
	while ((c = getc_unlocked(r->f)) != EOF) {
		r->bytes++;
		any = true;
		if (c == '\n')
			break;
		if (r->too_long)
			continue;
		if (r->len == r->max) {
			r->too_long = true;
			r->len = 0;
			continue;
		}
		if (put(r, (char)c) < 0)
			return -1;
	}
	if (ferror(r->f))
		return -1;
	if (!any)
		return 0;
	r->line++;
	r->buf[r->len] = 0;
	return 1;
}
