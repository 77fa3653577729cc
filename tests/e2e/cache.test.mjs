// Kept answers of record lists and views: entity tags and 304, invalidation by writes (also to
// expanded collections and to rules), isolation between requesters, Cache-Control for public lists.
import assert from 'node:assert/strict';
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import PocketBase from 'pocketbase';
import { startWithAdmin } from './helpers.mjs';

describe('response cache and conditional requests', () => {
  let server;
  let admin;
  let users;
  before(async () => {
    ({ server, admin, users } = await startWithAdmin({
      users: ['ann', 'bob'],
      usersCollection: { listRule: '', viewRule: '', fields: [{ name: 'name', type: 'text' }] },
    }));
    await admin.collections.create({
      name: 'counters',
      listRule: '',
      viewRule: '',
      createRule: '',
      updateRule: '',
      fields: [
        { name: 'n', type: 'number' },
        { name: 'owner', type: 'relation', collectionId: (await admin.collections.getOne('users')).id, maxSelect: 1 },
      ],
    });
  });
  after(async () => {
    await server?.stop();
  });

  const get = (path, headers = {}) => fetch(`${server.url}${path}`, { headers });

  test('every JSON read has a strong ETag; If-None-Match gives 304 until the data changes', async () => {
    const rec = await admin.collection('counters').create({ n: 1 });
    const path = `/api/collections/counters/records/${rec.id}`;
    const first = await get(path);
    const etag = first.headers.get('etag');
    assert.match(etag, /^"[0-9a-f]{32}"$/);
    assert.equal((await get(path)).headers.get('etag'), etag);
    const again = await get(path, { 'If-None-Match': etag });
    assert.equal(again.status, 304);
    assert.equal(await again.text(), '');
    await admin.collection('counters').update(rec.id, { n: 2 });
    const changed = await get(path, { 'If-None-Match': etag });
    assert.equal(changed.status, 200);
    assert.equal((await changed.json()).n, 2);
    assert.notEqual(changed.headers.get('etag'), etag);
    // Lists too, and the same answer has the same tag on every request.
    const list = await get('/api/collections/counters/records?perPage=5');
    const listTag = list.headers.get('etag');
    assert.equal((await get('/api/collections/counters/records?perPage=5', { 'If-None-Match': listTag })).status, 304);
    // The cache reports itself in the metrics.
    const metrics = await get('/metrics').then((r) => r.text());
    const value = (name) => Number(metrics.match(new RegExp(`^${name} (\\S+)$`, 'm'))?.[1]);
    assert.ok(value('strata_response_cache_hits') >= 2, metrics);
    assert.ok(value('strata_response_cache_entries') >= 1);
    assert.ok(value('strata_response_cache_bytes') > 0);
  });

  test('gzip: a kept answer is compressed once, with its own tag', async () => {
    for (let i = 0; i < 30; i++) await admin.collection('counters').create({ n: 1000 + i });
    const path = '/api/collections/counters/records?perPage=30&sort=n';
    const raw = (headers) =>
      new Promise((resolve, reject) => {
        http
          .get(`${server.url}${path}`, { headers }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
          })
          .on('error', reject);
      });
    const plain = await raw({});
    const gz1 = await raw({ 'accept-encoding': 'gzip' });
    const gz2 = await raw({ 'accept-encoding': 'gzip, deflate, br' });
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(gz1.headers['content-encoding'], 'gzip');
    assert.match(gz1.headers.vary, /Accept-Encoding/);
    assert.deepEqual(gunzipSync(gz1.body), plain.body);
    assert.deepEqual(gz2.body, gz1.body);
    assert.notEqual(gz1.headers.etag, plain.headers.etag);
    assert.equal(gz1.headers.etag, gz2.headers.etag);
    const again = await raw({ 'accept-encoding': 'gzip', 'if-none-match': gz1.headers.etag });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
  });

  test('a read that starts after a write was answered never sees older data', async () => {
    const rec = await admin.collection('counters').create({ n: 0 });
    const view = `/api/collections/counters/records/${rec.id}`;
    const list = `/api/collections/counters/records?filter=${encodeURIComponent(`id = "${rec.id}"`)}`;
    let acknowledged = 0;
    let stop = false;
    let stale = 0;
    let reads = 0;
    // Readers keep the answers warm in the cache while the writer moves the counter on.
    const reader = async () => {
      while (!stop) {
        const floor = acknowledged;
        const [v, l] = await Promise.all([get(view).then((r) => r.json()), get(list).then((r) => r.json())]);
        reads++;
        if (v.n < floor || l.items[0].n < floor) stale++;
      }
    };
    const readers = Array.from({ length: 6 }, reader);
    for (let i = 1; i <= 150; i++) {
      await admin.collection('counters').update(rec.id, { n: i });
      acknowledged = i;
      const v = await get(view).then((r) => r.json());
      assert.equal(v.n, i);
    }
    stop = true;
    await Promise.all(readers);
    assert.equal(stale, 0);
    assert.ok(reads > 50, `${reads} reads`);
  });

  test('totalItems stays exact through creates, updates and deletes', async () => {
    await admin.collections.create({
      name: 'tasks',
      listRule: '',
      createRule: '',
      updateRule: '',
      deleteRule: '',
      fields: [{ name: 'status', type: 'select', values: ['open', 'done'], maxSelect: 1 }],
    });
    const guest = new PocketBase(server.url);
    const open = new Set();
    const all = [];
    const total = async () =>
      (await guest.collection('tasks').getList(1, 5, { filter: "status = 'open'" })).totalItems;
    assert.equal(await total(), 0);
    let seed = 11;
    const rand = (n) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let i = 0; i < 120; i++) {
      const op = all.length < 5 ? 0 : rand(3);
      if (op === 0) {
        const status = rand(2) ? 'open' : 'done';
        const rec = await guest.collection('tasks').create({ status });
        all.push(rec.id);
        if (status === 'open') open.add(rec.id);
      } else if (op === 1) {
        const id = all[rand(all.length)];
        const status = rand(2) ? 'open' : 'done';
        await guest.collection('tasks').update(id, { status });
        if (status === 'open') open.add(id);
        else open.delete(id);
      } else {
        const id = all.splice(rand(all.length), 1)[0];
        await guest.collection('tasks').delete(id);
        open.delete(id);
      }
      assert.equal(await total(), open.size, `after step ${i}`);
    }
  });

  test('answers with expand follow writes to the expanded collection', async () => {
    const rec = await admin.collection('counters').create({ n: 7, owner: users.ann.authStore.record.id });
    const path = `/api/collections/counters/records/${rec.id}?expand=owner`;
    assert.equal((await get(path).then((r) => r.json())).expand.owner.name, 'ann');
    assert.equal((await get(path).then((r) => r.json())).expand.owner.name, 'ann');
    await admin.collection('users').update(users.ann.authStore.record.id, { name: 'ann v2' });
    assert.equal((await get(path).then((r) => r.json())).expand.owner.name, 'ann v2');
    await admin.collection('users').update(users.ann.authStore.record.id, { name: 'ann' });
  });

  test('two requesters whose rules differ never share an answer', async () => {
    await admin.collections.create({
      name: 'diaries',
      listRule: 'owner = @request.auth.id',
      viewRule: 'owner = @request.auth.id',
      createRule: '@request.auth.id != ""',
      fields: [
        { name: 'text', type: 'text' },
        { name: 'owner', type: 'relation', collectionId: (await admin.collections.getOne('users')).id, maxSelect: 1 },
      ],
    });
    const mine = {};
    for (const name of ['ann', 'bob']) {
      mine[name] = await users[name]
        .collection('diaries')
        .create({ text: `${name}'s secret`, owner: users[name].authStore.record.id });
    }
    const url = '/api/collections/diaries/records?sort=text';
    for (let round = 0; round < 3; round++) {
      for (const name of ['ann', 'bob']) {
        const body = await get(url, { Authorization: users[name].authStore.token }).then((r) => r.json());
        assert.deepEqual(
          body.items.map((r) => r.text),
          [`${name}'s secret`],
          `${name}, round ${round}`,
        );
      }
      assert.equal((await get(url).then((r) => r.json())).items.length, 0);
      assert.equal((await get(url, { Authorization: admin.authStore.token }).then((r) => r.json())).items.length, 2);
      // The same view URL: the owner sees it, the other gets 404.
      const view = `/api/collections/diaries/records/${mine.ann.id}`;
      assert.equal((await get(view, { Authorization: users.ann.authStore.token })).status, 200);
      assert.equal((await get(view, { Authorization: users.bob.authStore.token })).status, 404);
    }
    // Email visibility differs per requester on an auth collection.
    const annPath = `/api/collections/users/records/${users.ann.authStore.record.id}`;
    for (let round = 0; round < 2; round++) {
      const own = await get(annPath, { Authorization: users.ann.authStore.token }).then((r) => r.json());
      assert.equal(own.email, 'ann@example.com');
      const other = await get(annPath, { Authorization: users.bob.authStore.token }).then((r) => r.json());
      assert.equal(other.email, undefined);
    }
  });

  test('a rule change takes effect at once', async () => {
    const path = '/api/collections/counters/records?perPage=1';
    assert.equal((await get(path)).status, 200);
    assert.equal((await get(path)).status, 200);
    await admin.collections.update('counters', { listRule: null });
    assert.equal((await get(path)).status, 403);
    await admin.collections.update('counters', { listRule: 'n > 1000000' });
    assert.equal((await get(path).then((r) => r.json())).items.length, 0);
    await admin.collections.update('counters', { listRule: '' });
    assert.equal((await get(path).then((r) => r.json())).items.length, 1);
  });

  test('view collections: answers and totals follow their tables, and redefining or deleting them works', async () => {
    await admin.collections.create({
      name: 'big_counters',
      type: 'view',
      listRule: '',
      viewQuery: 'SELECT id, n FROM counters WHERE n >= 1000',
    });
    const path = '/api/collections/big_counters/records?perPage=1';
    const before = (await get(path).then((r) => r.json())).totalItems;
    await admin.collection('counters').create({ n: 5000 });
    assert.equal((await get(path).then((r) => r.json())).totalItems, before + 1);
    await admin.collections.update('big_counters', { viewQuery: 'SELECT id, n FROM counters WHERE n >= 5000' });
    assert.equal((await get(path).then((r) => r.json())).totalItems, 1);
    await admin.collections.delete('big_counters');
    assert.equal((await get(path)).status, 404);
    await admin.collections.create({ name: 'big_counters', type: 'view', listRule: '', viewQuery: 'SELECT id FROM counters' });
    assert.equal((await get(path)).status, 200);
  });

  test('cacheMaxAge: public lists tell shared caches how long to keep them', async () => {
    await admin.collections.create({
      name: 'offers',
      listRule: '',
      viewRule: '',
      cacheMaxAge: 60,
      fields: [{ name: 'title', type: 'text' }],
    });
    const saved = await admin.collections.getOne('offers');
    assert.equal(saved.cacheMaxAge, 60);
    const rec = await admin.collection('offers').create({ title: 'soup' });
    for (const path of ['/api/collections/offers/records', `/api/collections/offers/records/${rec.id}`]) {
      assert.equal((await get(path)).headers.get('cache-control'), 'public, max-age=60');
      // Not for requests with a token, and not when the rule is not open to everyone.
      assert.equal((await get(path, { Authorization: users.ann.authStore.token })).headers.get('cache-control'), null);
    }
    assert.equal((await get('/api/collections/counters/records')).headers.get('cache-control'), null);
    const publicList = await get('/api/collections/offers/records');
    assert.match(publicList.headers.get('vary'), /Authorization/);
    // Expanded answers depend on other collections' rules: never public.
    assert.equal((await get('/api/collections/offers/records?expand=x')).headers.get('cache-control'), null);
    await admin.collections.update('offers', { listRule: '@request.auth.id != ""' });
    assert.equal((await get('/api/collections/offers/records')).headers.get('cache-control'), null);
    const bad = await admin.collections.update('offers', { cacheMaxAge: -1 }).catch((e) => e);
    assert.equal(bad.status, 400);
    assert.equal(bad.response.data.cacheMaxAge.code, 'validation_invalid_value');
  });
});

describe('shared caching without the response cache', () => {
  let server;
  let admin;
  before(async () => {
    ({ server, admin } = await startWithAdmin({ args: ['--cache-size', '0'] }));
  });
  after(async () => {
    await server?.stop();
  });

  test('cacheMaxAge does not need the in-process cache', async () => {
    await admin.collections.create({ name: 'offers', listRule: '', viewRule: '', cacheMaxAge: 30, fields: [] });
    const rec = await admin.collection('offers').create({});
    for (const path of ['/api/collections/offers/records', `/api/collections/offers/records/${rec.id}`]) {
      const res = await fetch(`${server.url}${path}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('cache-control'), 'public, max-age=30');
      assert.match(res.headers.get('etag'), /^"[0-9a-f]{32}"$/);
    }
    assert.equal((await fetch(`${server.url}/api/collections/offers/records?sort=@random`)).headers.get('cache-control'), null);
  });
});
