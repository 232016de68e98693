/*
 * sigil-token SERVICE ACCOUNT, native: what src/token/main.ts does on its native transport
 * (src/client/sync-request.ts, agent-endpoint.ts, agent-trust.ts, wire.ts), byte for byte —
 * the same frames to the agent, the same token line on stdout, the same messages on stderr,
 * the same exit codes — without starting Node: one connect, one write, one read.
 * test/token/sigil-token.test.ts runs every case against both programs.
 *
 * The agent's answer is read as hostile (msgpack.c): a body either decodes as the
 * TypeScript decoder would decode it, or it is "undecodable", as it is there.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent_io.h"
#include "msgpack.h"
#include "text.h"

#ifndef SIGIL_VERSION
#error "SIGIL_VERSION: the build passes src/version.ts's VERSION"
#endif

#define USAGE "usage: sigil-token SERVICE ACCOUNT\n"
#define CLIENT_NAME "sigil-token"
/* src/client/agent-endpoint.ts, src/protocol/frame.ts, src/protocol/messages.ts */
#define TIMEOUT_MS 30000
#define CONNECT_TIMEOUT_MS 5000
#define MAX_FRAME (1024 * 1024)
#define PROTOCOL_VERSION 1
/* The get_token request's id: the hello goes first as 1, as AgentClient numbers them. */
#define TOKEN_ID 2

/* src/protocol/codes.ts: EXIT_CODES. */
static const struct {
  const char *code;
  int exit;
} CODES[] = {
    {"INTERNAL", 1},        {"BAD_REQUEST", 2},      {"NO_AGENT", 3},           {"LOCKED", 4},
    {"BAD_PASSPHRASE", 5},  {"RATE_LIMITED", 6},     {"NOT_FOUND", 7},          {"ALREADY_EXISTS", 8},
    {"REAUTH_REQUIRED", 9}, {"PROVIDER_ERROR", 10},  {"FLOW_TIMEOUT", 11},      {"FORBIDDEN", 12},
    {"UNSUPPORTED_VERSION", 13}, {"UNKNOWN_OP", 13}, {"FRAME_TOO_LARGE", 13},
};

/* A SigilError: its code's exit status, and its message (the text, not yet escaped). */
typedef struct {
  int exit;
  buf message;
} error;

static int exit_of(const char *code) {
  for (size_t i = 0; i < sizeof CODES / sizeof CODES[0]; i++)
    if (strcmp(CODES[i].code, code) == 0) return CODES[i].exit;
  return -1;
}

static error *fail(error *e, const char *code, const char *text) {
  e->exit = exit_of(code);
  buf_str(&e->message, text);
  return e;
}

/* Where the agent is (agent-endpoint.ts): the path as Node would hold it, and how it was named. */
typedef struct {
  buf path;
  bool from_env;
} endpoint;

/* path.posix.normalize() of an absolute path, appended to `out`: "." and empty parts go, ".." climbs. */
static void normalize_into(buf *out, const uint8_t *p, size_t n) {
  size_t base = out->len, i = 0;
  while (i < n) {
    while (i < n && p[i] == '/') i++;
    size_t s = i;
    while (i < n && p[i] != '/') i++;
    size_t len = i - s;
    if (len == 0 || (len == 1 && p[s] == '.')) continue;
    if (len == 2 && p[s] == '.' && p[s + 1] == '.') {
      /* Back to the "/" before the last part written, then drop it too (never above the root). */
      while (out->len > base && out->data[out->len - 1] != '/') out->len--;
      if (out->len > base) out->len--;
      continue;
    }
    buf_byte(out, '/');
    buf_add(out, p + s, len);
  }
  if (out->len == base) buf_byte(out, '/');
}

