/* op.h - the encoding of store operations, shared by WAL records, batches
 * and checkpoint records.
 *
 * A batch payload (the body of one WAL record) is:
 *
 *   offset  size  field
 *   0       4     op_count
 *   4       4     reserved (0)
 *   8       ...   op_count operations, each a multiple of 8 bytes long
 *
 * Every operation starts with a one-byte kind. All integers little-endian.
 *
 * OP_LEARN (kind 1), 56 bytes + vector + metadata + content + NUL, padded to 8:
 *   0  u8  kind          1  u8  flags (bit 0: has vector; bit 1: same content
 *                            required, checked at commit only)   2 u16 reserved
 *   4  u32 content_len   8  u32 meta_len    12 u32 vector_dim (0 = none)
 *   16 id[16]
 *   32 u64 created_us    40 u64 updated_us
 *   48 f32 strength      52 f32 confidence
 *   56 f32[vector_dim] vector   (8-aligned when the op is)
 *   .. meta_len bytes of metadata (see below)
 *   .. content_len bytes of content, then one NUL byte, then zero padding
 *
 * OP_DELETE (kind 2), 24 bytes: 0 u8 kind, 1..7 reserved, 8 id[16]
 * OP_ASSOC (kind 3), 40 bytes:  0 u8 kind, 1 u8 type (0..4), 2 u16 reserved,
 *   4 f32 confidence, 8 source[16], 24 target[16]
 * OP_DISSOC (kind 4), 40 bytes: as OP_ASSOC with confidence 0
 *
 * Metadata blob: u32 count, then count entries of
 *   u16 key_len, u32 value_len, key bytes, NUL, value bytes, NUL.
 *
 * Decoding treats the bytes as untrusted: every length is checked against
 * the bytes present before it is used, and a decoded op is valid only if
 * its kind is known, its type is 0..4, its floats are finite and in range,
 * its content is NUL-terminated and its metadata blob parses exactly.
 */
#ifndef SUTRA_STORE_OP_H
#define SUTRA_STORE_OP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sutra/sutra.h"

enum op_kind { OP_LEARN = 1, OP_DELETE = 2, OP_ASSOC = 3, OP_DISSOC = 4 };

#define OP_BATCH_HEADER      8
#define OP_LEARN_FIXED       56
#define OP_DELETE_SIZE       24
#define OP_ASSOC_SIZE        40
#define OP_MAX_KEY           255
#define OP_FLAG_VECTOR       1
#define OP_FLAG_SAME_CONTENT 2

/* A decoded operation. Pointers borrow the encoded bytes. */
struct op {
	int kind;
	uint8_t type;
	uint8_t flags;      /* learn: OP_FLAG_* */
	const uint8_t *raw; /* start of the encoded op */
	size_t size;        /* encoded size including padding */
	const uint8_t *id, *src, *dst;
	uint32_t content_len, meta_len, dim;
	const char *content; /* NUL-terminated */
	const float *vec;    /* NULL when dim == 0 */
	const uint8_t *meta;
	uint64_t created_us, updated_us;
	float strength, confidence;
};

/* A growable, 8-aligned buffer of encoded operations (a batch). */
struct opbuf {
	uint8_t *data;
	size_t len, cap;
	uint32_t count;
};

void opbuf_init(struct opbuf *b);
void opbuf_free(struct opbuf *b);
void opbuf_reset(struct opbuf *b); /* keeps the header room */
/* Appenders validate what needs no store (sizes against the hard limits,
 * ranges, metadata keys) and return SUTRA_EINVAL/ETOOBIG/ENOMEM. */
int opbuf_learn(struct opbuf *b, const sutra_concept_in *c);
int opbuf_delete(struct opbuf *b, const sutra_id *id);
int opbuf_assoc(struct opbuf *b, int kind, const sutra_id *src, const sutra_id *dst, unsigned type,
                float confidence);
/* Writes the header; returns the payload pointer and length. */
const uint8_t *opbuf_finish(struct opbuf *b, size_t *len);

/* Size of an encoded learn op with these parts, or 0 on overflow. */
size_t op_learn_size(size_t content_len, size_t meta_len, uint32_t dim);
/* Encodes a learn op at dst (op_learn_size bytes, zeroed padding). */
void op_learn_encode(uint8_t *dst, const uint8_t *id, uint64_t created, uint64_t updated,
                     float strength, float confidence, const float *vec, uint32_t dim,
                     const void *meta, uint32_t meta_len, const void *content,
                     uint32_t content_len);
void op_assoc_encode(uint8_t *dst, int kind, const uint8_t *src, const uint8_t *dst_id,
                     unsigned type, float confidence);

/* Decodes the op at p[0..avail) (dimension unchecked: callers compare it
 * with their store's). Returns 0 or SUTRA_ECORRUPT with a reason
 * in the thread's error message (callers add file and offset). */
int op_decode(const uint8_t *p, size_t avail, struct op *out);
/* Checks the batch header; *count gets op_count. */
int op_batch_header(const uint8_t *p, size_t len, uint32_t *count);

/* Metadata blob: encoded size of entries (0 with *err set when invalid). */
int op_meta_size(const sutra_meta_entry *m, size_t n, size_t *size);
void op_meta_encode(uint8_t *dst, const sutra_meta_entry *m, size_t n);
/* Checks a blob; *count gets the entry count. */
bool op_meta_valid(const uint8_t *p, size_t len, uint32_t *count);

#endif
