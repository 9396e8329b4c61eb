/* id.c - concept identifiers: parsing client strings, formatting, content ids.
 *
 * Reproduces the Rust server's rules (SEED-PROTOCOL.md "Identifiers").
 * Parsing treats an odd-length string as if a '0' were prepended and
 * hex-decodes it (either case) into the front of a zeroed 16-byte id,
 * keeping the first 16 bytes of longer input; the whole string is checked
 * first, so one non-hex character anywhere makes the id the MD5 digest of
 * the original bytes (without the '0'). The empty string hex-decodes to zero
 * bytes, so it is the all-zero id, as in Rust (hex::decode("") is Ok([])).
 * Content ids are SipHash-1-3 (keys 0,0) over content || 0xFF, hashed as a
 * stream so a 10 MiB content is never copied; the id stores the 64-bit hash
 * big-endian (the order it is printed in) followed by 8 zero bytes.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "sutra/sutra.h"
#include "util/siphash.h"

static const char hex_digits[] = "0123456789abcdef";

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool all_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (hex_value((unsigned char)s[i]) < 0)
			return false;
	return true;
}

/* MD5 cannot fail with the default provider; if libcrypto is configured
 * without it (FIPS-only), no correct id exists and we stop rather than
 * hand out colliding ids. */
static void id_md5(const char *s, size_t len, sutra_id *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(s, len, md, &mdlen, EVP_md5(), NULL) || mdlen != SUTRA_ID_BYTES) {
		fputs("sutra: MD5 is unavailable in libcrypto; cannot derive ids\n", stderr);
		abort();
	}
	memcpy(out->b, md, SUTRA_ID_BYTES);
}

void sutra_id_parse(const char *s, size_t len, sutra_id *out)
{
	const size_t max_nibbles = 2 * (size_t)SUTRA_ID_BYTES;
	size_t odd = len & 1, nibbles;

	memset(out, 0, sizeof *out);
	if (len == 0)
		return;
	if (!all_hex(s, len)) {
		id_md5(s, len, out);
		return;
	}
	nibbles = len + odd; /* the virtual string is "0" + s when len is odd */
	if (nibbles > max_nibbles)
		nibbles = max_nibbles;
	for (size_t i = 0; i < nibbles; i++) {
		/* all_hex() checked every character, so hex_value() is 0..15 */
		unsigned v = (odd && i == 0) ? 0u : (unsigned)hex_value((unsigned char)s[i - odd]);

		out->b[i / 2] |= (uint8_t)(v << ((i & 1) ? 0 : 4));
	}
}

void sutra_id_format(const sutra_id *id, char out[SUTRA_ID_HEX])
{
	for (size_t i = 0; i < SUTRA_ID_BYTES; i++) {
		out[2 * i] = hex_digits[id->b[i] >> 4];
		out[2 * i + 1] = hex_digits[id->b[i] & 15];
	}
	out[2 * (size_t)SUTRA_ID_BYTES] = '\0';
}

uint64_t sutra_content_hash(const void *content, size_t len)
{
	static const uint8_t terminator = 0xff;
	siphash13_state s;

	siphash13_init(&s, 0, 0);
	siphash13_update(&s, content, len);
	siphash13_update(&s, &terminator, 1);
	return siphash13_final(&s);
}

void sutra_id_from_content(const void *content, size_t len, sutra_id *out)
{
	uint64_t h = sutra_content_hash(content, len);

	memset(out, 0, sizeof *out);
	for (int i = 0; i < 8; i++)
		out->b[i] = (uint8_t)(h >> (56 - 8 * i));
}

void sutra_content_hash_format(uint64_t h, char out[17])
{
	for (int i = 0; i < 16; i++)
		out[i] = hex_digits[(h >> (60 - 4 * i)) & 15];
	out[16] = '\0';
}