static void resolve_endpoint(endpoint *ep) {
  const char *sock = getenv("SIGIL_AUTH_SOCK");
  if (sock && *sock) {
    ep->from_env = true;
    buf_utf8(&ep->path, (const uint8_t *)sock, strlen(sock));
    return;
  }
  /* util/paths.ts defaultSocketDir(): XDG_RUNTIME_DIR only when absolute, else /tmp by uid. */
  const char *runtime = getenv("XDG_RUNTIME_DIR");
  if (runtime && runtime[0] == '/') {
    buf dir = {0};
    buf_utf8(&dir, (const uint8_t *)runtime, strlen(runtime));
    buf_str(&dir, "/sigilforge/agent.sock");
    normalize_into(&ep->path, dir.data, dir.len);
    buf_free(&dir);
    return;
  }
  buf_str(&ep->path, "/tmp/sigilforge-");
  buf_uint(&ep->path, (uint64_t)getuid());
  buf_str(&ep->path, "/agent.sock");
}

/* shown() of agent-trust.ts and noAgent()'s `where`: what the user would check. */
static void where_into(buf *out, const endpoint *ep) {
  if (ep->from_env) buf_str(out, "SIGIL_AUTH_SOCK=");
  buf_add(out, ep->path.data, ep->path.len);
}

/* ---- the foreign agent's message (agent-trust.ts foreignAgent(), userName()) ---- */

/* Bytes of a JavaScript whitespace or line terminator at s (String.prototype.trim), else 0. */
static size_t js_space(const uint8_t *s, size_t n) {
  if (n >= 1 && (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r'))) return 1;
  if (n >= 2 && s[0] == 0xc2 && s[1] == 0xa0) return 2; /* U+00A0 */
  if (n < 3) return 0;
  unsigned cp = (unsigned)(s[0] & 0x0f) << 12 | (unsigned)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
  if ((s[0] & 0xf0) != 0xe0 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80) return 0;
  bool space = cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f ||
               cp == 0x205f || cp == 0x3000 || cp == 0xfeff;
  return space ? 3 : 0;
}

/*
 * Number(text) === uid, for the uid field of a passwd line: JavaScript's string-to-number
 * (blank is 0; decimal with a fraction or exponent; 0x, 0o, 0b), not strtol's.
 */
static bool js_number_is(const uint8_t *s, size_t n, int64_t uid) {
  size_t k;
  while (n && (k = js_space(s, n)) != 0) s += k, n -= k;
  while (n) {
    size_t back = 0;
    for (size_t w = 1; w <= 3 && w <= n; w++)
      if (js_space(s + n - w, w) == w) back = w;
    if (!back) break;
    n -= back;
  }
  if (n == 0) return uid == 0;
  if (n > 2 && s[0] == '0' && strchr("xXoObB", s[1])) {
    unsigned base = s[1] == 'x' || s[1] == 'X' ? 16 : s[1] == 'o' || s[1] == 'O' ? 8 : 2;
    double v = 0;
    for (size_t i = 2; i < n; i++) {
      unsigned c = s[i], d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : 99;
      if (d >= base) return false;
      v = v * base + d;
    }
    return v == (double)uid;
  }
  /* [+-] (digits [. digits] | . digits) [e [+-] digits], then strtod for the exact value. */
  size_t i = 0, digits = 0;
  if (s[i] == '+' || s[i] == '-') i++;
  while (i < n && s[i] >= '0' && s[i] <= '9') i++, digits++;
  if (i < n && s[i] == '.') {
    i++;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++, digits++;
  }
  if (!digits) return false; /* also "Infinity", which no uid equals */
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    size_t exp = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++, exp++;
    if (!exp) return false;
  }
  if (i != n || n > 64) return false;
  char text[65];
  memcpy(text, s, n);
  text[n] = 0;
  return strtod(text, NULL) == (double)uid;
}

/* /^[\w.-]{1,32}$/ */
static bool plain_name(const uint8_t *s, size_t n) {
  if (n < 1 || n > 32) return false;
  for (size_t i = 0; i < n; i++) {
    uint8_t c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-')) return false;
  }
  return true;
}

/* The user's name from /etc/passwd, appended to `out`; false (nothing appended) when none. */
static bool user_name(int64_t uid, buf *out) {
  int fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  buf raw = {0};
  uint8_t chunk[8192];
  ssize_t r;
  while ((r = read(fd, chunk, sizeof chunk)) > 0 || (r < 0 && errno == EINTR))
    if (r > 0) buf_add(&raw, chunk, (size_t)r);
  close(fd);
  if (r < 0 || raw.failed) {
    buf_free(&raw);
    return false;
  }
  /* Read as UTF-8 text, as readFileSync(…, 'utf8') does. */
  buf text = {0};
  buf_utf8(&text, raw.data, raw.len);
  buf_free(&raw);
  bool found = false;
  for (size_t at = 0; at <= text.len && !found;) {
    const uint8_t *line = text.data + at;
    const uint8_t *nl = text.len > at ? memchr(line, '\n', text.len - at) : NULL;
    size_t n = nl ? (size_t)(nl - line) : text.len - at;
    /* name:password:uid:… — split(':') */
    const uint8_t *c1 = memchr(line, ':', n);
    const uint8_t *c2 = c1 ? memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - line)) : NULL;
    if (c2) {
      const uint8_t *id = c2 + 1;
      const uint8_t *c3 = memchr(id, ':', n - (size_t)(id - line));
      size_t id_len = c3 ? (size_t)(c3 - id) : n - (size_t)(id - line);
      size_t name_len = (size_t)(c1 - line);
      if (name_len > 0 && js_number_is(id, id_len, uid) && plain_name(line, name_len)) {
        buf_add(out, line, name_len);
        found = true;
      }
    }
    if (!nl) break;
    at += n + 1;
  }
  buf_free(&text);
  return found && !out->failed;
}

