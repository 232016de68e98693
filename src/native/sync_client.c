/*
 * The synchronous agent client behind sigil-token: connect, one write, read N frames, all
 * with blocking-style system calls on the calling thread. A Node client pays for loading
 * `net` and for an event-loop turn before 'connect' fires (~3–4 ms of a ~25 ms process);
 * this does the same exchange in well under a millisecond of its own.
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
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* The length prefix: 4 bytes, big-endian (sigil-protocol(7)). */
#define HEADER 4
/* A get_token answer is ~100–300 bytes: one read of this size almost always takes both. */
#define FIRST_READ 4096
/* Only a handful of frames are ever asked for; this bounds the offsets kept on the stack. */
#define MAX_FRAMES 16

typedef struct {
  const char *code;    /* errno name, "EOF", or a protocol code */
  const char *syscall; /* the step that failed */
  int err;             /* errno, or 0 */
  uint32_t frame_len;  /* the offending length, for BAD_REQUEST / FRAME_TOO_LARGE */
  int64_t peer_uid;    /* for EPEERUID: who runs the socket's listener */
  int64_t peer_pid;    /* likewise; -1 where the platform does not say */
} failure;

#define ERRNO_NAME(e) \
  case e:             \
    return #e;
/* The errnos a Unix-socket client meets; anything else keeps its number in `errno`. */
static const char *errno_name(int e) {
  switch (e) {
    ERRNO_NAME(ENOENT)
    ERRNO_NAME(ECONNREFUSED)
    ERRNO_NAME(EACCES)
    ERRNO_NAME(EPERM)
    ERRNO_NAME(ENOTSOCK)
    ERRNO_NAME(ENOTDIR)
    ERRNO_NAME(ENAMETOOLONG)
    ERRNO_NAME(ELOOP)
    ERRNO_NAME(ETIMEDOUT)
    ERRNO_NAME(ECONNRESET)
    ERRNO_NAME(ECONNABORTED)
    ERRNO_NAME(EPIPE)
    ERRNO_NAME(EPROTOTYPE)
    ERRNO_NAME(EINVAL)
    ERRNO_NAME(EMFILE)
    ERRNO_NAME(ENFILE)
    ERRNO_NAME(ENOBUFS)
    ERRNO_NAME(ENOMEM)
    ERRNO_NAME(EIO)
    ERRNO_NAME(EINTR)
#if EAGAIN != EWOULDBLOCK
    ERRNO_NAME(EWOULDBLOCK)
#endif
    ERRNO_NAME(EAGAIN)
    default:
      return "EUNKNOWN";
  }
}

static int fail_errno(failure *f, const char *syscall, int e) {
  f->code = errno_name(e);
  f->syscall = syscall;
  f->err = e;
  return -1;
}

static int fail_code(failure *f, const char *syscall, const char *code) {
  f->code = code;
  f->syscall = syscall;
  f->err = 0;
  return -1;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before `deadline` as a poll() timeout; -1 (no deadline) stays -1. */
static int remaining(int64_t deadline) {
  if (deadline < 0) return -1;
  int64_t left = deadline - now_ms();
  if (left <= 0) return 0;
  return left > INT32_MAX ? INT32_MAX : (int)left;
}

/* Waits until fd is ready for `events`; 0 when ready, -1 with f filled on timeout or error. */
static int wait_for(int fd, short events, int64_t deadline, failure *f, const char *step) {
  for (;;) {
    struct pollfd p = {.fd = fd, .events = events, .revents = 0};
    int r = poll(&p, 1, remaining(deadline));
    if (r > 0) return 0; /* readable, writable, or hung up: the next call says which */
    if (r == 0) return fail_errno(f, step, ETIMEDOUT);
    if (errno != EINTR) return fail_errno(f, "poll", errno);
  }
}

/*
 * Close-on-exec: never inherited by a program the embedding process runs. Non-blocking:
 * poll() does all the waiting, so no call outlives the deadline.
 */
static int open_socket(failure *f) {
#if defined(SOCK_CLOEXEC) && defined(SOCK_NONBLOCK)
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return fail_errno(f, "socket", errno);
#else
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return fail_errno(f, "socket", errno);
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
    int e = errno;
    close(fd);
    return fail_errno(f, "fcntl", e);
  }
#endif
#ifdef SO_NOSIGPIPE
  /* No MSG_NOSIGNAL on macOS: a write to a closed peer must be EPIPE, not a signal. */
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
  return fd;
}

/*
 * Non-blocking, as libuv connects: a full listen backlog is EAGAIN at once (what the
 * portable client reports too), and an EINPROGRESS connect (not Linux) is bounded.
 */
static int connect_to(int fd, const char *path, size_t path_len, int connect_timeout_ms, failure *f) {
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path_len == 0) return fail_errno(f, "connect", ENOENT);
  /*
   * A path longer than sun_path is cut to its length, NUL or not, as libuv does for
   * node:net and for the agent's own bind(): the agent is then found where it listens, and
   * both transports behave the same. (Refusing it belongs in the agent and all clients at once.)
   */
  if (path_len > sizeof addr.sun_path) path_len = sizeof addr.sun_path;
  memcpy(addr.sun_path, path, path_len);
  socklen_t addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path_len);
  int r;
  do r = connect(fd, (struct sockaddr *)&addr, addr_len);
  while (r < 0 && errno == EINTR);
  if (r == 0) return 0;
  if (errno != EINPROGRESS) return fail_errno(f, "connect", errno);
  int64_t deadline = connect_timeout_ms > 0 ? now_ms() + connect_timeout_ms : -1;
  if (wait_for(fd, POLLOUT, deadline, f, "connect") < 0) return -1;
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return fail_errno(f, "connect", errno);
  return err ? fail_errno(f, "connect", err) : 0;
}

