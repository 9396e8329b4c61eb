/* fuzz_op_decode.c - fuzz target: the op codec (op_batch_header, op_decode, op_meta_valid) on raw
 * bytes.
 *
 * The input is copied to a malloc'd buffer of exactly its size (aligned,
 * as WAL and checkpoint payloads are; vectors are read in place) and decoded
 * three ways: as a batch, the way recovery walks a WAL record; as a single
 * op at every 8-aligned offset; and as a metadata blob. Every op that
 * decodes must satisfy the documented validity rule (op.h): known kind,
 * size a multiple of 8 within the bytes present, type 0..4, finite scores
 * in range, content NUL-terminated, metadata that parses exactly. A decoded
 * learn op is re-encoded with op_learn_encode and decoded again: the two
 * decodings must agree. Vector components must also be finite, as op.h
 * promises (a bug this target found, now fixed).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "store/op.h"
#include "util/bytes.h"

#define MAX_OFFSETS 4096

static int g_strict = -1;

static void check_meta(const uint8_t *p, size_t len, uint32_t declared)
{
	uint32_t count;
	size_t pos = 4;

	if (!op_meta_valid(p, len, &count))
		fuzz_fail("a decoded learn op has invalid metadata");
	if (len == 0)
		return;
	if (count != declared)
		fuzz_fail("metadata count %u, blob says %u", count, declared);
	/* walk it as sutra_meta_next does: every entry inside the blob */
	for (uint32_t i = 0; i < count; i++) {
		if (pos + 6 > len)
			fuzz_fail("metadata entry %u starts past the blob", i);
		size_t kl = ld16(p + pos), vl = ld32(p + pos + 2);
		if (pos + 6 + kl + 1 + vl + 1 > len || p[pos + 6 + kl] || p[pos + 6 + kl + 1 + vl])
			fuzz_fail("metadata entry %u runs past the blob", i);
		pos += 6 + kl + 1 + vl + 1;
	}
	if (pos != len)
		fuzz_fail("metadata blob has %zu trailing bytes", len - pos);
}

static void check_learn(const struct op *o)
{
	size_t need = op_learn_size(o->content_len, o->meta_len, o->dim);

	if (need == 0 || need != o->size)
		fuzz_fail("learn op size %zu, its parts need %zu", o->size, need);
	if ((o->vec != NULL) != (o->dim != 0))
		fuzz_fail("learn op vector %p with dimension %u", (const void *)o->vec, o->dim);
	if (o->content !=
	        (const char *)o->raw + OP_LEARN_FIXED + (size_t)o->dim * 4 + o->meta_len ||
	    o->content[o->content_len] != 0)
		fuzz_fail("learn op content misplaced or not NUL-terminated");
	if (!isfinite(o->strength) || o->strength < 0 || !isfinite(o->confidence) ||
	    o->confidence < 0 || o->confidence > 1)
		fuzz_fail("learn op scores out of range");
	if (o->meta_len)
		check_meta(o->meta, o->meta_len, ld32(o->meta));
	for (uint32_t i = 0; g_strict && i < o->dim; i++)
		if (!isfinite(ldf32((const uint8_t *)o->vec + (size_t)i * 4)))
			fuzz_fail("learn op vector component %u is not finite", i);

	/* re-encode and decode again: same op */
	uint8_t *copy = malloc(o->size);
	struct op again;
	if (!copy)
		fuzz_fail("out of memory");
	op_learn_encode(copy, o->id, o->created_us, o->updated_us, o->strength, o->confidence,
	                o->vec, o->dim, o->meta, o->meta_len, o->content, o->content_len);
	if (op_decode(copy, o->size, &again) != 0 || again.size != o->size ||
	    again.kind != OP_LEARN || again.dim != o->dim || again.meta_len != o->meta_len ||
	    again.content_len != o->content_len || memcmp(again.id, o->id, 16) != 0 ||
	    again.created_us != o->created_us || again.updated_us != o->updated_us ||
	    ld32(&again.strength) != ld32(&o->strength) ||
	    ld32(&again.confidence) != ld32(&o->confidence) ||
	    memcmp(again.content, o->content, o->content_len + 1) != 0 ||
	    (o->meta_len && memcmp(again.meta, o->meta, o->meta_len) != 0) ||
	    (o->dim && memcmp(again.vec, o->vec, (size_t)o->dim * 4) != 0))
		fuzz_fail("learn op does not survive re-encoding");
	free(copy);
}

/* Checks an op that decoded from p[0..avail). */
static void check_op(const uint8_t *p, size_t avail, const struct op *o)
{
	if (o->raw != p || o->size < 8 || o->size % 8 != 0 || o->size > avail)
		fuzz_fail("op of kind %d has size %zu in %zu bytes", o->kind, o->size, avail);
	switch (o->kind) {
	case OP_LEARN:
		check_learn(o);
		break;
	case OP_DELETE:
		if (o->size != OP_DELETE_SIZE || o->id != p + 8)
			fuzz_fail("delete op of %zu bytes", o->size);
		break;
	case OP_ASSOC:
	case OP_DISSOC:
		if (o->size != OP_ASSOC_SIZE || o->type >= SUTRA_ASSOC_TYPES ||
		    !isfinite(o->confidence) || o->confidence < 0 || o->confidence > 1 ||
		    o->src != p + 8 || o->dst != p + 24)
			fuzz_fail("association op out of range");
		break;
	default:
		fuzz_fail("op of unknown kind %d decoded", o->kind);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1); /* exactly size bytes, 16-aligned */
	uint32_t count;
	struct op o;

	if (g_strict < 0)
		g_strict = 1;
	if (!buf)
		return 0;
	memcpy(buf, data, size);

	/* a batch, walked as recovery walks a WAL record */
	if (op_batch_header(buf, size, &count) == 0) {
		if ((size_t)count > (size - OP_BATCH_HEADER) / OP_DELETE_SIZE)
			fuzz_fail("batch of %zu bytes accepted with %u ops", size, count);
		size_t pos = OP_BATCH_HEADER;
		for (uint32_t k = 0; k < count; k++) {
			if (op_decode(buf + pos, size - pos, &o) != 0)
				break;
			check_op(buf + pos, size - pos, &o);
			pos += o.size;
		}
	}
	/* a single op at every aligned offset */
	for (size_t off = 0; off < size && off / 8 < MAX_OFFSETS; off += 8)
		if (op_decode(buf + off, size - off, &o) == 0)
			check_op(buf + off, size - off, &o);
	/* a metadata blob */
	if (op_meta_valid(buf, size, &count) && size)
		check_meta(buf, size, ld32(buf));
	free(buf);
	return 0;
}
