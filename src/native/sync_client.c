/*
 * The synchronous agent client behind the Node sigil-token: connect, one write, read N
 * frames, all with blocking-style system calls on the calling thread. A Node client pays
 * for loading `net` and for an event-loop turn before 'connect' fires (~3–4 ms of a ~25 ms
 * process); this does the same exchange in well under a millisecond of its own. The socket
 * side is agent_io.c, which the C sigil-token (sigil_token.c) shares.
 *
 * exchange(socketPath, request, frames, timeoutMs, connectTimeoutMs, maxFrame, agentUid) → Buffer[]
 *   Sends `request` as is (the caller frames it), returns the bodies of the next `frames`
 *   length-prefixed frames. Framing and MessagePack stay in TypeScript: one implementation.
 *   timeoutMs 0 waits for ever, as the client library's request timeout does. Before a byte
 *   is sent, the process listening on the socket must run as `agentUid` (-1: no check);
 *   else code EPEERUID with `peerUid` and `peerPid`, and nothing was written.
 *
 * Errors are thrown as Error with `code` (an errno name, "EOF", or the protocol's
 * BAD_REQUEST / FRAME_TOO_LARGE for a bad length), `syscall` (which step failed: the caller
 * words "no agent" and "the agent went away" differently), `frameLength` for a bad length,
 * and `frames`: the bodies that arrived whole before the failure. Messages name the step
 * and strerror() only: never the bytes exchanged, which hold a token.
 */
#define NAPI_VERSION 8
/* struct ucred (SO_PEERCRED) is a GNU extension of <sys/socket.h>. */
#define _GNU_SOURCE
#include <node_api.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

/* The socket side (connect, peer check, write, read frames): shared with the native sigil-token. */
#include "agent_io.h"

/* ---- N-API glue ---- */

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, "EINVAL", "sync-client: N-API call failed"); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

static napi_value bodies(napi_env env, const inbox *in) {
  napi_value arr;
  if (napi_create_array_with_length(env, in->count, &arr) != napi_ok) return NULL;
  for (uint32_t i = 0; i < in->count; i++) {
    napi_value buf;
    if (napi_create_buffer_copy(env, in->lengths[i], in->data + in->starts[i], NULL, &buf) != napi_ok) return NULL;
    if (napi_set_element(env, arr, i, buf) != napi_ok) return NULL;
  }
  return arr;
}

static void set_string(napi_env env, napi_value obj, const char *key, const char *value) {
  napi_value v;
  if (napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v) == napi_ok) napi_set_named_property(env, obj, key, v);
}

static void set_uint(napi_env env, napi_value obj, const char *key, uint32_t value) {
  napi_value v;
  if (napi_create_uint32(env, value, &v) == napi_ok) napi_set_named_property(env, obj, key, v);
}

static void set_int(napi_env env, napi_value obj, const char *key, int64_t value) {
  napi_value v;
  if (napi_create_int64(env, value, &v) == napi_ok) napi_set_named_property(env, obj, key, v);
}

static void throw_failure(napi_env env, const failure *f, const inbox *in) {
  char text[160];
  if (f->err) {
    snprintf(text, sizeof text, "%s: %s", f->syscall, strerror(f->err));
  } else if (strcmp(f->code, "EPEERUID") == 0) {
    snprintf(text, sizeof text, "%s: the socket's listener runs as uid %lld", f->syscall, (long long)f->peer_uid);
  } else if (strcmp(f->code, "EOF") == 0) {
    snprintf(text, sizeof text, "%s: the peer closed the connection after %u whole frames", f->syscall, in->count);
  } else {
    snprintf(text, sizeof text, "%s: bad frame length %u", f->syscall, f->frame_len);
  }
  napi_value code, msg, err;
  if (napi_create_string_utf8(env, f->code, NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg) != napi_ok ||
      napi_create_error(env, code, msg, &err) != napi_ok) {
    napi_throw_error(env, f->code, text);
    return;
  }
  set_string(env, err, "syscall", f->syscall);
  if (f->err) set_uint(env, err, "errno", (uint32_t)f->err);
  if (strcmp(f->code, "BAD_REQUEST") == 0 || strcmp(f->code, "FRAME_TOO_LARGE") == 0) set_uint(env, err, "frameLength", f->frame_len);
  if (strcmp(f->code, "EPEERUID") == 0) {
    set_int(env, err, "peerUid", f->peer_uid);
    set_int(env, err, "peerPid", f->peer_pid);
  }
  napi_value done = bodies(env, in);
  if (done) napi_set_named_property(env, err, "frames", done);
  napi_throw(env, err);
}

static napi_value exchange(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 7) {
    napi_throw_type_error(env, "EINVAL", "exchange(socketPath, request, frames, timeoutMs, connectTimeoutMs, maxFrame, agentUid)");
    return NULL;
  }
  /* Room for a whole sun_path and the NUL napi writes: what is past it is cut anyway. */
  char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
  size_t path_len = 0;
  void *request = NULL;
  size_t request_len = 0;
  uint32_t wanted = 0, max_frame = 0;
  int64_t timeout_ms = 0, connect_timeout_ms = 0, agent_uid = -1;
  bool is_buffer = false;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &path_len) != napi_ok ||
      napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, argv[1], &request, &request_len) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &wanted) != napi_ok ||
      napi_get_value_int64(env, argv[3], &timeout_ms) != napi_ok ||
      napi_get_value_int64(env, argv[4], &connect_timeout_ms) != napi_ok ||
      napi_get_value_uint32(env, argv[5], &max_frame) != napi_ok ||
      napi_get_value_int64(env, argv[6], &agent_uid) != napi_ok ||
      wanted == 0 || wanted > MAX_FRAMES || max_frame == 0 || timeout_ms < 0 || connect_timeout_ms < 0) {
    napi_throw_type_error(env, "EINVAL", "exchange: bad arguments");
    return NULL;
  }

  failure f;
  inbox in;
  memset(&in, 0, sizeof in);
  napi_value result = NULL;
  /* A path with a NUL inside is refused by agent_exchange(), as libuv refuses it. */
  int ok = agent_exchange(path, path_len, request, request_len, wanted, timeout_ms, connect_timeout_ms, max_frame, agent_uid, &in, &f) == 0;
  if (ok) {
    result = bodies(env, &in);
    if (!result) napi_throw_error(env, "ENOMEM", "exchange: cannot allocate the answer");
  } else {
    throw_failure(env, &f, &in);
  }
  inbox_free(&in);
  return result;
}

#if defined(SO_PEERCRED)
/*
 * peerCred(fd) → {pid, uid, gid}: SO_PEERCRED of a connected Unix socket, for the node:net
 * clients (the CLI, the TUI) checking their agent and for the agent checking its clients.
 * koffi does the same from JavaScript, but loading it costs ~15 ms of every `sigil` command.
 */
static napi_value peer_cred(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, "EINVAL", "peerCred(fd)");
    return NULL;
  }
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
    napi_throw_error(env, errno_name(errno), strerror(errno));
    return NULL;
  }
  napi_value out;
  CHECK(napi_create_object(env, &out));
  set_int(env, out, "pid", cred.pid);
  set_int(env, out, "uid", cred.uid);
  set_int(env, out, "gid", cred.gid);
  return out;
}
#endif

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value fn;
  if (napi_create_function(env, "exchange", NAPI_AUTO_LENGTH, exchange, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "exchange", fn) != napi_ok) return NULL;
#if defined(SO_PEERCRED)
  if (napi_create_function(env, "peerCred", NAPI_AUTO_LENGTH, peer_cred, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "peerCred", fn) != napi_ok) return NULL;
#endif
  return exports;
}