/*
 * Whoever listens on a path is not necessarily the agent: with XDG_RUNTIME_DIR unset the
 * socket lives under /tmp, where another user can be there first. The kernel recorded the
 * listener's credentials at listen() time; a token request goes only to our own uid.
 */
static int check_peer(int fd, int64_t want_uid, failure *f) {
  if (want_uid < 0) return 0;
  int64_t uid, pid = -1;
#if defined(SO_PEERCRED)
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return fail_errno(f, "getsockopt", errno);
  uid = cred.uid;
  pid = cred.pid;
#else
  uid_t euid;
  gid_t egid;
  if (getpeereid(fd, &euid, &egid) < 0) return fail_errno(f, "getsockopt", errno);
  uid = euid;
#endif
  if (uid == want_uid) return 0;
  f->peer_uid = uid;
  f->peer_pid = pid;
  return fail_code(f, "connect", "EPEERUID");
}

static int write_all(int fd, const uint8_t *buf, size_t len, int64_t deadline, failure *f) {
#ifdef MSG_NOSIGNAL
  const int flags = MSG_NOSIGNAL;
#else
  const int flags = 0;
#endif
  size_t off = 0;
  while (off < len) {
    ssize_t n = send(fd, buf + off, len - off, flags);
    if (n > 0) {
      off += (size_t)n;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (wait_for(fd, POLLOUT, deadline, f, "write") < 0) return -1;
    } else {
      return fail_errno(f, "write", n < 0 ? errno : EPIPE);
    }
  }
  return 0;
}

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
 * Overwrites before free(): the answer holds an access token, and free() hands the bytes
 * back to the allocator as they are, where a later allocation or a core dump could show
 * them. volatile: a memset right before free() may be optimised away.
 */
static void wipe(void *p, size_t n) {
  volatile uint8_t *v = p;
  while (n--) *v++ = 0;
}

static int grow(inbox *in, size_t need, failure *f) {
  if (need <= in->cap) return 0;
  size_t cap = in->cap ? in->cap : FIRST_READ;
  while (cap < need) cap *= 2;
  uint8_t *next = malloc(cap);
  if (!next) return fail_errno(f, "read", ENOMEM);
  /* Not realloc(): it may free the old block with the token still in it. */
  if (in->data) {
    memcpy(next, in->data, in->len);
    wipe(in->data, in->cap);
    free(in->data);
  }
  in->data = next;
  in->cap = cap;
  return 0;
}

/*
 * Marks the frames that the bytes so far complete. A length is checked as soon as its
 * header is whole, before any room is made for its body: a bad agent gets no more memory
 * than the bytes it actually sent, and never 4 GiB on the strength of a header.
 */
static int scan(inbox *in, uint32_t wanted, uint32_t max_frame, failure *f) {
  while (in->count < wanted && in->len - in->next >= HEADER) {
    const uint8_t *h = in->data + in->next;
    uint32_t n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    if (n == 0 || n > max_frame) {
      f->frame_len = n;
      return fail_code(f, "read", n == 0 ? "BAD_REQUEST" : "FRAME_TOO_LARGE");
    }
    if (in->len - in->next - HEADER < n) return grow(in, in->next + HEADER + n, f);
    in->starts[in->count] = in->next + HEADER;
    in->lengths[in->count] = n;
    in->count++;
    in->next += HEADER + n;
  }
  return 0;
}

static int read_frames(int fd, inbox *in, uint32_t wanted, uint32_t max_frame, int64_t deadline, failure *f) {
  if (grow(in, FIRST_READ, f) < 0) return -1;
  while (in->count < wanted) {
    /* Room for a body is made by scan(), once its length is checked; this only grows
       for bytes that are already here (a header split across reads). */
    if (in->len == in->cap && grow(in, in->cap + 1, f) < 0) return -1;
    ssize_t n = read(fd, in->data + in->len, in->cap - in->len);
    if (n > 0) {
      in->len += (size_t)n;
      if (scan(in, wanted, max_frame, f) < 0) return -1;
    } else if (n == 0) {
      return fail_code(f, "read", "EOF");
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (wait_for(fd, POLLIN, deadline, f, "read") < 0) return -1;
    } else {
      return fail_errno(f, "read", errno);
    }
  }
  return 0;
}

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

  failure f = {.code = NULL, .syscall = NULL, .err = 0, .frame_len = 0, .peer_uid = -1, .peer_pid = -1};
  /* A NUL inside would name another file; libuv refuses it the same way. */
  int path_err = strlen(path) != path_len ? EINVAL : 0;
  inbox in;
  memset(&in, 0, sizeof in);
  napi_value result = NULL;
  int fd = path_err ? fail_errno(&f, "connect", path_err) : open_socket(&f);
  int ok = fd >= 0 && connect_to(fd, path, path_len, connect_timeout_ms > INT32_MAX ? INT32_MAX : (int)connect_timeout_ms, &f) == 0;
  ok = ok && check_peer(fd, agent_uid, &f) == 0;
  /* The answer's deadline starts once connected, as the client library's request timer does. */
  int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : -1;
  ok = ok && write_all(fd, request, request_len, deadline, &f) == 0;
  ok = ok && read_frames(fd, &in, wanted, max_frame, deadline, &f) == 0;
  if (fd >= 0) close(fd);
  if (ok) {
    result = bodies(env, &in);
    if (!result) napi_throw_error(env, "ENOMEM", "exchange: cannot allocate the answer");
  } else {
    throw_failure(env, &f, &in);
  }
  if (in.data) {
    wipe(in.data, in.cap);
    free(in.data);
  }
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
