// Realtime over server-sent events with the pocketbase SDK's subscribe()/unsubscribe(): create,
// update and delete events, list and view rules decided per subscriber, options (fields),
// auth binding, and the raw protocol (PB_CONNECT, event names, errors).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { EventSource } from 'eventsource';
import PocketBase from 'pocketbase';
import { sleep, startWithAdmin } from './helpers.mjs';

globalThis.EventSource = EventSource;

// Collects the events of subscriptions; `next(n)` waits until n have arrived.
class Inbox {
  constructor() {
    this.items = [];
  }
  push = (e) => this.items.push(e);
  async next(n = 1, ms = 3000) {
    const until = Date.now() + ms;
    while (this.items.length < n && Date.now() < until) await sleep(10);
    assert.ok(this.items.length >= n, `expected ${n} events, got ${this.items.length}: ${JSON.stringify(this.items)}`);
    return this.items.splice(0, n);
  }
  async none(ms = 300) {
    await sleep(ms);
    assert.deepEqual(this.items, []);
  }
}

// An event stream opened by hand: the EventSource, its PB_CONNECT event and client id.
async function openStream(url) {
  const es = new EventSource(`${url}/api/realtime`);
  const connect = await new Promise((resolve, reject) => {
    es.addEventListener('PB_CONNECT', resolve);
    es.onerror = reject;
  });
  return { es, connect, clientId: JSON.parse(connect.data).clientId };
}

