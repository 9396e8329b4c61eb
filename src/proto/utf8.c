/* utf8.c - UTF-8 validation of incoming strings.
 *
 * The Rust server's string fields were Rust Strings: bytes that are not
 * UTF-8 were refused at decoding. We refuse them too, so that every string
 * we store can be sent back in a MessagePack str that strict clients read.
 * Rules: RFC 3629 (no overlong forms, no surrogates, nothing above
 * U+10FFFF). ASCII runs are checked eight bytes at a time.
 */
#include <string.h>

#include "proto/proto.h"

/* Length of the valid sequence starting at p (< n bytes left), 0 if none. */
static size_t sequence(const uint8_t *p, size_t n)
{
	uint8_t c = p[0];
	size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
	uint8_t lo = 0x80, hi = 0xbf;

	if (c < 0xc2 || c > 0xf4 || n < len)
		return 0;
	if (c == 0xe0)
		lo = 0xa0; /* overlong */
	else if (c == 0xed)
		hi = 0x9f; /* surrogates */
	else if (c == 0xf0)
		lo = 0x90; /* overlong */
	else if (c == 0xf4)
		hi = 0x8f; /* above U+10FFFF */
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

size_t utf8_invalid_at(const char *s, size_t n)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0;

	while (i < n) {
		uint64_t w;
		if (n - i >= 8 && (memcpy(&w, p + i, 8), (w & 0x8080808080808080ULL) == 0)) {
			i += 8;
			continue;
		}
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		size_t len = sequence(p + i, n - i);
		if (len == 0)
			return i;
		i += len;
	}
	return n;
}
