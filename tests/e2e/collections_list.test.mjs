// GET /api/collections: PocketBase's page, perPage, skipTotal, sort and filter over the allow-list
// id, created, updated, name, system, type.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import PocketBase from 'pocketbase';
import { runStrata, startServer } from './helpers.mjs';

const EMAIL = 'admin@example.com';
const PASSWORD = 'correct-horse-9';

// Created in this order; the catalog keeps it.
const CREATED = [
  { name: 'e2e_posts', type: 'base' },
  { name: 'e2e_members', type: 'auth' },
  { name: 'e2e_comments', type: 'base' },
  { name: 'e2e_authors', type: 'auth' },
  { name: 'e2e_tags', type: 'base' },
];
const NAMES = CREATED.map((c) => c.name);

describe('collections list', () => {
  let server;
  let pb;

  // The raw list response for `query` (a URLSearchParams init), with the superuser's token.
  async function list(query = {}) {
    const res = await fetch(`${server.url}/api/collections?${new URLSearchParams(query)}`, {
      headers: { Authorization: pb.authStore.token },
    });
    return { status: res.status, body: await res.json() };
  }

  before(async () => {
    server = await startServer();
    const r = await runStrata(['superuser', 'upsert', EMAIL, PASSWORD, '--dir', server.dir]);
    assert.equal(r.code, 0, r.stderr);
    pb = new PocketBase(server.url);
    await pb.collection('_superusers').authWithPassword(EMAIL, PASSWORD);
    for (const c of CREATED) {
      await pb.collections.create({ ...c, fields: [{ name: 'title', type: 'text' }] });
    }
  });
  after(async () => {
    await server?.stop();
  });

  test('without sort the catalog order is kept', async () => {
    const { status, body } = await list({ filter: 'name ~ "e2e_"' });
    assert.equal(status, 200);
    assert.deepEqual(
      body.items.map((c) => c.name),
      NAMES,
    );
    assert.equal(body.page, 1);
    assert.equal(body.perPage, 30);
    assert.equal(body.totalItems, NAMES.length);
    assert.equal(body.totalPages, 1);
  });

  test('filter by type, name, system and id through the SDK', async () => {
    const auth = await pb.collections.getFullList({ filter: 'type = "auth"' });
    assert.ok(auth.length >= 3);
    assert.ok(auth.every((c) => c.type === 'auth'));
    assert.ok(auth.some((c) => c.name === '_superusers'));
    assert.ok(auth.some((c) => c.name === 'e2e_members'));

    const system = await pb.collections.getFullList({ filter: 'system = true' });
    assert.ok(system.length >= 1);
    assert.ok(system.every((c) => c.system === true));
    assert.ok(system.some((c) => c.name === '_superusers'));
    const notSystem = await pb.collections.getFullList({ filter: 'system = false && name ~ "e2e_"' });
    assert.equal(notSystem.length, NAMES.length);

    const one = await pb.collections.getFirstListItem(pb.filter('name = {:name}', { name: 'e2e_tags' }));
    assert.equal(one.name, 'e2e_tags');
    const byId = await pb.collections.getFullList({ filter: pb.filter('id = {:id}', { id: one.id }) });
    assert.deepEqual(
      byId.map((c) => c.name),
      ['e2e_tags'],
    );

    const some = await pb.collections.getFullList({
      filter: '(name = "e2e_posts" || name = "e2e_authors") && created != "" && updated <= @now',
    });
    assert.deepEqual(some.map((c) => c.name).sort(), ['e2e_authors', 'e2e_posts']);

    const none = await pb.collections.getList(1, 10, { filter: 'name = "missing"' });
    assert.equal(none.totalItems, 0);
    assert.equal(none.totalPages, 0);
    assert.deepEqual(none.items, []);
  });

  test('sort: ASC, "+" ASC, "-" DESC, several terms and @random', async () => {
    const filter = 'name ~ "e2e_"';
    let r = await list({ filter, sort: 'name' });
    assert.deepEqual(
      r.body.items.map((c) => c.name),
      [...NAMES].sort(),
    );
    r = await list({ filter, sort: '+name' });
    assert.deepEqual(
      r.body.items.map((c) => c.name),
      [...NAMES].sort(),
    );
    r = await list({ filter, sort: '-name' });
    assert.deepEqual(
      r.body.items.map((c) => c.name),
      [...NAMES].sort().reverse(),
    );
    r = await list({ filter, sort: 'type, -name' });
    assert.deepEqual(
      r.body.items.map((c) => c.name),
      // auth before base, then names descending
      ['e2e_members', 'e2e_authors', 'e2e_tags', 'e2e_posts', 'e2e_comments'],
    );
    r = await list({ filter, sort: '-system,-created,id' });
    assert.equal(r.status, 200);
    assert.equal(r.body.items.length, NAMES.length);

    r = await list({ filter, sort: '@random' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.items.map((c) => c.name).sort(), [...NAMES].sort());

    const sdk = await pb.collections.getFullList({ sort: '-name' });
    const names = sdk.map((c) => c.name);
    assert.deepEqual(names, [...names].sort().reverse());
  });

  test('page, perPage and skipTotal', async () => {
    const filter = 'name ~ "e2e_"';
    let r = await list({ filter, sort: 'name', page: 2, perPage: 2 });
    assert.equal(r.status, 200);
    assert.equal(r.body.page, 2);
    assert.equal(r.body.perPage, 2);
    assert.equal(r.body.totalItems, 5);
    assert.equal(r.body.totalPages, 3);
    assert.deepEqual(
      r.body.items.map((c) => c.name),
      [...NAMES].sort().slice(2, 4),
    );

    r = await list({ filter, sort: 'name', page: 3, perPage: 2, skipTotal: 1 });
    assert.equal(r.body.totalItems, -1);
    assert.equal(r.body.totalPages, -1);
    assert.deepEqual(
      r.body.items.map((c) => c.name),
      [...NAMES].sort().slice(4),
    );

    r = await list({ filter, page: 4, perPage: 2 });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.items, []);
    r = await list({ filter, page: '9223372036854775807', perPage: 1000 });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.items, []);

    r = await list({ filter, perPage: 0, page: 0 });
    assert.equal(r.body.page, 1);
    assert.equal(r.body.perPage, 30);
    r = await list({ filter, perPage: -5 });
    assert.equal(r.body.perPage, 30);
    r = await list({ filter, perPage: 5000 });
    assert.equal(r.body.perPage, 1000);
    r = await list({ filter, skipTotal: 'false' });
    assert.equal(r.body.totalItems, 5);

    const sdk = await pb.collections.getList(1, 2, { filter, sort: '-name' });
    assert.equal(sdk.totalItems, 5);
    assert.deepEqual(
      sdk.items.map((c) => c.name),
      [...NAMES].sort().reverse().slice(0, 2),
    );
  });

  test('unknown fields and malformed filters → 400 in PocketBase shape', async () => {
    for (const query of [
      { filter: 'listRule = ""' },
      { filter: 'name:lower = "x"' },
      { filter: '@request.auth.id != ""' },
      { filter: 'fields.name = "title"' },
      { filter: 'name = "x" &&' },
      { filter: 'name =' },
      { filter: '(name = "x"' },
      // An unknown field fails even where no collection would be compared.
      { filter: 'name = "missing" && nope = 1' },
      { sort: 'listRule' },
      { sort: 'name,-nope' },
      { sort: '-' },
      { sort: '@rowid' },
      { page: 'x' },
      { perPage: '1.5' },
      { skipTotal: 'maybe' },
    ]) {
      const { status, body } = await list(query);
      assert.equal(status, 400, JSON.stringify(query));
      assert.equal(body.status, 400);
      assert.equal(typeof body.message, 'string');
      assert.ok(body.message.length > 0);
      assert.equal(typeof body.data, 'object');
    }
    const { body } = await list({ filter: 'nope = 1' });
    assert.match(body.message, /nope/);

    await assert.rejects(pb.collections.getList(1, 10, { filter: 'bogus = 1' }), (e) => {
      assert.equal(e.status, 400);
      return true;
    });
  });

  test('guests and non-superusers are still refused', async () => {
    const res = await fetch(`${server.url}/api/collections?filter=${encodeURIComponent('name ~ "e2e_"')}`);
    assert.equal(res.status, 401);
  });
});
