'use strict';
// The floor for a one-shot client: connect to $SIGIL_AUTH_SOCK, send one get_token frame,
// print the token. No client library, no hello, no timeouts, a hand-rolled MessagePack subset
// (fixmap/fixstr/str8/uint/nil only) — what `sigil-token` could be at the very least.
// Informational column of the start-up benchmark; not a product.
//   node bench/min-client.cjs SERVICE ACCOUNT
const net = require('node:net');

function str(s) {
  const b = Buffer.from(s, 'utf8');
  return b.length < 32 ? Buffer.concat([Buffer.from([0xa0 | b.length]), b]) : Buffer.concat([Buffer.from([0xd9, b.length]), b]);
}
function map(entries) {
  const parts = [Buffer.from([0x80 | entries.length])];
  for (const [k, v] of entries) parts.push(str(k), v);
  return Buffer.concat(parts);
}

const [service, account] = process.argv.slice(2);
const body = map([
  ['v', Buffer.from([1])],
  ['id', Buffer.from([1])],
  ['op', str('get_token')],
  ['args', map([['service', str(service)], ['account', str(account)]])],
]);
const frame = Buffer.alloc(4 + body.length);
frame.writeUInt32BE(body.length, 0);
body.copy(frame, 4);

// Just enough of a decoder for the answer map.
function decode(buf) {
  let pos = 0;
  const value = () => {
    const t = buf[pos++];
    if (t < 0x80) return t;
    if (t >= 0x80 && t <= 0x8f) {
      const o = {};
      for (let i = 0; i < (t & 0x0f); i++) {
        const k = value();
        o[k] = value();
      }
      return o;
    }
    if (t >= 0xa0 && t <= 0xbf) return text(t & 0x1f);
    if (t === 0xd9) return text(buf[pos++]);
    if (t === 0xda) {
      const n = buf.readUInt16BE(pos);
      pos += 2;
      return text(n);
    }
    if (t === 0xc0) return null;
    if (t === 0xc2) return false;
    if (t === 0xc3) return true;
    if (t === 0xce) {
      pos += 4;
      return buf.readUInt32BE(pos - 4);
    }
    throw new Error('unexpected type 0x' + t.toString(16));
  };
  const text = (n) => {
    pos += n;
    return buf.toString('utf8', pos - n, pos);
  };
  return value();
}

let got = Buffer.alloc(0);
const sock = net.connect(process.env.SIGIL_AUTH_SOCK);
sock.on('connect', () => sock.write(frame));
sock.on('data', (chunk) => {
  got = Buffer.concat([got, chunk]);
  if (got.length < 4 || got.length < 4 + got.readUInt32BE(0)) return;
  const msg = decode(got.subarray(4, 4 + got.readUInt32BE(0)));
  sock.destroy();
  if (msg.ok !== true) {
    process.stderr.write(`min-client: ${msg.error && msg.error.code}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(msg.result.access_token + '\n');
});
sock.on('error', (err) => {
  process.stderr.write(`min-client: ${err.message}\n`);
  process.exitCode = 1;
});
