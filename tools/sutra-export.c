/* sutra-export - writes a store directory as JSON Lines that sutra-import
 * reads back: every concept, then every association.
 *
 * The output is sorted (concepts by id, associations by source, target and
 * type) so that exporting the same data twice gives the same bytes, which
 * is what makes export -> import -> export a check: the engine's scans
 * follow its hash table, whose order depends on the store's history. To
 * sort, the ids are collected first (16 bytes per concept), then each
 * concept is read with sutra_get and its outgoing associations with
 * sutra_neighbors; --unsorted streams the scans instead (no memory, any
 * order). Timestamps and degrees are not exported: an import cannot set
 * them.
 *
 * The store is opened in this process, so a server using the directory must
 * be stopped first (the directory lock refuses a second opener): the
 * protocol has no scan request. The vector index is not opened (export
 * never searches), so a store whose index needs rebuilding exports at once.
 * Exit status: 0 written, 1 errors (a concept whose text is not valid UTF-8
 * cannot be written as JSON and is skipped, with its id), 2 usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonl/progress.h"
#include "jsonl/writer.h"
#include "store/checkpoint.h" /* manifest_read: the store's dimension */
#include "sutra/sutra.h"

#define EXIT_ERRORS 1
#define EXIT_USAGE  2

struct exporter {
	sutra_db *db;
	FILE *out;
	struct progress pg;
	uint64_t concepts, assocs, errors;
	sutra_meta_entry *meta; /* scratch for one concept's metadata */
	size_t meta_cap;
	sutra_neighbor *nb; /* scratch for one concept's associations */
	size_t nb_cap;
};

static void usage(FILE *f)
{
	fputs(
	    "usage: sutra-export --dir PATH [--out FILE] [--unsorted] [--progress|--no-progress]\n"
	    "\n"
	    "Writes every concept, then every association, of the store in PATH as JSON\n"
	    "Lines (the format sutra-import reads; docs/IMPORT.md) to standard output or\n"
	    "FILE (written beside it and renamed when complete). Concepts are sorted by\n"
	    "id and associations by source, target and type, so the same data always\n"
	    "gives the same bytes; --unsorted streams in scan order instead (no memory\n"
	    "for the id list). Timestamps and degrees are not written.\n"
	    "\n"
	    "Works on a directory only: the protocol has no scan request, and the store's\n"
	    "lock admits one process, so stop a sutra-server using PATH first.\n"
	    "\n"
	    "  --dir PATH      the store directory (required; not created)\n"
	    "  --out FILE      write FILE instead of standard output\n"
	    "  --unsorted      scan order, streamed\n"
	    "  --progress      show progress on stderr even when it is not a terminal\n"
	    "  --no-progress   never show progress\n"
	    "  -h, --help      this text\n"
	    "\n"
	    "Exit status: 0 written, 1 errors (each named on stderr), 2 usage error.\n",
	    f);
}

static void export_error(struct exporter *x, const sutra_id *id, const char *what)
{
	char hex[SUTRA_ID_HEX];

	sutra_id_format(id, hex);
	progress_clear(&x->pg);
	fprintf(stderr,
	        "sutra-export: concept %s: %s is not valid UTF-8; JSON cannot hold it "
	        "(skipped)\n",
	        hex, what);
	x->errors++;
}

/* The concept's metadata as entries, checked to be UTF-8. */
static int collect_meta(struct exporter *x, const sutra_concept *c, size_t *n)
{
	const char *k, *v;
	size_t pos = 0;

	*n = 0;
	if (c->meta_count > x->meta_cap) {
		sutra_meta_entry *m = realloc(x->meta, c->meta_count * sizeof *m);
		if (!m)
			return -1;
		x->meta = m;
		x->meta_cap = c->meta_count;
	}
	while (*n < x->meta_cap && sutra_meta_next(c, &pos, &k, &v)) {
		if (!jw_utf8_valid(k, strlen(k)) || !jw_utf8_valid(v, strlen(v))) {
			export_error(x, &c->id, "a metadata entry");
			return 1;
		}
		x->meta[(*n)++] = (sutra_meta_entry){k, v};
	}
	return 0;
}

static int write_concept(struct exporter *x, const sutra_concept *c)
{
	char hex[SUTRA_ID_HEX];
	size_t nmeta;
	int rc;

	if (!jw_utf8_valid(c->content, c->content_len)) {
		export_error(x, &c->id, "its content");
		return 0;
	}
	if ((rc = collect_meta(x, c, &nmeta)) != 0)
		return rc < 0 ? SUTRA_ENOMEM : 0;
	sutra_id_format(&c->id, hex);
	struct jw_concept w = {.id = hex,
	                       .content = c->content,
	                       .content_len = c->content_len,
	                       .vector = c->vector,
	                       .dim = c->vector_dim,
	                       .scores = true,
	                       .strength = c->strength,
	                       .confidence = c->confidence,
	                       .meta = x->meta,
	                       .meta_count = nmeta};
	jw_concept(x->out, &w);
	x->concepts++;
	progress_update(&x->pg, 0, x->concepts + x->assocs);
	return ferror(x->out) ? SUTRA_EIO : 0;
}

