// Realtime under load: a thousand simultaneous connections all receive an event, and a client
// that stops reading is disconnected (WebSocket close 1013, or the end of its event stream) while
// the others receive every event.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { sleep, startWithAdmin } from './helpers.mjs';

// A WebSocket client of `server` subscribed to `topic`: it counts its events (`events`), and
// `closed` gives the close frame's code and reason.
const subscribedSocket = (server, topic = 'notes/*') =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api/ws`);
    ws.events = 0;
    ws.closed = new Promise((done) => ws.on('close', (code, reason) => done({ code, reason: reason.toString() })));
    ws.on('message', (data) => {
      for (const m of [JSON.parse(data.toString())].flat()) {
        if (m.type === 'connected') ws.send(JSON.stringify({ type: 'subscribe', topics: [topic] }));
        if (m.type === 'subscribed') resolve(ws);
        if (m.type === 'event') ws.events++;
      }
    });
    ws.on('error', reject);
  });

const until = async (cond, what, ms = 15000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
};

// An event stream read by hand: PB_CONNECT's client id, then events counted by name.
function openStream(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${url}/api/realtime`, (res) => {
      const stream = { res, clientId: null, events: 0, ended: false, buffer: '' };
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        stream.buffer += chunk;
        let i;
        while ((i = stream.buffer.indexOf('\n\n')) >= 0) {
          const frame = stream.buffer.slice(0, i);
          stream.buffer = stream.buffer.slice(i + 2);
          if (frame.includes('event:PB_CONNECT')) {
            stream.clientId = JSON.parse(frame.split('data:')[1]).clientId;
            resolve(stream);
          } else if (frame.includes('event:')) {
            stream.events++;
          }
        }
      });
      res.on('end', () => (stream.ended = true));
      res.on('error', () => (stream.ended = true));
    });
    req.on('error', reject);
  });
}

describe('realtime under load', () => {
  let server;
  let admin;
  before(async () => {
    ({ server, admin } = await startWithAdmin({ args: ['--realtime-queue', '64'] }));
    await admin.collections.create({
      name: 'notes',
      listRule: '',
      viewRule: '',
      createRule: '',
      fields: [{ name: 'body', type: 'editor' }],
    });
  });
  after(async () => {
    await server?.stop();
  });

  const subscribe = (url, clientId) =>
    fetch(`${url}/api/realtime`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ clientId, subscriptions: ['notes/*'] }),
    });

  test('1,000 simultaneous connections (800 WebSocket, 200 event streams) each receive the event', async () => {
    const sockets = [];
    let received = 0;
    for (let i = 0; i < 800; i++) {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api/ws`);
      ws.on('message', (data) => {
        for (const m of [JSON.parse(data.toString())].flat()) {
          if (m.type === 'connected') ws.send(JSON.stringify({ type: 'subscribe', topics: ['notes/*'] }));
          if (m.type === 'subscribed') ws.subscribed = true;
          if (m.type === 'event') received++;
        }
      });
      sockets.push(ws);
    }
    const streams = await Promise.all(Array.from({ length: 200 }, () => openStream(server.url)));
    for (const s of streams) assert.equal((await subscribe(server.url, s.clientId)).status, 204);
    await until(() => sockets.every((ws) => ws.subscribed), 'every WebSocket to subscribe');
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^strata_realtime_clients 1000$/m);

    await fetch(`${server.url}/api/collections/notes/records`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ body: 'to everyone' }),
    });
    await until(() => received === 800 && streams.every((s) => s.events === 1), 'every connection to get the event');
    for (const ws of sockets) ws.close();
    for (const s of streams) s.res.destroy();
    await until(async () => /^strata_realtime_clients 0$/m.test(await (await fetch(`${server.url}/metrics`)).text()), 'the clients to go');
  });

  test('clients that vanish while events are written to them leave nothing behind', async () => {
    const sockets = await Promise.all(
      Array.from(
        { length: 100 },
        () =>
          new Promise((resolve, reject) => {
            const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api/ws`);
            ws.on('message', (data) => {
              const text = data.toString();
              if (text.startsWith('{"type":"connected"')) ws.send(JSON.stringify({ type: 'subscribe', topics: ['notes/*'] }));
              if (text.startsWith('{"type":"subscribed"')) resolve(ws);
            });
            ws.on('error', () => {});
            ws.on('unexpected-response', reject);
          }),
      ),
    );
    // Every connection is dropped without a close frame (reset, with unread data) in the middle
    // of a write to it: they stopped reading, and events larger than the socket buffers came.
    for (const ws of sockets) ws._socket.pause();
    for (let i = 0; i < 8; i++) {
      const r = await fetch(`${server.url}/api/collections/notes/records`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ body: 'y'.repeat(200 * 1024) }),
      });
      assert.equal(r.status, 200);
    }
    await sleep(300);
    for (const ws of sockets) ws._socket.resetAndDestroy();
    await until(async () => /^strata_realtime_clients 0$/m.test(await (await fetch(`${server.url}/metrics`)).text()), 'the clients to go', 5000);
  });

  test('a client that stops reading is disconnected; the others get every event', async () => {
    const slow = new WebSocket(`ws://127.0.0.1:${server.port}/api/ws`);
    const closed = new Promise((resolve) => slow.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    await new Promise((resolve) => slow.on('message', (data) => {
      for (const m of [JSON.parse(data.toString())].flat()) {
        if (m.type === 'connected') slow.send(JSON.stringify({ type: 'subscribe', topics: ['notes/*'] }));
        if (m.type === 'subscribed') resolve();
      }
    }));
    slow._socket.pause(); // reads nothing more: the kernel's buffers fill, then its queue

    const slowStream = await openStream(server.url);
    assert.equal((await subscribe(server.url, slowStream.clientId)).status, 204);
    slowStream.res.pause();

    const fast = new WebSocket(`ws://127.0.0.1:${server.port}/api/ws`);
    let fastEvents = 0;
    await new Promise((resolve) => fast.on('message', (data) => {
      for (const m of [JSON.parse(data.toString())].flat()) {
        if (m.type === 'connected') fast.send(JSON.stringify({ type: 'subscribe', topics: ['notes/*'] }));
        if (m.type === 'subscribed') resolve();
        if (m.type === 'event') fastEvents++;
      }
    }));

    const body = 'x'.repeat(200 * 1024);
    const writes = 150; // 30 MB each way: more than loopback buffers and a 64-message queue hold
    for (let i = 0; i < writes; i++) {
      const r = await fetch(`${server.url}/api/collections/notes/records`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ body }),
      });
      assert.equal(r.status, 200);
    }
    await until(() => fastEvents === writes, 'the reading client to get every event');
    await until(async () => /^strata_realtime_disconnected 2$/m.test(await (await fetch(`${server.url}/metrics`)).text()),
      'both slow clients to be disconnected');
    slow._socket.resume();
    const why = await closed;
    assert.equal(why.code, 1013);
    assert.match(why.reason, /^too slow/);
    slowStream.res.resume();
    await until(() => slowStream.ended, 'the slow event stream to end');
    fast.close();
  });
});

