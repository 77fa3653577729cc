// The WebSocket protocol at /api/ws (docs/realtime.md) with the `ws` client: auth by token,
// record topics with the same payloads as the event stream, rooms with presence and relayed
// messages, pings, and bad frames closed with a reason.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { sleep, startWithAdmin } from './helpers.mjs';

// A connection that keeps every message it receives; `next(pred)` waits for one.
class Conn {
  constructor(url) {
    this.ws = new WebSocket(url);
    this.messages = [];
    // Messages that waited together arrive as one JSON array.
    this.ws.on('message', (data) => this.messages.push(...[JSON.parse(data.toString())].flat()));
    this.closed = new Promise((resolve) => this.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }
  async open() {
    // It may have opened already, while another connection was awaited.
    if (this.ws.readyState !== WebSocket.OPEN) {
      await new Promise((resolve, reject) => {
        this.ws.once('open', resolve);
        this.ws.once('error', reject);
      });
    }
    return this.next((m) => m.type === 'connected');
  }
  send(o) {
    this.ws.send(typeof o === 'string' ? o : JSON.stringify(o));
  }
  async next(pred = () => true, ms = 3000) {
    const until = Date.now() + ms;
    for (;;) {
      const i = this.messages.findIndex(pred);
      if (i >= 0) return this.messages.splice(i, 1)[0];
      if (Date.now() > until) assert.fail(`no matching message; have ${JSON.stringify(this.messages)}`);
      await sleep(5);
    }
  }
  async none(pred = () => true, ms = 300) {
    await sleep(ms);
    assert.equal(this.messages.filter(pred).length, 0, JSON.stringify(this.messages));
  }
  close() {
    this.ws.close();
  }
}

describe('realtime (WebSocket)', () => {
  let server;
  let admin;
  let users;
  let wsUrl;
  before(async () => {
    ({ server, admin, users } = await startWithAdmin({ users: ['ann', 'bob', 'cat'], usersCollection: { viewRule: '' } }));
    wsUrl = `ws://127.0.0.1:${server.port}/api/ws`;
    await admin.collections.create({
      name: 'cards',
      listRule: 'owner = @request.auth.id',
      viewRule: 'owner = @request.auth.id',
      createRule: '@request.auth.id != ""',
      updateRule: 'owner = @request.auth.id',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'owner', type: 'relation', collectionId: (await admin.collections.getOne('users')).id, maxSelect: 1 },
      ],
    });
  });
  after(async () => {
    await server?.stop();
  });

  const login = async (conn, pb) => {
    conn.send({ type: 'auth', token: pb.authStore.token, id: 1 });
    return conn.next((m) => m.type === 'authorized' || m.type === 'error');
  };

  test('auth, subscribe and record events with the event stream payloads; unsubscribe', async () => {
    const c = new Conn(wsUrl);
    const hello = await c.open();
    assert.match(hello.clientId, /^[a-z0-9]{40}$/);
    const authed = await login(c, users.ann);
    assert.equal(authed.type, 'authorized');
    assert.equal(authed.record.id, users.ann.authStore.record.id);
    assert.equal(authed.id, 1);
    c.send({ type: 'subscribe', topics: ['cards/*'], id: 'a' });
    assert.deepEqual(await c.next((m) => m.type === 'subscribed'), { type: 'subscribed', topics: ['cards/*'], id: 'a' });

    const mine = await users.ann.collection('cards').create({ title: 'mine', owner: users.ann.authStore.record.id });
    await users.bob.collection('cards').create({ title: 'bobs', owner: users.bob.authStore.record.id });
    const e = await c.next((m) => m.type === 'event');
    assert.equal(e.topic, 'cards/*');
    assert.equal(e.data.action, 'create');
    assert.equal(e.data.record.id, mine.id);
    assert.equal(e.data.record.collectionName, 'cards');
    await c.none((m) => m.type === 'event'); // bob's card is hidden by the rule

    c.send({ type: 'unsubscribe' });
    assert.deepEqual((await c.next((m) => m.type === 'unsubscribed')).topics, ['cards/*']);
    await users.ann.collection('cards').update(mine.id, { title: 'again' });
    await c.none((m) => m.type === 'event');

    c.send({ type: 'auth', token: users.bob.authStore.token });
    assert.equal((await c.next((m) => m.type === 'error')).message, 'The connection is already authorized as another record.');
    c.send({ type: 'auth', token: 'not-a-token' });
    assert.equal((await c.next((m) => m.type === 'error')).message, 'The token is invalid or expired.');
    c.close();
  });

  test('rooms: presence, relayed messages, and rooms named after records follow the view rule', async () => {
    const a = new Conn(wsUrl);
    const b = new Conn(wsUrl);
    const aHello = await a.open();
    const bHello = await b.open();
    a.send({ type: 'join', room: 'lobby' });
    assert.match((await a.next((m) => m.type === 'error')).message, /authorized/); // guests cannot join
    await login(a, users.ann);
    await login(b, users.bob);
    a.send({ type: 'join', room: 'lobby' });
    const aJoined = await a.next((m) => m.type === 'joined');
    assert.deepEqual(aJoined.members.map((m) => m.clientId), [aHello.clientId]);
    b.send({ type: 'join', room: 'lobby' });
    const bJoined = await b.next((m) => m.type === 'joined');
    assert.deepEqual(bJoined.members.map((m) => m.clientId).sort(), [aHello.clientId, bHello.clientId].sort());
    const presence = await a.next((m) => m.type === 'presence');
    assert.equal(presence.action, 'join');
    assert.equal(presence.member.clientId, bHello.clientId);
    assert.equal(presence.member.auth.id, users.bob.authStore.record.id);

    b.send({ type: 'send', room: 'lobby', data: { text: 'hi' } });
    const msg = await a.next((m) => m.type === 'message');
    assert.deepEqual(msg.data, { text: 'hi' });
    assert.equal(msg.from.clientId, bHello.clientId);
    await b.none((m) => m.type === 'message'); // not echoed to the sender

    b.close();
    const left = await a.next((m) => m.type === 'presence' && m.action === 'leave');
    assert.equal(left.member.clientId, bHello.clientId);

    const card = await users.bob.collection('cards').create({ title: 'b', owner: users.bob.authStore.record.id });
    a.send({ type: 'join', room: `cards/${card.id}` });
    assert.match((await a.next((m) => m.type === 'error')).message, /not allowed/);
    a.send({ type: 'send', room: `cards/${card.id}`, data: 1 });
    assert.match((await a.next((m) => m.type === 'error')).message, /Join the room/);
    a.close();
  });