static int write_assoc(struct exporter *x, const sutra_id *s, const sutra_id *t, unsigned type,
                       float conf)
{
	char a[SUTRA_ID_HEX], b[SUTRA_ID_HEX];

	sutra_id_format(s, a);
	sutra_id_format(t, b);
	jw_assoc(x->out, a, b, type, conf);
	x->assocs++;
	progress_update(&x->pg, 0, x->concepts + x->assocs);
	return ferror(x->out) ? SUTRA_EIO : 0;
}

/* ---- unsorted: straight from the scans -------------------------------------------- */

static int on_concept(void *ctx, const sutra_concept *c)
{
	return write_concept(ctx, c);
}

static int on_assoc(void *ctx, const sutra_id *s, const sutra_id *t, unsigned type, float conf)
{
	return write_assoc(ctx, s, t, type, conf);
}

static int export_unsorted(struct exporter *x)
{
	int rc = sutra_scan(x->db, on_concept, x);

	return rc ? rc : sutra_scan_associations(x->db, on_assoc, x);
}

/* ---- sorted: ids first, then each concept and its outgoing associations ------------ */

struct idlist {
	sutra_id *ids;
	size_t n, cap;
};

static int on_id(void *ctx, const sutra_concept *c)
{
	struct idlist *l = ctx;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4096;
		sutra_id *ids = realloc(l->ids, cap * sizeof *ids);
		if (!ids)
			return SUTRA_ENOMEM;
		l->ids = ids;
		l->cap = cap;
	}
	l->ids[l->n++] = c->id;
	return 0;
}

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, SUTRA_ID_BYTES);
}

static int cmp_neighbor(const void *a, const void *b)
{
	const sutra_neighbor *x = a, *y = b;
	int c = memcmp(&x->id, &y->id, SUTRA_ID_BYTES);

	return c ? c : (int)x->type - (int)y->type;
}

/* Fills x->nb with the outgoing associations of id, sorted. */
static int out_neighbors(struct exporter *x, const sutra_id *id, size_t *n)
{
	size_t total = 0;
	int rc;

	while ((rc = sutra_neighbors(x->db, id, SUTRA_DIR_OUT, SUTRA_TYPE_ANY, x->nb, x->nb_cap,
	                             &total)) == 0 &&
	       total > x->nb_cap) {
		sutra_neighbor *nb = realloc(x->nb, total * sizeof *nb);
		if (!nb)
			return SUTRA_ENOMEM;
		x->nb = nb;
		x->nb_cap = total;
	}
	*n = rc == 0 ? total : 0;
	if (*n > 1)
		qsort(x->nb, total, sizeof *x->nb, cmp_neighbor);
	return rc == SUTRA_ENOTFOUND ? 0 : rc;
}

static int export_sorted_assocs(struct exporter *x, const struct idlist *l)
{
	int rc = 0;

	for (size_t i = 0; i < l->n && rc == 0; i++) {
		size_t n;
		rc = out_neighbors(x, &l->ids[i], &n);
		for (size_t k = 0; k < n && rc == 0; k++)
			rc = write_assoc(x, &l->ids[i], &x->nb[k].id, x->nb[k].type,
			                 x->nb[k].confidence);
	}
	return rc;
}

static int export_sorted(struct exporter *x)
{
	struct idlist l = {0};
	int rc = sutra_scan(x->db, on_id, &l);

	if (rc == 0 && l.n > 1)
		qsort(l.ids, l.n, sizeof *l.ids, cmp_id);
	for (size_t i = 0; i < l.n && rc == 0; i++) {
		sutra_concept *c;
		if ((rc = sutra_get(x->db, &l.ids[i], &c)) == SUTRA_ENOTFOUND) {
			rc = 0; /* deleted meanwhile: nothing to write */
			continue;
		}
		if (rc == 0) {
			rc = write_concept(x, c);
			sutra_concept_free(c);
		}
	}
	if (rc == 0)
		rc = export_sorted_assocs(x, &l);
	free(l.ids);
	return rc;
}

/* ---- main ------------------------------------------------------------------------------ */

struct opts {
	const char *dir, *out;
	bool unsorted;
	int progress;
};

