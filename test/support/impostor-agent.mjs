// Another user's fake agent (run as `nobody` by the test): it listens on argv[2], logs the
// size of every chunk any client sends it to argv[3], and answers every frame with success
// and an attacker's token — what a client that trusts the socket path would print.
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { decode, encode } from '@msgpack/msgpack';

const [sockPath, logPath] = process.argv.slice(2);
const TOKEN = { access_token: 'attacker-token', token_type: 'Bearer', expires_at: 4102444800 };
const ANSWER = { ...TOKEN, version: 1, agent: 'sigilforge', pid: process.pid, locked: false };

createServer((socket) => {
  let got = Buffer.alloc(0);
  socket.on('error', () => {});
  socket.on('data', (chunk) => {
    appendFileSync(logPath, `${chunk.length}\n`);
    got = Buffer.concat([got, chunk]);
    while (got.length >= 4 && got.length >= 4 + got.readUInt32BE(0)) {
      const n = got.readUInt32BE(0);
      const req = decode(got.subarray(4, 4 + n));
      got = got.subarray(4 + n);
      const body = Buffer.from(encode({ id: req.id, ok: true, result: ANSWER }));
      const head = Buffer.alloc(4);
      head.writeUInt32BE(body.length);
      socket.write(Buffer.concat([head, body]));
    }
  });
}).listen(sockPath, () => process.stdout.write('listening\n'));