  test("a record's room keeps only those its view rule still lets in", async () => {
    const a = new Conn(wsUrl);
    const b = new Conn(wsUrl);
    const bHello = await Promise.all([a.open(), b.open()]).then((h) => h[1]);
    await login(a, users.ann);
    await login(b, users.bob);
    const card = await users.ann.collection('cards').create({ title: 'a', owner: users.ann.authStore.record.id });
    const room = `cards/${card.id}`;
    // A record's room is known by its collection's name, however the collection was named.
    a.send({ type: 'join', room: `CARDS/${card.id}` });
    assert.equal((await a.next((m) => m.type === 'joined')).room, room);

    // Ann gives the card to Bob: she may no longer see it, so she leaves its room at once.
    await users.ann.collection('cards').update(card.id, { owner: users.bob.authStore.record.id });
    const evicted = await a.next((m) => m.type === 'left');
    assert.deepEqual(evicted, { type: 'left', room, reason: 'You are no longer allowed in this room.' });
    a.send({ type: 'send', room, data: 'still here?' });
    assert.match((await a.next((m) => m.type === 'error')).message, /Join the room/);
    a.send({ type: 'join', room });
    assert.match((await a.next((m) => m.type === 'error')).message, /not allowed/);

    // Bob may join now; the others in the room see him go when the card is deleted.
    b.send({ type: 'join', room });
    assert.deepEqual((await b.next((m) => m.type === 'joined')).members.map((m) => m.clientId), [bHello.clientId]);
    await admin.collection('cards').delete(card.id);
    assert.deepEqual(await b.next((m) => m.type === 'left'), { type: 'left', room, reason: 'The record was deleted.' });

    // A member whose own auth record is deleted is a guest, and rooms are for authorized connections.
    const c = new Conn(wsUrl);
    await c.open();
    await login(c, users.cat);
    c.send({ type: 'join', room: 'lobby-2' });
    await c.next((m) => m.type === 'joined');
    b.send({ type: 'join', room: 'lobby-2' });
    await b.next((m) => m.type === 'joined');
    await admin.collection('users').delete(users.cat.authStore.record.id);
    assert.deepEqual(await c.next((m) => m.type === 'left'), {
      type: 'left',
      room: 'lobby-2',
      reason: 'Rooms are for authorized connections.',
    });
    assert.equal((await b.next((m) => m.type === 'presence' && m.action === 'leave')).room, 'lobby-2');
    for (const conn of [a, b, c]) conn.close();
  });

  test('a client sending more than 100 messages a second gets errors for the rest, and they are not relayed', async () => {
    const a = new Conn(wsUrl);
    const b = new Conn(wsUrl);
    await Promise.all([a.open(), b.open()]);
    await login(a, users.ann);
    await login(b, users.bob);
    for (const c of [a, b]) {
      c.send({ type: 'join', room: 'flood' });
      await c.next((m) => m.type === 'joined');
    }
    await sleep(1100); // the joins and logins are forgotten
    for (let i = 0; i < 300; i++) a.send({ type: 'send', room: 'flood', data: i });
    const refused = await a.next((m) => m.type === 'error');
    assert.equal(refused.message, 'Too many messages: at most 100 a second.');
    await sleep(300);
    const relayed = b.messages.filter((m) => m.type === 'message').length;
    assert.ok(relayed >= 100 && relayed < 200, `${relayed} relayed`);
    assert.equal(a.messages.filter((m) => m.type === 'error').length + 1, 300 - relayed);
    // After a second, the allowance is back.
    await sleep(1000);
    a.send({ type: 'ping', id: 'p' });
    assert.deepEqual(await a.next((m) => m.type === 'pong'), { type: 'pong', id: 'p' });
    a.close();
    b.close();
  });

  test('ping gets pong; bad frames close the connection with a reason', async () => {
    const c = new Conn(wsUrl);
    await c.open();
    c.send({ type: 'ping', id: 7 });
    assert.deepEqual(await c.next((m) => m.type === 'pong'), { type: 'pong', id: 7 });
    c.send('{not json');
    assert.deepEqual(await c.closed, { code: 1007, reason: 'invalid JSON' });

    const d = new Conn(wsUrl);
    await d.open();
    d.send({ type: 'dance' });
    assert.deepEqual(await d.closed, { code: 1008, reason: 'unknown message type "dance"' });

    const e = new Conn(wsUrl);
    await e.open();
    e.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    assert.deepEqual(await e.closed, { code: 1003, reason: 'binary frames are not supported' });

    const f = new Conn(wsUrl);
    await f.open();
    f.send('x'.repeat(70 * 1024));
    assert.equal((await f.closed).code, 1009);

    const plain = await fetch(`${server.url}/api/ws`);
    assert.equal(plain.status, 400);
  });
});
