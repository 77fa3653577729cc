// Collections API and superuser auth through the pocketbase SDK, and the CLI beside a running server.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import PocketBase from 'pocketbase';
import { runStrata, sleep, startServer } from './helpers.mjs';

const EMAIL = 'admin@example.com';
const PASSWORD = 'correct-horse-9';

describe('collections and superusers', () => {
  let server;
  let pb;
  before(async () => {
    server = await startServer();
    // The CLI works on the directory of the running server.
    const r = await runStrata(['superuser', 'upsert', EMAIL, PASSWORD, '--dir', server.dir]);
    assert.equal(r.code, 0, r.stderr);
    pb = new PocketBase(server.url);
    await pb.collection('_superusers').authWithPassword(EMAIL, PASSWORD);
  });
  after(async () => {
    await server?.stop();
  });

  test('superuser login returns a token and the record without secrets', async () => {
    const client = new PocketBase(server.url);
    const auth = await client.collection('_superusers').authWithPassword(EMAIL, PASSWORD);
    assert.ok(auth.token);
    assert.equal(auth.record.email, EMAIL);
    assert.equal(auth.record.collectionName, '_superusers');
    assert.equal(auth.record.password, undefined);
    assert.equal(auth.record.tokenKey, undefined);
    assert.ok(client.authStore.isValid);
    assert.ok(client.authStore.isSuperuser);
  });

  test('the token verifies with an independent JWT library against the JWKS', async () => {
    const jwks = createRemoteJWKSet(new URL(`${server.url}/api/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(pb.authStore.token, jwks);
    assert.equal(protectedHeader.alg, 'EdDSA');
    assert.ok(protectedHeader.kid);
    assert.equal(payload.type, 'auth');
    assert.equal(payload.collectionId, 'pbc_3142635823');
    assert.ok(payload.exp > Date.now() / 1000);
  });

  test('wrong password and unknown identity fail alike', async () => {
    const client = new PocketBase(server.url);
    for (const [id, pw] of [
      [EMAIL, 'wrong-password'],
      ['nobody@example.com', PASSWORD],
    ]) {
      await assert.rejects(client.collection('_superusers').authWithPassword(id, pw), (e) => {
        assert.equal(e.status, 400);
        assert.equal(e.response.message, 'Failed to authenticate.');
        return true;
      });
    }
    await assert.rejects(client.collection('_superusers').authWithPassword('', ''), (e) => {
      assert.equal(e.status, 400);
      assert.equal(e.response.data.identity.code, 'validation_required');
      return true;
    });
  });

  test('auth-refresh renews the token', async () => {
    const refreshed = await pb.collection('_superusers').authRefresh();
    assert.ok(refreshed.token);
    assert.equal(refreshed.record.email, EMAIL);
  });

  test('collections API needs a superuser: 401 for guests, also with forged tokens', async () => {
    let res = await fetch(`${server.url}/api/collections`);
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), {
      data: {},
      message: 'The request requires valid record authorization token.',
      status: 401,
    });
    const [h, p] = pb.authStore.token.split('.');
    res = await fetch(`${server.url}/api/collections`, { headers: { Authorization: `${h}.${p}.` } });
    assert.equal(res.status, 401);
    // With or without "Bearer ".
    res = await fetch(`${server.url}/api/collections`, { headers: { Authorization: `Bearer ${pb.authStore.token}` } });
    assert.equal(res.status, 200);
  });

  test('create, view, list, update (rename keeps data) and delete', async () => {
    const created = await pb.collections.create({
      name: 'posts',
      type: 'base',
      listRule: '',
      fields: [
        { name: 'title', type: 'text', required: true, max: 200 },
        { name: 'status', type: 'select', values: ['active', 'draft'], maxSelect: 1 },
        { name: 'likes', type: 'number' },
      ],
      indexes: ['CREATE INDEX idx_posts_status ON posts (status)'],
    });
    assert.equal(created.name, 'posts');
    assert.match(created.id, /^pbc_/);
    assert.deepEqual(
      created.fields.map((f) => f.name),
      ['id', 'title', 'status', 'likes'],
    );
    const viewed = await pb.collections.getOne('posts');
    assert.equal(viewed.id, created.id);
    const all = await pb.collections.getFullList();
    assert.ok(all.some((c) => c.name === 'posts'));
    assert.ok(all.some((c) => c.name === '_superusers'));
    const page = await pb.collections.getList(1, 1);
    assert.equal(page.perPage, 1);
    assert.equal(page.items.length, 1);
    assert.equal(page.totalItems, all.length);

    const updated = await pb.collections.update(created.id, {
      name: 'articles',
      fields: created.fields.map((f) => (f.name === 'title' ? { ...f, name: 'headline' } : f)),
    });
    assert.equal(updated.name, 'articles');
    assert.ok(updated.fields.some((f) => f.name === 'headline'));
    assert.ok(updated.indexes[0].includes('`articles`'));

    assert.equal(await pb.collections.delete('articles'), true);
    await assert.rejects(pb.collections.getOne('articles'), (e) => e.status === 404);
  });

  test('invalid definitions → 400 with PocketBase error codes', async () => {
    await assert.rejects(pb.collections.create({ name: 'bad name', fields: [{ name: 'x', type: 'text', min: 5, max: 1 }] }), (e) => {
      assert.equal(e.status, 400);
      assert.equal(e.response.message, 'Failed to create collection.');
      assert.equal(e.response.data.name.code, 'validation_match_invalid');
      assert.equal(e.response.data.fields['1'].max.code, 'validation_min_greater_equal_than_required');
      return true;
    });
    await assert.rejects(pb.collections.delete('_superusers'), (e) => e.status === 400);
    await assert.rejects(pb.collections.update('nope', {}), (e) => e.status === 404);
    const res = await fetch(`${server.url}/api/collections`, {
      method: 'POST',
      headers: { Authorization: pb.authStore.token, 'Content-Type': 'application/json' },
      body: '{"name": "x",',
    });
    assert.equal(res.status, 400);
    assert.match((await res.json()).message, /line 1, column 14/);
  });

  test('import through the API, and the CLI export and import beside the running server', async () => {
    assert.equal(
      await pb.collections.import([
        { name: 'tasks', fields: [{ name: 'owner', type: 'relation', collectionId: 'pbc_users_e2e', maxSelect: 1 }] },
        { id: 'pbc_users_e2e', name: 'members', type: 'auth' },
      ]),
      true,
    );
    const exported = await runStrata(['collections', 'export', '--dir', server.dir]);
    assert.equal(exported.code, 0, exported.stderr);
    const names = JSON.parse(exported.stdout).map((c) => c.name);
    assert.deepEqual(names.sort(), ['_superusers', 'members', 'tasks']);

    const file = path.join(server.dir, 'import.json');
    writeFileSync(file, JSON.stringify([{ name: 'from_cli', fields: [{ name: 'note', type: 'text' }] }]));
    const imported = await runStrata(['collections', 'import', file, '--dir', server.dir]);
    assert.equal(imported.code, 0, imported.stderr);
    await sleep(1300); // the server re-reads the catalog within a second
    const seen = await pb.collections.getOne('from_cli');
    assert.equal(seen.name, 'from_cli');

    const bad = path.join(server.dir, 'bad.json');
    writeFileSync(bad, '[{"name": "oops" ');
    const failed = await runStrata(['collections', 'import', bad, '--dir', server.dir]);
    assert.notEqual(failed.code, 0);
    assert.match(failed.stderr, /line 1/);
  });

  test('truncate deletes every record with its cascades, for superusers only', async () => {
    const lists = await pb.collections.create({ name: 'lists', listRule: '', fields: [{ name: 'title', type: 'text' }] });
    await pb.collections.create({
      name: 'items',
      listRule: '',
      fields: [{ name: 'list', type: 'relation', collectionId: lists.id, maxSelect: 1, cascadeDelete: true }],
    });
    await pb.collections.create({ name: 'list_titles', type: 'view', listRule: '', viewQuery: 'SELECT id, title FROM lists' });
    for (let i = 0; i < 25; i++) {
      const list = await pb.collection('lists').create({ title: `list ${i}` });
      await pb.collection('items').create({ list: list.id });
    }
    const guest = new PocketBase(server.url);
    await assert.rejects(guest.collections.truncate('lists'), (e) => e.status === 401);
    await assert.rejects(pb.collections.truncate('list_titles'), (e) => e.status === 400);
    await assert.rejects(pb.collections.truncate('nosuch'), (e) => e.status === 404);
    assert.equal(await pb.collections.truncate('lists'), true);
    assert.equal((await pb.collection('lists').getList(1, 1)).totalItems, 0);
    assert.equal((await pb.collection('items').getList(1, 1)).totalItems, 0);
    assert.equal((await pb.collections.getOne('lists')).name, 'lists'); // the collection stays
  });

  test('changing the password (new tokenKey) invalidates earlier tokens', async () => {
    const client = new PocketBase(server.url);
    await client.collection('_superusers').authWithPassword(EMAIL, PASSWORD);
    const old = client.authStore.token;
    const r = await runStrata(['superuser', 'upsert', EMAIL, 'another-pass-42', '--dir', server.dir]);
    assert.equal(r.code, 0, r.stderr);
    const res = await fetch(`${server.url}/api/collections`, { headers: { Authorization: old } });
    assert.equal(res.status, 401);
    await client.collection('_superusers').authWithPassword(EMAIL, 'another-pass-42');
    assert.ok(client.authStore.isValid);
  });
});
