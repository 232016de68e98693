#include "msgpack.h"

#include <string.h>

/* 2^53 - 1: decode() refuses a 64-bit integer beyond it rather than round it. */
#define MAX_SAFE 9007199254740991ULL

static uint64_t be(const uint8_t *p, size_t width) {
  uint64_t n = 0;
  for (size_t i = 0; i < width; i++) n = n << 8 | p[i];
  return n;
}

/* Advances *pos by n bytes if they are there. */
static bool need(size_t len, size_t *pos, uint64_t n) {
  if (n > len - *pos) return false;
  *pos += (size_t)n;
  return true;
}

/* Reads a big-endian length or value of `width` bytes at *pos. */
static bool uint_at(const uint8_t *p, size_t len, size_t *pos, size_t width, uint64_t *out) {
  size_t at = *pos;
  if (!need(len, pos, width)) return false;
  *out = be(p + at, width);
  return true;
}

static bool skip(const uint8_t *p, size_t len, size_t *pos, int depth);

static bool skip_items(const uint8_t *p, size_t len, size_t *pos, uint64_t n, bool map, int depth) {
  /* Every item takes at least one byte: a count beyond what is left is a lie, refused at once. */
  if ((map ? 2 * n : n) > len - *pos) return false;
  for (uint64_t i = 0; i < n; i++) {
    if (map) {
      /* A key must be a string (read at the depth of a value, as decode() reads it). */
      if (*pos >= len) return false;
      uint8_t k = p[*pos];
      if (!((k >= 0xa0 && k <= 0xbf) || (k >= 0xd9 && k <= 0xdb))) return false;
      if (!skip(p, len, pos, depth + 1)) return false;
    }
    if (!skip(p, len, pos, depth + 1)) return false;
  }
  return true;
}

/* One value at *pos, checked as decode() checks it; recursion bounded by MP_MAX_DEPTH. */
static bool skip(const uint8_t *p, size_t len, size_t *pos, int depth) {
  if (depth > MP_MAX_DEPTH || *pos >= len) return false;
  uint8_t tag = p[(*pos)++];
  uint64_t n;
  if (tag < 0x80 || tag >= 0xe0) return true;
  if (tag <= 0x8f) return skip_items(p, len, pos, tag & 0x0f, true, depth);
  if (tag <= 0x9f) return skip_items(p, len, pos, tag & 0x0f, false, depth);
  if (tag <= 0xbf) return need(len, pos, tag & 0x1f);
  switch (tag) {
    case 0xc0:
    case 0xc2:
    case 0xc3:
      return true;
    case 0xc4:
    case 0xc5:
    case 0xc6:
    case 0xd9:
    case 0xda:
    case 0xdb: {
      size_t width = tag <= 0xc6 ? (size_t)1 << (tag - 0xc4) : (size_t)1 << (tag - 0xd9);
      return uint_at(p, len, pos, width, &n) && need(len, pos, n);
    }
    case 0xca:
      return need(len, pos, 4);
    case 0xcb:
      return need(len, pos, 8);
    case 0xcc:
    case 0xd0:
      return need(len, pos, 1);
    case 0xcd:
    case 0xd1:
      return need(len, pos, 2);
    case 0xce:
    case 0xd2:
      return need(len, pos, 4);
    case 0xcf:
      return uint_at(p, len, pos, 8, &n) && n <= MAX_SAFE;
    case 0xd3: {
      if (!uint_at(p, len, pos, 8, &n)) return false;
      int64_t v = (int64_t)n;
      return v <= (int64_t)MAX_SAFE && v >= -(int64_t)MAX_SAFE;
    }
    case 0xdc:
    case 0xdd:
      return uint_at(p, len, pos, tag == 0xdc ? 2 : 4, &n) && skip_items(p, len, pos, n, false, depth);
    case 0xde:
    case 0xdf:
      return uint_at(p, len, pos, tag == 0xde ? 2 : 4, &n) && skip_items(p, len, pos, n, true, depth);
    default:
      /* 0xc1 is never used; 0xc7-0xc9 and 0xd4-0xd8 are ext types. */
      return false;
  }
}

bool mp_check(const uint8_t *body, size_t len) {
  size_t pos = 0;
  return skip(body, len, &pos, 0) && pos == len;
}

mp_value mp_root(const uint8_t *body, size_t len) {
  mp_value v = {body, len, 0};
  return v;
}

mp_kind mp_kind_of(mp_value v) {
  uint8_t tag = v.body[v.at];
  if (tag < 0x80 || tag >= 0xe0) return MP_NUMBER;
  if (tag <= 0x8f) return MP_MAP;
  if (tag <= 0x9f) return MP_ARRAY;
  if (tag <= 0xbf) return MP_STR;
  switch (tag) {
    case 0xc0:
      return MP_NIL;
    case 0xc2:
    case 0xc3:
      return MP_BOOL;
    case 0xc4:
    case 0xc5:
    case 0xc6:
      return MP_BIN;
    case 0xd9:
    case 0xda:
    case 0xdb:
      return MP_STR;
    case 0xdc:
    case 0xdd:
      return MP_ARRAY;
    case 0xde:
    case 0xdf:
      return MP_MAP;
    default:
      return MP_NUMBER;
  }
}