static void ids_into(buf *out, int64_t uid, int64_t pid) {
  buf_str(out, "uid ");
  buf_uint(out, (uint64_t)uid);
  if (pid > 0) {
    buf_str(out, ", pid ");
    buf_uint(out, (uint64_t)pid);
  }
}

static error *foreign_agent(error *e, const endpoint *ep, int64_t uid, int64_t pid) {
  e->exit = exit_of("FORBIDDEN");
  buf *m = &e->message;
  buf_str(m, "refusing the agent at ");
  where_into(m, ep);
  buf_str(m, ": it runs as ");
  size_t before = m->len;
  if (user_name(uid, m)) {
    buf_str(m, " (");
    ids_into(m, uid, pid);
    buf_str(m, ")");
  } else {
    m->len = before;
    ids_into(m, uid, pid);
  }
  int64_t me = (int64_t)geteuid();
  buf_str(m, ", not as you (");
  if (user_name(me, m)) buf_str(m, ", ");
  buf_str(m, "uid ");
  buf_uint(m, (uint64_t)me);
  buf_str(m, "); nothing was sent");
  return e;
}

/* ---- the exchange's failures, as sync-request.ts words them ---- */

static error *no_agent(error *e, const endpoint *ep, const char *reason) {
  e->exit = exit_of("NO_AGENT");
  buf *m = &e->message;
  if (strcmp(reason, "permission denied") == 0) {
    buf_str(m, "cannot connect to ");
    where_into(m, ep);
    buf_str(m, ": permission denied (the socket or its directory belongs to another user)");
    return e;
  }
  buf_str(m, "no agent answers at ");
  where_into(m, ep);
  buf_str(m, " (");
  buf_str(m, reason);
  buf_str(m, ") \xe2\x80\x94 start one with: eval \"$(sigil-agent)\"");
  return e;
}

static error *agent_said(error *e, const endpoint *ep, const char *code, const char *before, const char *after) {
  e->exit = exit_of(code);
  buf_str(&e->message, before);
  buf_add(&e->message, ep->path.data, ep->path.len);
  buf_str(&e->message, after);
  return e;
}

