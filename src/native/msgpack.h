/*
 * The MessagePack that sigil-token needs, in C: a writer for its two request maps, and a
 * reader for the agent's answers that treats them as hostile. mp_check() accepts exactly
 * what decode() in src/protocol/msgpack.ts accepts (every length checked against the bytes
 * present, nesting capped at the same depth, string keys only, no ext types, integers
 * within JavaScript's safe range, no trailing bytes); the accessors then read a checked body
 * in place. Nothing is allocated from a declared length: nothing is allocated at all.
 */
#ifndef SIGIL_MSGPACK_H
#define SIGIL_MSGPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text.h"

/* As src/protocol/msgpack.ts: deeper than any real message, far from any stack limit. */
#define MP_MAX_DEPTH 64

typedef enum { MP_NIL, MP_BOOL, MP_NUMBER, MP_STR, MP_BIN, MP_ARRAY, MP_MAP } mp_kind;

/* A value inside a checked body: the body and the offset of the value's type byte. */
typedef struct {
  const uint8_t *body;
  size_t len;
  size_t at;
} mp_value;

/* true when `body` is one whole MessagePack value that decode() would accept. */
bool mp_check(const uint8_t *body, size_t len);

/* The checked body's top-level value. */
mp_value mp_root(const uint8_t *body, size_t len);

mp_kind mp_kind_of(mp_value v);

/* The map's member `key` (ASCII); the last one wins, as in a JavaScript object. */
bool mp_get(mp_value map, const char *key, mp_value *out);

/* A number's value as JavaScript holds it (a double); false for any other kind. */
bool mp_number(mp_value v, double *out);

bool mp_is_bool(mp_value v, bool which);

/* A string's bytes as sent (not yet read as UTF-8); false for any other kind. */
bool mp_str(mp_value v, const uint8_t **bytes, size_t *n);

/* Writers: a map or array header, a string (its bytes as given), a non-negative integer. */
void mp_put_map(buf *b, uint32_t n);
void mp_put_array(buf *b, uint32_t n);
void mp_put_str(buf *b, const uint8_t *s, size_t n);
void mp_put_cstr(buf *b, const char *s);
void mp_put_uint(buf *b, uint32_t n);

#endif