bool mp_get(mp_value map, const char *key, mp_value *out) {
  if (mp_kind_of(map) != MP_MAP) return false;
  size_t pos = map.at;
  uint8_t tag = map.body[pos++];
  uint64_t n = tag <= 0x8f ? (uint64_t)(tag & 0x0f) : be(map.body + pos, tag == 0xde ? 2 : 4);
  if (tag > 0x8f) pos += tag == 0xde ? 2 : 4;
  size_t key_len = strlen(key);
  bool found = false;
  for (uint64_t i = 0; i < n; i++) {
    mp_value k = {map.body, map.len, pos};
    const uint8_t *s;
    size_t sn;
    bool match = mp_str(k, &s, &sn) && sn == key_len && memcmp(s, key, sn) == 0;
    /* Checked by mp_check(): these skips cannot fail. */
    skip(map.body, map.len, &pos, 0);
    if (match) {
      out->body = map.body;
      out->len = map.len;
      out->at = pos;
      found = true;
    }
    skip(map.body, map.len, &pos, 0);
  }
  return found;
}

bool mp_number(mp_value v, double *out) {
  const uint8_t *p = v.body + v.at;
  uint8_t tag = p[0];
  if (tag < 0x80) *out = tag;
  else if (tag >= 0xe0) *out = (int)tag - 0x100;
  else if (tag == 0xca) {
    uint32_t bits = (uint32_t)be(p + 1, 4);
    float f;
    memcpy(&f, &bits, 4);
    *out = f;
  } else if (tag == 0xcb) {
    uint64_t bits = be(p + 1, 8);
    memcpy(out, &bits, 8);
  } else if (tag >= 0xcc && tag <= 0xcf) *out = (double)be(p + 1, (size_t)1 << (tag - 0xcc));
  else if (tag >= 0xd0 && tag <= 0xd3) {
    size_t width = (size_t)1 << (tag - 0xd0);
    uint64_t raw = be(p + 1, width);
    /* Sign-extend from `width` bytes. */
    if (width < 8 && (raw >> (width * 8 - 1)) & 1) raw |= ~0ULL << (width * 8);
    *out = (double)(int64_t)raw;
  } else return false;
  return true;
}

bool mp_is_bool(mp_value v, bool which) { return v.body[v.at] == (which ? 0xc3 : 0xc2); }

bool mp_str(mp_value v, const uint8_t **bytes, size_t *n) {
  const uint8_t *p = v.body + v.at;
  uint8_t tag = p[0];
  if (tag >= 0xa0 && tag <= 0xbf) {
    *n = tag & 0x1f;
    *bytes = p + 1;
  } else if (tag >= 0xd9 && tag <= 0xdb) {
    size_t width = (size_t)1 << (tag - 0xd9);
    *n = (size_t)be(p + 1, width);
    *bytes = p + 1 + width;
  } else return false;
  return true;
}

static void head(buf *b, uint8_t tag, uint32_t n, size_t width) {
  uint8_t out[5] = {tag};
  for (size_t i = 0; i < width; i++) out[1 + i] = (uint8_t)(n >> (8 * (width - 1 - i)));
  buf_add(b, out, 1 + width);
}

/* The same forms as the TypeScript writer picks, so both send the same bytes. */
void mp_put_map(buf *b, uint32_t n) {
  if (n < 16) buf_byte(b, (uint8_t)(0x80 | n));
  else if (n < 0x10000) head(b, 0xde, n, 2);
  else head(b, 0xdf, n, 4);
}

void mp_put_array(buf *b, uint32_t n) {
  if (n < 16) buf_byte(b, (uint8_t)(0x90 | n));
  else if (n < 0x10000) head(b, 0xdc, n, 2);
  else head(b, 0xdd, n, 4);
}

void mp_put_str(buf *b, const uint8_t *s, size_t n) {
  if (n < 32) buf_byte(b, (uint8_t)(0xa0 | n));
  else if (n < 0x100) head(b, 0xd9, (uint32_t)n, 1);
  else if (n < 0x10000) head(b, 0xda, (uint32_t)n, 2);
  else head(b, 0xdb, (uint32_t)n, 4);
  buf_add(b, s, n);
}

void mp_put_cstr(buf *b, const char *s) { mp_put_str(b, (const uint8_t *)s, strlen(s)); }

void mp_put_uint(buf *b, uint32_t n) {
  if (n < 0x80) buf_byte(b, (uint8_t)n);
  else if (n < 0x100) head(b, 0xcc, n, 1);
  else if (n < 0x10000) head(b, 0xcd, n, 2);
  else head(b, 0xce, n, 4);
}