/* The failure that stands if no frame that did arrive answers the request. */
static error *exchange_failed(error *e, const endpoint *ep, const failure *f) {
  if (strcmp(f->code, "EPEERUID") == 0) return foreign_agent(e, ep, f->peer_uid, f->peer_pid);
  if (strcmp(f->syscall, "getsockopt") == 0) {
    e->exit = exit_of("FORBIDDEN");
    buf_str(&e->message, "cannot tell who runs the agent at ");
    buf_add(&e->message, ep->path.data, ep->path.len);
    buf_str(&e->message, " (");
    buf_str(&e->message, f->code);
    buf_str(&e->message, "); nothing was sent");
    return e;
  }
  if (strcmp(f->syscall, "socket") == 0 || strcmp(f->syscall, "connect") == 0) {
    const char *c = f->code;
    if (strcmp(c, "ETIMEDOUT") == 0) return no_agent(e, ep, "timed out connecting");
    const char *reason = strcmp(c, "ENOENT") == 0          ? "no such socket"
                         : strcmp(c, "ECONNREFUSED") == 0 ? "nothing listening"
                         : strcmp(c, "EACCES") == 0       ? "permission denied"
                                                          : c;
    return no_agent(e, ep, reason);
  }
  if (strcmp(f->code, "BAD_REQUEST") == 0) return fail(e, "BAD_REQUEST", "zero-length frame");
  if (strcmp(f->code, "FRAME_TOO_LARGE") == 0) {
    e->exit = exit_of("FRAME_TOO_LARGE");
    buf_str(&e->message, "frame of ");
    buf_uint(&e->message, f->frame_len);
    buf_str(&e->message, " bytes exceeds the 1 MiB limit");
    return e;
  }
  if (strcmp(f->code, "ETIMEDOUT") == 0) return agent_said(e, ep, "NO_AGENT", "the agent at ", " did not answer \"get_token\" within 30 s");
  return agent_said(e, ep, "NO_AGENT", "the agent at ", " closed the connection");
}

/* ---- the answer (wire.ts readReply(), errors.ts SigilError.fromWire()) ---- */

typedef enum { REPLY_SKIP, REPLY_TOKEN, REPLY_ERROR } reply_kind;

/* An error map from the agent: its code if it is one of ours, its message if it is a string. */
static error *from_wire(error *e, bool present, mp_value err) {
  mp_value code, message;
  const uint8_t *s;
  size_t n;
  if (present && mp_kind_of(err) == MP_MAP && mp_get(err, "code", &code) && mp_str(code, &s, &n)) {
    char name[32];
    if (n < sizeof name) {
      memcpy(name, s, n);
      name[n] = 0;
      int status = memchr(name, 0, n) ? -1 : exit_of(name);
      if (status >= 0) {
        e->exit = status;
        if (mp_get(err, "message", &message) && mp_str(message, &s, &n)) buf_utf8(&e->message, s, n);
        else buf_str(&e->message, name);
        return e;
      }
    }
  }
  return fail(e, "INTERNAL", "agent sent a malformed error");
}

