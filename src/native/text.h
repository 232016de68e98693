/*
 * Text as the Node shim of sigil-token sees it, for the native one to print the same bytes:
 * a growable byte buffer, UTF-8 read the way Node reads argv, environment values and
 * MessagePack strings (every ill-formed sequence becomes U+FFFD, as the WHATWG decoder
 * does), and terminalText() of src/util/terminal-text.ts.
 */
#ifndef SIGIL_TEXT_H
#define SIGIL_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes that grow by doubling; `failed` is set, and later appends ignored, when malloc fails. */
typedef struct {
  uint8_t *data;
  size_t len;
  size_t cap;
  bool failed;
} buf;

void buf_add(buf *b, const void *bytes, size_t n);
void buf_str(buf *b, const char *s);
void buf_byte(buf *b, uint8_t c);
void buf_uint(buf *b, uint64_t n);
/* Wipes (it may hold a token) and frees. */
void buf_free(buf *b);

/* Appends `n` bytes as Node's UTF-8 decoder and encoder would turn them into text and back. */
void buf_utf8(buf *b, const uint8_t *s, size_t n);

/*
 * Appends well-formed UTF-8 `s` with every control character (C0, DEL, C1) shown as
 * "\xNN", except "\n" when `lines`: terminalText(s, { lines }).
 */
void buf_terminal(buf *b, const uint8_t *s, size_t n, bool lines);

#endif