describe('realtime behind its events', () => {
  let server;
  let admin;
  before(async () => {
    // An I/O thread may hold one event waiting: a burst puts it behind at once.
    ({ server, admin } = await startWithAdmin({ args: ['--realtime-backlog', '1', '--threads', '1'] }));
    await admin.collections.create({ name: 'notes', listRule: '', viewRule: '', createRule: '', fields: [{ name: 'body', type: 'text' }] });
  });
  after(async () => {
    await server?.stop();
  });

  const subscribed = () => subscribedSocket(server);

  test('a thread too far behind disconnects its clients as too slow; new clients get events again', async () => {
    const ws = await subscribed();
    const stream = await openStream(server.url);
    const burst = async () => {
      const batch = admin.createBatch();
      for (let i = 0; i < 50; i++) batch.collection('notes').create({ body: `n${i}` });
      await batch.send();
    };
    // Events published back to back outrun the thread's fan-out (each waits for the thread).
    for (let i = 0; i < 20 && !stream.ended; i++) await burst();
    const why = await ws.closed;
    assert.equal(why.code, 1013);
    assert.equal(why.reason, 'too slow: the server fell behind');
    await until(() => stream.ended, 'the event stream to end');
    assert.match(await (await fetch(`${server.url}/metrics`)).text(), /^strata_realtime_disconnected [1-9]/m);

    const again = await subscribed();
    await admin.collection('notes').create({ body: 'after' });
    await until(() => again.events === 1, 'an event for the new client');
    again.close();
  });
});

describe('realtime behind its database reads', () => {
  let server;
  let admin;
  before(async () => {
    // One delivery may wait for the database worker: a burst of events with expand puts it behind.
    ({ server, admin } = await startWithAdmin({ args: ['--realtime-database-backlog', '1'] }));
    await admin.collections.create({ name: 'notes', listRule: '', viewRule: '', createRule: '', fields: [{ name: 'body', type: 'text' }] });
  });
  after(async () => {
    await server?.stop();
  });

  test('clients whose events wait for a worker too far behind are disconnected; the others are not', async () => {
    const open = (topic) => subscribedSocket(server, topic);
    // expand is read from the database for each event; the plain subscription is decided in memory.
    const expanded = await open('notes/*?options=' + encodeURIComponent(JSON.stringify({ query: { expand: 'nothing' } })));
    const plain = await open('notes/*');
    const batch = admin.createBatch();
    for (let i = 0; i < 20; i++) batch.collection('notes').create({ body: `n${i}` });
    await batch.send();
    const why = await expanded.closed;
    assert.equal(why.code, 1013);
    assert.equal(why.reason, 'too slow: the database fell behind');
    await until(() => plain.events === 20, 'every event for the client decided in memory');
    plain.close();
  });
});