/* What one body says: nothing to act on, the token (into `token`), or an error (into `e`). */
static reply_kind read_reply(const uint8_t *body, size_t len, buf *token, error *e) {
  if (!mp_check(body, len)) {
    fail(e, "INTERNAL", "the agent sent an undecodable frame");
    return REPLY_ERROR;
  }
  mp_value msg = mp_root(body, len), id, ok, result, access, err;
  if (mp_kind_of(msg) != MP_MAP) return REPLY_SKIP;
  bool has_ok = mp_get(msg, "ok", &ok);
  bool has_err = mp_get(msg, "error", &err);
  if (!mp_get(msg, "id", &id) || mp_kind_of(id) == MP_NIL) {
    /* An error about the whole connection fails the request; anything else id-less is noise. */
    if (has_ok && mp_is_bool(ok, false)) {
      from_wire(e, has_err, err);
      return REPLY_ERROR;
    }
    return REPLY_SKIP;
  }
  double n;
  if (!mp_number(id, &n) || n != TOKEN_ID) return REPLY_SKIP; /* the hello's answer, or noise */
  if (!has_ok || !mp_is_bool(ok, true)) {
    from_wire(e, has_err, err);
    return REPLY_ERROR;
  }
  const uint8_t *s;
  size_t sn;
  if (mp_get(msg, "result", &result) && mp_get(result, "access_token", &access) && mp_str(access, &s, &sn)) {
    buf_utf8(token, s, sn);
    return REPLY_TOKEN;
  }
  fail(e, "INTERNAL", "the agent answered get_token without an access_token");
  return REPLY_ERROR;
}

/* ---- the request ---- */

static void frame_into(buf *out, const buf *body) {
  uint8_t h[4] = {(uint8_t)(body->len >> 24), (uint8_t)(body->len >> 16), (uint8_t)(body->len >> 8), (uint8_t)body->len};
  buf_add(out, h, 4);
  buf_add(out, body->data, body->len);
}

/* {v, id, op, args} as requestFrame() encodes it: same keys, same order, same forms. */
static void request_head(buf *b, uint32_t id, const char *op) {
  mp_put_map(b, 4);
  mp_put_cstr(b, "v");
  mp_put_uint(b, PROTOCOL_VERSION);
  mp_put_cstr(b, "id");
  mp_put_uint(b, id);
  mp_put_cstr(b, "op");
  mp_put_cstr(b, op);
  mp_put_cstr(b, "args");
}

/* hello (helloArgs()) then get_token, in one write; an error when the second frame is too big. */
static bool build_request(buf *out, const buf *service, const buf *account, error *e) {
  buf hello = {0}, get = {0};
  request_head(&hello, 1, "hello");
  mp_put_map(&hello, 2);
  mp_put_cstr(&hello, "client");
  mp_put_cstr(&hello, CLIENT_NAME);
  mp_put_cstr(&hello, "versions");
  mp_put_array(&hello, 1);
  mp_put_uint(&hello, PROTOCOL_VERSION);
  request_head(&get, TOKEN_ID, "get_token");
  mp_put_map(&get, 2);
  mp_put_cstr(&get, "service");
  mp_put_str(&get, service->data, service->len);
  mp_put_cstr(&get, "account");
  mp_put_str(&get, account->data, account->len);
  bool ok = get.len <= MAX_FRAME;
  if (!ok) {
    e->exit = exit_of("FRAME_TOO_LARGE");
    buf_str(&e->message, "message of ");
    buf_uint(&e->message, get.len);
    buf_str(&e->message, " bytes exceeds the 1 MiB frame limit");
  } else {
    frame_into(out, &hello);
    frame_into(out, &get);
  }
  buf_free(&hello);
  buf_free(&get);
  return ok;
}

/* ---- output ---- */

/* All of it, or false: the shim's one writeSync(), which a closed pipe fails (EPIPE). */
static bool write_all_fd(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd pf = {.fd = fd, .events = POLLOUT, .revents = 0};
      poll(&pf, 1, -1);
    } else {
      return false;
    }
  }
  return true;
}

static void write_text(int fd, const char *s) { write_all_fd(fd, (const uint8_t *)s, strlen(s)); }

/* "sigil-token: MESSAGE\n", the message as terminalText(…, { lines: true }) shows it. */
static int report(error *e) {
  buf line = {0};
  buf_str(&line, "sigil-token: ");
  if (e->message.failed) buf_str(&line, "out of memory");
  else buf_terminal(&line, e->message.data, e->message.len, true);
  buf_byte(&line, '\n');
  if (!line.failed) write_all_fd(2, line.data, line.len);
  buf_free(&line);
  buf_free(&e->message);
  return e->exit < 0 ? 1 : e->exit;
}