// POST /api/realtime: a client's subscriptions.
const postSubscriptions = (url, body, headers = {}) =>
  fetch(`${url}/api/realtime`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

describe('realtime (SSE)', () => {
  let server;
  let admin;
  let users;
  let annId;
  let bobId;
  before(async () => {
    ({ server, admin, users } = await startWithAdmin({ users: ['ann', 'bob'], usersCollection: { viewRule: '' } }));
    annId = users.ann.authStore.record.id;
    bobId = users.bob.authStore.record.id;
    await admin.collections.create({
      name: 'tasks',
      listRule: 'owner = @request.auth.id || public = true',
      viewRule: 'owner = @request.auth.id || public = true',
      createRule: '@request.auth.id != ""',
      updateRule: 'owner = @request.auth.id',
      deleteRule: 'owner = @request.auth.id',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'public', type: 'bool' },
        { name: 'secret', type: 'text', hidden: true },
        { name: 'owner', type: 'relation', collectionId: (await admin.collections.getOne('users')).id, maxSelect: 1 },
      ],
    });
  });
  after(async () => {
    for (const pb of [admin, ...Object.values(users ?? {})]) pb?.realtime.unsubscribe().catch(() => {});
    await sleep(50);
    await server?.stop();
  });

  test('create, update and delete events reach a subscriber the list rule lets see them', async () => {
    const ann = new Inbox();
    const unsubscribe = await users.ann.collection('tasks').subscribe('*', ann.push);
    const rec = await users.ann.collection('tasks').create({ title: 'write', owner: annId, secret: 's' });
    const [created] = await ann.next();
    assert.equal(created.action, 'create');
    assert.equal(created.record.id, rec.id);
    assert.equal(created.record.title, 'write');
    assert.equal(created.record.collectionName, 'tasks');
    assert.equal('secret' in created.record, false); // hidden fields stay hidden
    await users.ann.collection('tasks').update(rec.id, { title: 'write more' });
    const [updated] = await ann.next();
    assert.equal(updated.action, 'update');
    assert.equal(updated.record.title, 'write more');
    await users.ann.collection('tasks').delete(rec.id);
    const [deleted] = await ann.next();
    assert.equal(deleted.action, 'delete');
    assert.equal(deleted.record.id, rec.id);
    await unsubscribe();
    await users.ann.collection('tasks').create({ title: 'after', owner: annId });
    await ann.none();
  });

  test('a user never receives a record its rules hide; superusers see everything', async () => {
    const bob = new Inbox();
    const guestPb = new PocketBase(server.url);
    const guest = new Inbox();
    const root = new Inbox();
    const unsubBob = await users.bob.collection('tasks').subscribe('*', bob.push);
    const unsubGuest = await guestPb.collection('tasks').subscribe('*', guest.push);
    const unsubRoot = await admin.collection('tasks').subscribe('*', root.push);
    // (Hidden fields are set by superusers only.)
    const hidden = await admin.collection('tasks').create({ title: 'private', owner: annId, secret: 'x' });
    const shown = await users.ann.collection('tasks').create({ title: 'shared', owner: annId, public: true });
    const [b] = await bob.next();
    assert.equal(b.record.id, shown.id);
    const [g] = await guest.next();
    assert.equal(g.record.id, shown.id);
    const r = await root.next(2);
    assert.deepEqual(r.map((e) => e.record.id).sort(), [hidden.id, shown.id].sort());
    assert.equal(r.find((e) => e.record.id === hidden.id).record.secret, 'x');
    await bob.none();
    await guest.none();
    // Made private: later events of it are hidden from bob.
    await users.ann.collection('tasks').update(shown.id, { public: false });
    await bob.none();
    await unsubBob();
    await unsubGuest();
    await unsubRoot();
    guestPb.realtime.unsubscribe();
  });

  test("the filter option: only matching records are sent, read as a list's filter is", async () => {
    const matching = new Inbox();
    const byOwner = new Inbox();
    const hiddenField = new Inbox();
    const special = new Inbox();
    const root = new Inbox();
    const unsubs = [
      await users.ann.collection('tasks').subscribe('*', matching.push, { filter: 'title ~ "urgent"' }),
      // Through a relation: users' list rule is null (superusers only), so nothing matches for ann,
      await users.ann.collection('tasks').subscribe('*', byOwner.push, { filter: 'owner.email != ""' }),
      // nor through a hidden field, nor with @request / @collection, which are for superusers.
      await users.ann.collection('tasks').subscribe('*', hiddenField.push, { filter: 'secret = "s"' }),
      await users.ann.collection('tasks').subscribe('*', special.push, { filter: '@request.auth.id != ""' }),
      await admin.collection('tasks').subscribe('*', root.push, { filter: 'secret = "s" && @request.auth.id != ""' }),
    ];
    await users.ann.collection('tasks').create({ title: 'not this', owner: annId });
    const hit = await users.ann.collection('tasks').create({ title: 'urgent: this', owner: annId });
    const secret = await admin.collection('tasks').create({ title: 'other', owner: annId, secret: 's' });
    const [m] = await matching.next();
    assert.equal(m.record.id, hit.id);
    const [r] = await root.next();
    assert.equal(r.record.id, secret.id);
    await users.ann.collection('tasks').delete(hit.id);
    const [d] = await matching.next();
    assert.deepEqual([d.action, d.record.id], ['delete', hit.id]);
    for (const inbox of [matching, byOwner, hiddenField, special, root]) await inbox.none(100);
    for (const unsub of unsubs) await unsub();
  });

  test('a record topic follows one record under the view rule; options shape the record', async () => {
    const rec = await users.ann.collection('tasks').create({ title: 'one', owner: annId, public: true });
    const other = await users.ann.collection('tasks').create({ title: 'two', owner: annId, public: true });
    const bob = new Inbox();
    const unsub = await users.bob.collection('tasks').subscribe(rec.id, bob.push, { fields: 'id,title' });
    await users.ann.collection('tasks').update(other.id, { title: 'two!' });
    await users.ann.collection('tasks').update(rec.id, { title: 'one!' });
    const [e] = await bob.next();
    assert.deepEqual(e.record, { id: rec.id, title: 'one!' });
    await bob.none();
    await unsub();
  });

  test('expand applies to events, as the records API shows them', async () => {
    const bob = new Inbox();
    const unsub = await users.bob.collection('tasks').subscribe('*', bob.push, { expand: 'owner' });
    const rec = await users.ann.collection('tasks').create({ title: 'with owner', owner: annId, public: true });
    const [e] = await bob.next();
    assert.equal(e.record.id, rec.id);
    assert.equal(e.record.expand.owner.id, annId);
    assert.equal(e.record.expand.owner.email, undefined); // not visible to bob
    await unsub();
  });

  test('events the database decides arrive in order, mixed with those decided in memory', async () => {
    // Relation paths in a rule, and expand, are read from the database; `public = true` and no
    // options are decided in memory. One client holds both kinds of subscription.
    await admin.collections.create({
      name: 'shared_tasks',
      listRule: 'public = true || owner.email = "ann@example.com"',
      viewRule: 'public = true || owner.email = "ann@example.com"',
      createRule: '@request.auth.id != ""',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'public', type: 'bool' },
        { name: 'owner', type: 'relation', collectionId: (await admin.collections.getOne('users')).id, maxSelect: 1 },
      ],
    });
    const bob = new Inbox();
    const plain = await users.bob.collection('tasks').subscribe('*', bob.push);
    const expanded = await users.bob.collection('shared_tasks').subscribe('*', bob.push, { expand: 'owner' });
    try {
      // One batch: its events are published back to back, alternately one only the database can
      // decide (ann's private task, with expand) and a public task decided in memory.
      const n = 30;
      const titles = [];
      const batch = users.ann.createBatch();
      for (let i = 0; i < n; i++) {
        titles.push(`t${i}`);
        if (i % 2 === 0) {
          batch.collection('shared_tasks').create({ title: `t${i}`, owner: annId, public: false });
        } else {
          batch.collection('tasks').create({ title: `t${i}`, owner: annId, public: true });
        }
      }
      await batch.send();
      const events = await bob.next(n, 10000);
      assert.deepEqual(
        events.map((e) => e.record.title),
        titles,
      );
      assert.equal(events.filter((e) => e.record.expand?.owner?.id === annId).length, n / 2);
    } finally {
      await plain();
      await expanded();
    }
  });

  test('a delete publishes the records its cascade deleted and those whose relation to it was emptied', async () => {
    const boards = await admin.collections.create({
      name: 'boards',
      listRule: '',
      viewRule: '',
      fields: [{ name: 'title', type: 'text' }],
    });
    await admin.collections.create({
      name: 'cards',
      listRule: '',
      viewRule: '',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'board', type: 'relation', collectionId: boards.id, maxSelect: 1, cascadeDelete: true },
      ],
    });
    await admin.collections.create({
      name: 'pins',
      listRule: '',
      viewRule: '',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'boards', type: 'relation', collectionId: boards.id, maxSelect: 5 },
        { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
      ],
    });
    const board = await admin.collection('boards').create({ title: 'b' });
    const other = await admin.collection('boards').create({ title: 'other' });
    const card = await admin.collection('cards').create({ title: 'c', board: board.id });
    const pin = await admin.collection('pins').create({ title: 'p', boards: [board.id, other.id] });
    const inbox = new Inbox();
    const subs = [
      await users.bob.collection('boards').subscribe('*', inbox.push),
      await users.bob.collection('cards').subscribe('*', inbox.push),
      await users.bob.collection('pins').subscribe('*', inbox.push),
    ];
    try {
      await sleep(1100); // the pin's `updated` moves to a later second
      await admin.collection('boards').delete(board.id);
      const events = await inbox.next(3);
      const of = (name) => events.find((e) => e.record.collectionName === name);
      assert.deepEqual(
        [of('cards').action, of('cards').record.id, of('cards').record.title],
        ['delete', card.id, 'c'],
      );
      assert.deepEqual([of('pins').action, of('pins').record.id, of('pins').record.boards], ['update', pin.id, [other.id]]);
      assert.ok(of('pins').record.updated > pin.updated, 'the emptied record was updated');
      assert.deepEqual([of('boards').action, of('boards').record.id], ['delete', board.id]);
      assert.equal(events.at(-1).record.collectionName, 'boards'); // the record asked for comes last
      await inbox.none();
    } finally {
      for (const unsubscribe of subs) await unsubscribe();
    }
  });

  test('updates of one record from concurrent requests arrive in commit order', async () => {
    await admin.collections.create({
      name: 'counters',
      listRule: '',
      viewRule: '',
      updateRule: '',
      fields: [{ name: 'n', type: 'number' }],
    });
    const rec = await admin.collection('counters').create({ n: 0 });
    const inbox = new Inbox();
    const unsubscribe = await users.bob.collection('counters').subscribe(rec.id, inbox.push);
    try {
      // Many increments at once, on many connections: the server's threads answer them in any
      // order, but the events must follow the order in which the store committed them.
      const n = 40;
      await Promise.all(
        Array.from({ length: n }, () =>
          fetch(`${server.url}/api/collections/counters/records/${rec.id}`, {
            method: 'PATCH',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ 'n+': 1 }),
          }).then((r) => assert.equal(r.status, 200)),
        ),
      );
      const events = await inbox.next(n, 10000);
      assert.deepEqual(
        events.map((e) => e.record.n),
        Array.from({ length: n }, (_, i) => i + 1),
      );
    } finally {
      await unsubscribe();
    }
  });

  test('a delete reaches those a rule reading other rows lets see the record, and only them', async () => {
    await admin.collections.create({
      name: 'org_tasks',
      listRule: 'owner.email = @request.auth.email',
      viewRule: 'owner.email = @request.auth.email',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'owner', type: 'relation', collectionId: (await admin.collections.getOne('users')).id, maxSelect: 1 },
      ],
    });
    const rec = await admin.collection('org_tasks').create({ title: 'gone soon', owner: annId });
    const ann = new Inbox();
    const bob = new Inbox();
    const subs = [
      await users.ann.collection('org_tasks').subscribe('*', ann.push),
      await users.ann.collection('org_tasks').subscribe(rec.id, ann.push),
      await users.bob.collection('org_tasks').subscribe('*', bob.push),
    ];
    try {
      await admin.collection('org_tasks').delete(rec.id);
      const events = await ann.next(2);
      assert.deepEqual(
        events.map((e) => [e.action, e.record.id, e.record.title]),
        [
          ['delete', rec.id, 'gone soon'],
          ['delete', rec.id, 'gone soon'],
        ],
      );
      await bob.none();
    } finally {
      for (const unsubscribe of subs) await unsubscribe();
    }
  });

  test("a client's auth follows its record: deleted, the client is a guest", async () => {
    await admin.collections.create({
      name: 'members_only',
      listRule: '@request.auth.id != ""',
      createRule: '',
      fields: [{ name: 'text', type: 'text' }],
    });
    await admin.collection('users').create({ email: 'cat@example.com', password: 'right-password', passwordConfirm: 'right-password' });
    const cat = new PocketBase(server.url);
    await cat.collection('users').authWithPassword('cat@example.com', 'right-password');
    const inbox = new Inbox();
    await cat.collection('members_only').subscribe('*', inbox.push);
    await admin.collection('members_only').create({ text: 'one' });
    assert.equal((await inbox.next())[0].record.text, 'one');
    await admin.collection('users').delete(cat.authStore.record.id);
    await sleep(100);
    await admin.collection('members_only').create({ text: 'two' });
    await inbox.none();
    cat.realtime.unsubscribe().catch(() => {});
  });

  test('the protocol: PB_CONNECT with the client id, topic-named events, errors as PocketBase', async () => {
    const { es, connect, clientId } = await openStream(server.url);
    assert.match(clientId, /^[a-z0-9]{40}$/);
    assert.equal(connect.lastEventId, clientId);

    const post = (body, headers) => postSubscriptions(server.url, body, headers);
    const topic = `tasks/*?options=${encodeURIComponent(JSON.stringify({ query: { fields: 'title' } }))}`;
    const events = [];
    es.addEventListener(topic, (e) => events.push(e));
    const ok = await post({ clientId, subscriptions: [topic] }, { Authorization: users.bob.authStore.token });
    assert.equal(ok.status, 204);
    await users.bob.collection('tasks').create({ title: 'raw', owner: bobId });
    for (let i = 0; i < 100 && events.length === 0; i++) await sleep(10);
    assert.equal(events.length, 1);
    assert.equal(events[0].lastEventId, clientId);
    assert.deepEqual(JSON.parse(events[0].data), { action: 'create', record: { title: 'raw' } });

    // Another user's token on the same client: refused.
    const other = await post({ clientId, subscriptions: [] }, { Authorization: users.ann.authStore.token });
    assert.equal(other.status, 403);
    const missing = await post({ clientId: 'nope', subscriptions: [] });
    assert.equal(missing.status, 404);
    const blank = await post({ subscriptions: [] });
    assert.equal(blank.status, 400);
    assert.equal((await blank.json()).data.clientId.code, 'validation_required');
    const tooLong = await post({ clientId, subscriptions: ['x'.repeat(2501)] });
    assert.equal(tooLong.status, 400);
    es.close();
  });

  test('HEAD /api/realtime answers with the head alone', async () => {
    const res = await fetch(`${server.url}/api/realtime`, { method: 'HEAD', signal: AbortSignal.timeout(3000) });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    assert.equal(await res.text(), '');
  });

  test('subscriptions with expand are limited per client (50) and per server (1,000), and freed with their client', async () => {
    const post = (body) => postSubscriptions(server.url, body, { Authorization: users.ann.authStore.token });
    const expanding = (i) => `tasks/*?options=${encodeURIComponent(JSON.stringify({ query: { expand: 'owner', n: i } }))}`;
    const topics = (from, n) => Array.from({ length: n }, (_, i) => expanding(from + i));
    const clients = await Promise.all(Array.from({ length: 21 }, () => openStream(server.url)));
    const tooMany = await post({ clientId: clients[0].clientId, subscriptions: topics(0, 51) });
    assert.equal(tooMany.status, 400);
    assert.equal((await tooMany.json()).data.subscriptions.code, 'validation_expand_limit');
    for (let k = 0; k < 20; k++) {
      assert.equal((await post({ clientId: clients[k].clientId, subscriptions: topics(k * 50, 50) })).status, 204);
    }
    const last = clients[20];
    const refused = await post({ clientId: last.clientId, subscriptions: [expanding(1000), 'tasks/*'] });
    assert.equal(refused.status, 400);
    assert.equal((await refused.json()).data.subscriptions.code, 'validation_expand_limit');
    // Without expand, as many as a client may have.
    assert.equal((await post({ clientId: last.clientId, subscriptions: ['tasks/*'] })).status, 204);
    // Fewer on one client make room for another's.
    assert.equal((await post({ clientId: clients[0].clientId, subscriptions: topics(0, 49) })).status, 204);
    assert.equal((await post({ clientId: last.clientId, subscriptions: [expanding(1000)] })).status, 204);
    assert.equal((await post({ clientId: last.clientId, subscriptions: [expanding(1000), expanding(1001)] })).status, 400);
    // A client that goes frees its own.
    clients[1].es.close();
    let status = 0;
    for (let i = 0; i < 100 && status !== 204; i++) {
      await sleep(20);
      status = (await post({ clientId: last.clientId, subscriptions: [expanding(1000), expanding(1001)] })).status;
    }
    assert.equal(status, 204);
    for (const c of clients) c.es.close();
  });

  test('subscription options whose fields cannot be parsed are refused', async () => {
    const { es, clientId } = await openStream(server.url);
    const topic = `tasks/*?options=${encodeURIComponent(JSON.stringify({ query: { expand: 'owner', fields: '((' } }))}`;
    const res = await postSubscriptions(server.url, { clientId, subscriptions: [topic] });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).data.subscriptions.code, 'validation_invalid_options');
    es.close();
  });
});
