// The realtime benchmark's load client: many subscriber connections to Strata (WebSocket or
// server-sent events) or to the Socket.IO peer (its WebSocket transport, spoken directly so that
// both servers' clients cost the load generator the same), and a writer.
//
//   node bench/realtime_load.mjs hold KIND URL COUNT
//       opens COUNT subscribers, prints "held N" once they are subscribed, then keeps them open
//       until it gets SIGTERM.
//   node bench/realtime_load.mjs fanout KIND URL COUNT SECONDS RATE
//       opens COUNT subscribers, then writes RATE records a second for SECONDS and prints JSON:
//       deliveries a second and write-to-delivery latency (p50, p99, ms) over the window.
//
// KIND: ws | sse (Strata, topic notes/*; writes are record creates) or sio (the peer, room
// notes/*; writes are POST /publish of the same record).
import http from 'node:http';
import WebSocket from 'ws';

const [mode, kind, url, countArg, secondsArg, rateArg] = process.argv.slice(2);
const count = Number(countArg);
const host = new URL(url);
const port = Number(host.port);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

let delivered = 0;
let measuring = false;
const latencies = [];
let sample = 0;

// Each delivery counts (a WebSocket message may be an array of several); every 16th is timed
// from the `sent` stamp the writer put in the record.
function onEvent(text, marker) {
  if (!measuring) return;
  const now = performance.timeOrigin + performance.now();
  let at = marker ? text.indexOf(marker) : 0;
  while (at >= 0) {
    delivered++;
    if ((++sample & 15) === 0) {
      const i = text.indexOf('"sent":', at);
      if (i >= 0) latencies.push(now - parseFloat(text.slice(i + 7, i + 30)));
    }
    at = marker ? text.indexOf(marker, at + marker.length) : -1;
  }
}

// Loopback source addresses, so that more connections than one address has ports can be opened.
const source = (i) => `127.0.${1 + Math.floor(i / 25000)}.${1 + (i % 200)}`;

function openWs(i) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/ws`, { localAddress: source(i), skipUTF8Validation: true, perMessageDeflate: false });
    ws.on('message', (data) => {
      const text = data.toString();
      if (text.startsWith('{"type":"event"') || text.startsWith('[{"type":"event"')) return onEvent(text, '{"type":"event"');
      if (text.startsWith('{"type":"connected"')) ws.send('{"type":"subscribe","topics":["notes/*"]}');
      else if (text.startsWith('{"type":"subscribed"')) resolve(ws);
    });
    ws.on('error', reject);
  });
}

function openSio(i) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`, {
      localAddress: source(i),
      skipUTF8Validation: true,
      perMessageDeflate: false,
    });
    ws.on('message', (data) => {
      const text = data.toString();
      if (text.startsWith('42["notes/*"')) return onEvent(text);
      if (text === '2') return ws.send('3'); // Engine.IO ping → pong
      if (text.startsWith('0{')) ws.send('40'); // Engine.IO open → Socket.IO connect
      else if (text.startsWith('40')) ws.send('421["subscribe","notes/*"]');
      else if (text.startsWith('431')) resolve(ws); // the subscribe ack
    });
    ws.on('error', reject);
  });
}

function openSse(i) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/api/realtime', localAddress: source(i), agent: false }, (res) => {
      res.setEncoding('utf8');
      let buffer = '';
      let subscribed = false;
      res.on('data', (chunk) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (subscribed) {
            onEvent(frame);
            continue;
          }
          const clientId = JSON.parse(frame.slice(frame.indexOf('data:') + 5)).clientId;
          const body = JSON.stringify({ clientId, subscriptions: ['notes/*'] });
          const post = http.request(
            { host: '127.0.0.1', port, path: '/api/realtime', method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
            (r) => {
              r.resume();
              r.on('end', () => {
                subscribed = true;
                resolve(res);
              });
            },
          );
          post.on('error', reject);
          post.end(body);
        }
      });
    });
    req.on('error', reject);
  });
}

async function openAll() {
  const open = kind === 'ws' ? openWs : kind === 'sse' ? openSse : openSio;
  const conns = [];
  const batch = 250;
  for (let i = 0; i < count; i += batch) {
    const n = Math.min(batch, count - i);
    conns.push(...(await Promise.all(Array.from({ length: n }, (_, k) => open(i + k)))));
  }
  return conns;
}

function write() {
  const record = { body: 'a change every subscriber sees', sent: performance.timeOrigin + performance.now() };
  const body = JSON.stringify(record);
  const path = kind === 'sio' ? '/publish' : '/api/collections/notes/records';
  return new Promise((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', resolve);
      },
    );
    req.on('error', resolve);
    req.end(body);
  });
}

const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN);

const started = Date.now();
const conns = await openAll();
const openSeconds = (Date.now() - started) / 1000;

if (mode === 'hold') {
  console.log(`held ${conns.length} in ${openSeconds.toFixed(1)} s`);
  process.on('SIGTERM', () => process.exit(0));
  setInterval(() => {}, 1 << 30);
} else {
  const seconds = Number(secondsArg);
  const rate = Number(rateArg);
  // A second of writes to warm up, then the measured window.
  const interval = 1000 / rate;
  let stop = false;
  let writes = 0;
  const writer = (async () => {
    let next = performance.now();
    while (!stop) {
      write();
      writes++;
      next += interval;
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  await new Promise((r) => setTimeout(r, 1000));
  measuring = true;
  const t0 = performance.now();
  const w0 = writes;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  const w1 = writes;
  stop = true;
  await writer;
  latencies.sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      kind,
      subscribers: conns.length,
      writes_per_s: +((w1 - w0) / elapsed).toFixed(1),
      deliveries_per_s: Math.round(delivered / elapsed),
      expected_per_s: Math.round(((w1 - w0) / elapsed) * conns.length),
      p50_ms: +percentile(latencies, 50).toFixed(1),
      p99_ms: +percentile(latencies, 99).toFixed(1),
    }),
  );
  process.exit(0);
}