/*
 * Node opens /dev/null on a standard descriptor that is closed, and so does this: else the
 * agent's socket could be given fd 1, and the token request would go to stdout.
 */
static void standard_fds(void) {
  struct stat st;
  for (int fd = 0; fd <= 2; fd++) {
    if (fstat(fd, &st) == 0 || errno != EBADF) continue;
    int null = open("/dev/null", O_RDWR);
    if (null >= 0 && null != fd) close(null);
  }
}

static int get_token(const buf *service, const buf *account) {
  error e = {.exit = 1, .message = {0}};
  endpoint ep = {.path = {0}, .from_env = false};
  resolve_endpoint(&ep);
  buf request = {0};
  if (!build_request(&request, service, account, &e)) return report(&e);
  if (request.failed || ep.path.failed) return report(fail(&e, "INTERNAL", "out of memory"));
  /* napi_get_value_string_utf8() into a sun_path-sized buffer: cut at a character's start. */
  size_t path_len = ep.path.len;
  const size_t room = sizeof(((struct sockaddr_un *)0)->sun_path);
  if (path_len > room) {
    path_len = room;
    while (path_len > 0 && (ep.path.data[path_len] & 0xc0) == 0x80) path_len--;
  }
  failure f;
  inbox in;
  memset(&in, 0, sizeof in);
  int rc = agent_exchange((const char *)ep.path.data, path_len, request.data, request.len, 2, TIMEOUT_MS, CONNECT_TIMEOUT_MS,
                          MAX_FRAME, (int64_t)geteuid(), &in, &f);
  buf_free(&request);
  buf token = {0};
  reply_kind got = REPLY_SKIP;
  /*
   * In arrival order, as AgentClient delivers them: what came whole before a failure counts
   * (none did when the connect or the peer check failed).
   */
  for (uint32_t i = 0; i < in.count && got == REPLY_SKIP; i++) got = read_reply(in.data + in.starts[i], in.lengths[i], &token, &e);
  inbox_free(&in);
  if (got == REPLY_SKIP) {
    if (rc == 0) agent_said(&e, &ep, "NO_AGENT", "the agent at ", " closed the connection");
    else exchange_failed(&e, &ep, &f);
  }
  if (got != REPLY_TOKEN) {
    buf_free(&ep.path);
    buf_free(&token);
    return report(&e);
  }
  buf_free(&ep.path);
  buf_byte(&token, '\n');
  bool written = !token.failed && write_all_fd(1, token.data, token.len);
  buf_free(&token);
  return written ? 0 : 1; /* stdout closed under us: nothing to tell anyone */
}

int main(int argc, char **argv) {
  standard_fds();
  /* Node ignores SIGPIPE: a closed stdout is EPIPE and exit 1, not death by a signal. */
  signal(SIGPIPE, SIG_IGN);
  const char *first = argc > 1 ? argv[1] : "";
  if (strcmp(first, "-h") == 0 || strcmp(first, "--help") == 0) {
    write_text(1, USAGE "\nPrints a fresh access token for the account, refreshed by the agent when needed.\nExit codes: see sigil-token(1).\n");
    return 0;
  }
  if (strcmp(first, "-V") == 0 || strcmp(first, "--version") == 0) {
    write_text(1, "sigil-token " SIGIL_VERSION "\n");
    return 0;
  }
  if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-') {
    write_text(2, "sigil-token: expected SERVICE ACCOUNT\n" USAGE);
    return 2;
  }
  /* As Node reads argv: UTF-8, an ill-formed sequence as U+FFFD. */
  buf service = {0}, account = {0};
  buf_utf8(&service, (const uint8_t *)argv[1], strlen(argv[1]));
  buf_utf8(&account, (const uint8_t *)argv[2], strlen(argv[2]));
  int status = get_token(&service, &account);
  buf_free(&service);
  buf_free(&account);
  return status;
}
