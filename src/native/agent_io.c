/*
 * The socket side of a round trip with the agent (agent_io.h): Linux and macOS, no
 * allocation beyond the bytes the agent actually sends.
 */
/* struct ucred (SO_PEERCRED) is a GNU extension of <sys/socket.h>. */
#define _GNU_SOURCE
#include "agent_io.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* A get_token answer is ~100–300 bytes: one read of this size almost always takes both. */
#define FIRST_READ 4096

#define ERRNO_NAME(e) \
  case e:             \
    return #e;
/* The errnos a Unix-socket client meets; anything else keeps its number in `errno`. */
const char *errno_name(int e) {
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


/*
 * Overwrites before free(): the answer holds an access token, and free() hands the bytes
 * back to the allocator as they are, where a later allocation or a core dump could show
 * them. volatile: a memset right before free() may be optimised away.
 */
void wipe(void *p, size_t n) {
  volatile uint8_t *v = p;
  while (n--) *v++ = 0;
}

bool grow_wiped(uint8_t **data, size_t *cap, size_t len, size_t need, size_t first) {
  if (need <= *cap) return true;
  size_t size = *cap ? *cap : first;
  while (size < need) size *= 2;
  uint8_t *next = malloc(size);
  if (!next) return false;
  /* Not realloc(): it may free the old block with the token still in it. */
  if (*data) memcpy(next, *data, len);
  free_wiped(*data, *cap);
  *data = next;
  *cap = size;
  return true;
}

static int grow(inbox *in, size_t need, failure *f) {
  return grow_wiped(&in->data, &in->cap, in->len, need, FIRST_READ) ? 0 : fail_errno(f, "read", ENOMEM);
}

/*
 * Marks the frames that the bytes so far complete. A length is checked as soon as its
 * header is whole, and no room is made for a body on the strength of its header: the buffer
 * grows only as bytes arrive (read_frames), so a bad agent gets no more memory than about
 * twice what it actually sent, never 1 MiB for a 4-byte lie.
 */
static int scan(inbox *in, uint32_t wanted, uint32_t max_frame, failure *f) {
  while (in->count < wanted && in->len - in->next >= HEADER) {
    const uint8_t *h = in->data + in->next;
    uint32_t n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    if (n == 0 || n > max_frame) {
      f->frame_len = n;
      return fail_code(f, "read", n == 0 ? "BAD_REQUEST" : "FRAME_TOO_LARGE");
    }
    if (in->len - in->next - HEADER < n) return 0;
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
    /* Full: twice the room, for bytes that are on their way (lengths were checked by scan()). */
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

int agent_exchange(const char *path, size_t path_len, const uint8_t *request, size_t request_len, uint32_t wanted,
                   int64_t timeout_ms, int64_t connect_timeout_ms, uint32_t max_frame, int64_t agent_uid, inbox *in,
                   failure *f) {
  f->code = NULL;
  f->syscall = NULL;
  f->err = 0;
  f->frame_len = 0;
  f->peer_uid = -1;
  f->peer_pid = -1;
  if (wanted == 0 || wanted > MAX_FRAMES || max_frame == 0) return fail_errno(f, "socket", EINVAL);
  /* A NUL inside would name another file; libuv refuses it the same way. */
  if (memchr(path, 0, path_len)) return fail_errno(f, "connect", EINVAL);
  int fd = open_socket(f);
  if (fd < 0) return -1;
  int ok = connect_to(fd, path, path_len, connect_timeout_ms > INT32_MAX ? INT32_MAX : (int)connect_timeout_ms, f) == 0;
  ok = ok && check_peer(fd, agent_uid, f) == 0;
  /* The answer's deadline starts once connected, as the client library's request timer does. */
  int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : -1;
  ok = ok && write_all(fd, request, request_len, deadline, f) == 0;
  ok = ok && read_frames(fd, in, wanted, max_frame, deadline, f) == 0;
  close(fd);
  return ok ? 0 : -1;
}

void free_wiped(void *p, size_t n) {
  if (!p) return;
  wipe(p, n);
  free(p);
}

void inbox_free(inbox *in) {
  free_wiped(in->data, in->cap);
  in->data = NULL;
  in->len = in->cap = 0;
}
