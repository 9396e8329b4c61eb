/* decode.h - internals shared by the request decoder's files (decode.c, fields.c, schema.c).
 *
 * A request is described by data: each variant's payload is a pd_struct, a
 * list of pd_field entries (wire name, reader, where the value goes relative
 * to a base pointer, required or not). pd_struct_read decodes a map payload
 * (by name, or by field index like serde) or an array payload (exact length)
 * against such a description, so the lenient rules live in one place and the
 * per-field readers (fields.c) only check one value. The decoding context
 * carries the cursor, the limits, the arena, the nesting depth and the path
 * of names used in error messages ("LearnConcepts.concepts[3].content").
 */
#ifndef SUTRA_PROTO_DECODE_H
#define SUTRA_PROTO_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/mpread.h"
#include "proto/proto.h"

#define PD_PATH_MAX 8
/* max_nesting values above this are not honoured (mpr_skip recurses). */
#define PD_NESTING_CAP 256
/* The fewest bytes a valid ConceptItem or AssocItem can take on the wire
 * (an array of 4 fields, or a map with two required fields keyed by index:
 * {0: "", 1: ""}). Item arrays are checked against it before allocation. */
#define PD_ITEM_MIN_BYTES 5
/* Room for the payload of a variant decoded only to be checked (8..12). */
#define PD_SCRATCH_BYTES 192

struct dctx {
	struct mpr r;
	const struct proto_limits *lim;
	struct arena *a;
	char *err;
	size_t errlen;
	uint32_t depth;       /* containers entered */
	uint32_t max_nesting; /* lim->max_nesting, at most PD_NESTING_CAP */
	bool dry;             /* checking only: readers allocate and store nothing in the arena */
	int npath;
	struct {
		const char *name; /* NULL: an array index */
		uint32_t index;
	} path[PD_PATH_MAX];
};

struct pd_field;
typedef int (*pd_read_fn)(struct dctx *d, const struct pd_field *f, void *base);

struct pd_field {
	const char *name;
	pd_read_fn read;
	uint16_t off;  /* the value at (char *)base + off */
	uint16_t off2; /* a second slot (an array's count, a presence flag) */
	bool required; /* optional fields also accept nil (= absent) */
};

struct pd_struct {
	const struct pd_field *fields;
	uint32_t nfields;             /* <= 32 */
	void (*defaults)(void *base); /* NULL: the caller zeroed base */
	/* Runs once every field was read (NULL: none): fills the defaults that
	 * depend on the limits, checks rules that span fields. */
	int (*finish)(struct dctx *d, void *base);
};

struct pd_variant {
	const char *name;
	const struct pd_struct *payload; /* NULL: a unit variant */
	int kind;                        /* enum req_kind; the wire index for 0..15 */
	bool check_only;                 /* decoded into scratch, nothing kept (8..12) */
};

extern const struct pd_variant pd_variants[];
extern const size_t pd_nvariants;

/* decode.c: errors (each returns -1), path, nesting, arena, structs. */
int pd_fail(struct dctx *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int pd_fail_plain(struct dctx *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int pd_fail_read(struct dctx *d, int rc);
int pd_expected(struct dctx *d, const char *what, const struct mpval *got);
void pd_push(struct dctx *d, const char *name);
void pd_push_index(struct dctx *d, uint32_t index);
void pd_pop(struct dctx *d);
int pd_enter(struct dctx *d);
void pd_leave(struct dctx *d);
int pd_next(struct dctx *d, struct mpval *v);
int pd_skip(struct dctx *d);
void *pd_alloc(struct dctx *d, size_t size);
int pd_struct_read(struct dctx *d, const struct pd_struct *s, void *base);
const char *pd_kind_name(const struct mpval *v);

/* fields.c: one reader per wire type. */
int pd_f_str(struct dctx *d, const struct pd_field *f, void *base);
int pd_f_content(struct dctx *d, const struct pd_field *f, void *base);
int pd_f_str_given(struct dctx *d, const struct pd_field *f, void *base);
int pd_f_meta_key_given(struct dctx *d, const struct pd_field *f, void *base);
int pd_f_bool(struct dctx *d, const struct pd_field *f, void *base);
int pd_f_u32(struct dctx *d, const struct pd_field *f, void *base);
int pd_f_u32_sat(struct dctx *d, const struct pd_field *f, void *base);
int pd_f_depth(struct dctx *d, const struct pd_field *f, void *base);
int pd_f_reach_depth(struct dctx *d, const struct pd_field *f, void *base);
int pd_f_k(struct dctx *d, const struct pd_field *f, void *base);
int pd_f_max_visited(struct dctx *d, const struct pd_field *f, void *base);
int pd_f_max_paths(struct dctx *d, const struct pd_field *f, void *base);
int pd_f_khop_limit(struct dctx *d, const struct pd_field *f, void *base);
int pd_f_hybrid_limit(struct dctx *d, const struct pd_field *f, void *base);
int pd_f_k_seeds(struct dctx *d, const struct pd_field *f, void *base);
int pd_f_i64(struct dctx *d, const struct pd_field *f, void *base);
int pd_f_uint64(struct dctx *d, const struct pd_field *f, void *base);
int pd_f_f32(struct dctx *d, const struct pd_field *f, void *base);
int pd_f_assoc_type(struct dctx *d, const struct pd_field *f, void *base);
int pd_f_type_or_any(struct dctx *d, const struct pd_field *f, void *base);
int pd_f_direction(struct dctx *d, const struct pd_field *f, void *base);
int pd_f_f32vec(struct dctx *d, const struct pd_field *f, void *base);
int pd_f_contents(struct dctx *d, const struct pd_field *f, void *base);
int pd_f_str_list(struct dctx *d, const struct pd_field *f, void *base);
int pd_f_meta(struct dctx *d, const struct pd_field *f, void *base);
/* Lists whose caller stores the typed result (not pd_read_fns). */
int pd_f_str_array(struct dctx *d, uint32_t max, struct pstr **items, uint32_t *count);
int pd_f_items(struct dctx *d, const struct pd_struct *item, size_t item_size, void **items,
               uint32_t *count);

#endif
