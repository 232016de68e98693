#include "text.h"

#include <string.h>

#include "agent_io.h"

void buf_add(buf *b, const void *bytes, size_t n) {
  if (b->failed || n == 0) return;
  /* A length past what memory can hold fails like malloc would, rather than wrap. */
  if (n > SIZE_MAX / 2 - b->len || !grow_wiped(&b->data, &b->cap, b->len, b->len + n, 256)) {
    b->failed = true;
    return;
  }
  memcpy(b->data + b->len, bytes, n);
  b->len += n;
}

void buf_str(buf *b, const char *s) { buf_add(b, s, strlen(s)); }

void buf_byte(buf *b, uint8_t c) { buf_add(b, &c, 1); }

void buf_uint(buf *b, uint64_t n) {
  char digits[24];
  size_t i = sizeof digits;
  do digits[--i] = (char)('0' + n % 10);
  while ((n /= 10) != 0);
  buf_add(b, digits + i, sizeof digits - i);
}

void buf_free(buf *b) {
  free_wiped(b->data, b->cap);
  b->data = NULL;
  b->len = b->cap = 0;
}

static const uint8_t REPLACEMENT[3] = {0xef, 0xbf, 0xbd};

/*
 * The WHATWG UTF-8 decoder (what V8 implements): a lead byte, then continuation bytes in the
 * range that byte allows (no overlong forms, no surrogates, nothing above U+10FFFF). An
 * ill-formed sequence becomes one U+FFFD for its longest valid prefix, and the byte that
 * broke it is read again as the start of the next.
 */
void buf_utf8(buf *b, const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    size_t need;
    uint8_t lower = 0x80, upper = 0xbf;
    if (c < 0x80) {
      size_t j = i;
      while (j < n && s[j] < 0x80) j++;
      buf_add(b, s + i, j - i);
      i = j;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c == 0xe0) lower = 0xa0;
      if (c == 0xed) upper = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c == 0xf0) lower = 0x90;
      if (c == 0xf4) upper = 0x8f;
    } else {
      buf_add(b, REPLACEMENT, 3);
      i++;
      continue;
    }
    size_t j = i + 1, got = 0;
    while (got < need && j < n && s[j] >= lower && s[j] <= upper) {
      lower = 0x80;
      upper = 0xbf;
      j++;
      got++;
    }
    if (got == need) buf_add(b, s + i, j - i);
    else buf_add(b, REPLACEMENT, 3);
    i = j;
  }
}

void buf_terminal(buf *b, const uint8_t *s, size_t n, bool lines) {
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    unsigned cp = s[i];
    size_t width = 1;
    /* C1 controls are U+0080..U+009F: 0xc2 0x80..0x9f in UTF-8. */
    if (cp == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f) {
      cp = s[i + 1];
      width = 2;
    } else if (cp >= 0x80) {
      buf_byte(b, s[i]);
      continue;
    }
    if (cp < 0x20 ? !(lines && cp == '\n') : cp >= 0x7f && cp <= 0x9f) {
      char esc[4] = {'\\', 'x', hex[cp >> 4], hex[cp & 0xf]};
      buf_add(b, esc, 4);
    } else {
      buf_add(b, s + i, width);
    }
    i += width - 1;
  }
}