static int parse_args(struct opts *o, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool more = i + 1 < argc;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 1;
		} else if (strcmp(a, "--dir") == 0 && more) {
			o->dir = argv[++i];
		} else if (strcmp(a, "--out") == 0 && more) {
			o->out = argv[++i];
		} else if (strcmp(a, "--unsorted") == 0) {
			o->unsorted = true;
		} else if (strcmp(a, "--progress") == 0) {
			o->progress = 1;
		} else if (strcmp(a, "--no-progress") == 0) {
			o->progress = 0;
		} else {
			fprintf(stderr, "sutra-export: %s '%s' (see --help)\n",
			        more || a[0] != '-' ? "unknown argument" : "missing value for", a);
			return -1;
		}
	}
	if (!o->dir) {
		fprintf(stderr, "sutra-export: --dir PATH is required (see --help)\n");
		return -1;
	}
	return 0;
}

static int open_store(const char *dir, sutra_db **db)
{
	struct manifest m;
	sutra_options o;

	sutra_options_init(&o);
	o.create_if_missing = 0;
	o.vector_index = 0;
	int rc = manifest_read(dir, &m);
	if (rc == 0) {
		o.dimension = m.dimension;
		rc = sutra_open(dir, &o, db);
	}
	if (rc == SUTRA_ENOTFOUND)
		fprintf(stderr, "sutra-export: %s: not a Sutra store (no MANIFEST)\n", dir);
	else if (rc < 0)
		fprintf(stderr, "sutra-export: %s: %s\n", dir, sutra_last_error());
	return rc;
}

/* Writes to FILE.partial, renamed over FILE once complete. */
static FILE *open_out(const struct opts *o, char **tmp)
{
	*tmp = NULL;
	if (!o->out)
		return stdout;
	size_t n = strlen(o->out) + sizeof ".partial";
	if (!(*tmp = malloc(n)))
		return NULL;
	snprintf(*tmp, n, "%s.partial", o->out);
	FILE *f = fopen(*tmp, "w");
	if (!f)
		fprintf(stderr, "sutra-export: %s: %s\n", *tmp, strerror(errno));
	return f;
}

static int close_out(const struct opts *o, FILE *f, const char *tmp, int rc)
{
	bool bad = fflush(f) != 0 || ferror(f);

	if (f != stdout && fclose(f) != 0)
		bad = true;
	if (bad && rc == 0) {
		fprintf(stderr, "sutra-export: writing %s: %s\n", tmp ? tmp : "standard output",
		        strerror(errno));
		rc = SUTRA_EIO;
	}
	if (tmp && rc == 0 && rename(tmp, o->out) != 0) {
		fprintf(stderr, "sutra-export: renaming %s: %s\n", tmp, strerror(errno));
		rc = SUTRA_EIO;
	}
	if (tmp && rc != 0)
		unlink(tmp);
	return rc;
}

static int run(struct exporter *x, const struct opts *o)
{
	sutra_stats st;
	double t0 = progress_now();
	char *tmp;
	int rc;

	if (!(x->out = open_out(o, &tmp)))
		return SUTRA_EIO;
	setvbuf(x->out, NULL, _IOFBF, 1u << 20);
	rc = sutra_stats_get(x->db, &st);
	progress_init(&x->pg, o->progress < 0 ? isatty(STDERR_FILENO) == 1 : o->progress == 1,
	              rc == 0 ? st.concepts + st.associations : 0, false);
	rc = o->unsorted ? export_unsorted(x) : export_sorted(x);
	progress_done(&x->pg);
	if (rc < 0 && rc != SUTRA_EIO)
		fprintf(stderr, "sutra-export: %s: %s\n", o->dir, sutra_last_error());
	rc = close_out(o, x->out, tmp, rc);
	free(tmp);
	double el = progress_now() - t0;
	fprintf(stderr,
	        "sutra-export: %" PRIu64 " concepts and %" PRIu64 " associations written to %s "
	        "in %.2f s; %" PRIu64 " error%s\n",
	        x->concepts, x->assocs, o->out ? o->out : "standard output", el, x->errors,
	        x->errors == 1 ? "" : "s");
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o = {.progress = -1};
	struct exporter x = {0};
	int rc = parse_args(&o, argc, argv);

	if (rc != 0)
		return rc > 0 ? 0 : EXIT_USAGE;
	if (open_store(o.dir, &x.db) < 0)
		return EXIT_ERRORS;
	rc = run(&x, &o);
	if (sutra_close(x.db) < 0 && rc == 0) {
		fprintf(stderr, "sutra-export: closing %s: %s\n", o.dir, sutra_last_error());
		rc = SUTRA_EIO;
	}
	free(x.meta);
	free(x.nb);
	return rc < 0 || x.errors ? EXIT_ERRORS : 0;
}
