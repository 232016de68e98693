/*
 * One round trip with the agent over its Unix socket, in plain C with blocking-style system
 * calls: connect, check who listens, one write, read N length-prefixed frames, under one
 * deadline. Shared by the Node-API addon (sync_client.c) and the native sigil-token
 * (sigil_token.c), so both connect, check the peer and read the same way.
 *
 * Nothing here decodes a frame body or prints anything: a failure is described in a
 * `failure` (an errno name or a protocol code, and the step), never with the bytes
 * exchanged, which hold a token.
 */
#ifndef SIGIL_AGENT_IO_H
#define SIGIL_AGENT_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The length prefix: 4 bytes, big-endian (sigil-protocol(7)). */
#define HEADER 4
/* Only a handful of frames are ever asked for; this bounds the offsets kept on the stack. */
#define MAX_FRAMES 16

typedef struct {
  const char *code;    /* errno name, "EOF", "EPEERUID", or a protocol code */
  const char *syscall; /* the step that failed: socket, connect, getsockopt, write, read, poll */
  int err;             /* errno, or 0 */
  uint32_t frame_len;  /* the offending length, for BAD_REQUEST / FRAME_TOO_LARGE */
  int64_t peer_uid;    /* for EPEERUID: who runs the socket's listener */
  int64_t peer_pid;    /* likewise; -1 where the platform does not say */
} failure;

/* What arrived: the frames that came whole, in order, as offsets into `data`. */
typedef struct {
  uint8_t *data;
  size_t len; /* bytes received */
  size_t cap;
  size_t starts[MAX_FRAMES]; /* offset of each complete frame's body */
  uint32_t lengths[MAX_FRAMES];
  uint32_t count; /* complete frames */
  size_t next;    /* offset of the first byte not yet part of a complete frame */
} inbox;

/*
 * Sends `request` (framed by the caller) to the agent at `path` and reads the next `wanted`
 * frames into `in` (zeroed by the caller). 0 on success; -1 with `f` filled, and `in` still
 * holding the frames that came whole before the failure. timeout_ms 0 waits for ever;
 * agent_uid -1 skips the peer check (else nothing is written unless the listener runs as
 * that uid: code EPEERUID). Frees nothing: the caller calls inbox_free().
 */
int agent_exchange(const char *path, size_t path_len, const uint8_t *request, size_t request_len, uint32_t wanted,
                   int64_t timeout_ms, int64_t connect_timeout_ms, uint32_t max_frame, int64_t agent_uid, inbox *in,
                   failure *f);

/* Wipes and frees what `in` holds (an answer holds a token). */
void inbox_free(inbox *in);

/* Overwrites n bytes in a way the compiler keeps (before free(), or at exit). */
void wipe(void *p, size_t n);

/* wipe(), then free(); nothing for NULL. */
void free_wiped(void *p, size_t n);

/*
 * Makes room for `need` bytes in *data (holding `len` of *cap), doubling from `first`; the
 * old block is wiped before it is freed. false when malloc fails (nothing changed).
 */
bool grow_wiped(uint8_t **data, size_t *cap, size_t len, size_t need, size_t first);

/* The errno's name (ENOENT…), "EUNKNOWN" for one a Unix-socket client does not meet. */
const char *errno_name(int e);

#endif
