// Password logins are limited per identity and address: 429 with Retry-After, before any password
// is checked.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import PocketBase from 'pocketbase';
import { runStrata, startServer } from './helpers.mjs';

describe('login attempt limits', () => {
  let server;
  let admin;
  before(async () => {
    server = await startServer();
    const r = await runStrata(['superuser', 'upsert', 'root@example.com', 'root-password-1', '--dir', server.dir]);
    assert.equal(r.code, 0, r.stderr);
    admin = new PocketBase(server.url);
    await admin.collection('_superusers').authWithPassword('root@example.com', 'root-password-1');
    await admin.collections.create({ name: 'users', type: 'auth', createRule: '', fields: [] });
    for (const email of ['ann@example.com', 'bob@example.com']) {
      await admin.collection('users').create({ email, password: 'right-password', passwordConfirm: 'right-password' });
    }
  });
  after(async () => {
    await server?.stop();
  });

  test('the sixth attempt in a minute is refused, even with the right password', async () => {
    const pb = new PocketBase(server.url);
    for (let i = 0; i < 5; i++) {
      const err = await pb.collection('users').authWithPassword('ann@example.com', `wrong-${i}`).catch((e) => e);
      assert.equal(err.status, 400, `attempt ${i + 1}`);
    }
    const res = await fetch(`${server.url}/api/collections/users/auth-with-password`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ identity: 'ANN@example.com', password: 'right-password' }),
    });
    assert.equal(res.status, 429);
    assert.deepEqual(await res.json(), { data: {}, message: 'Too Many Requests.', status: 429 });
    const retry = Number(res.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 12, `Retry-After ${retry}`);
    assert.equal(res.headers.get('ratelimit-limit'), '5');
    assert.equal(res.headers.get('ratelimit-remaining'), '0');
    // Another identity from the same address is not affected.
    const bob = await pb.collection('users').authWithPassword('bob@example.com', 'right-password');
    assert.ok(bob.token);
  });
});

describe('login limits behind a reverse proxy', () => {
  let server;
  before(async () => {
    server = await startServer(['--client-ip-header', 'X-Forwarded-For']);
    const r = await runStrata(['superuser', 'upsert', 'root@example.com', 'root-password-1', '--dir', server.dir]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await server?.stop();
  });

  test('clients are told apart by the address the proxy adds last', async () => {
    const attempt = (forwardedFor) =>
      fetch(`${server.url}/api/collections/_superusers/auth-with-password`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
        body: JSON.stringify({ identity: 'root@example.com', password: 'wrong-password' }),
      }).then((r) => r.status);
    // The first entry is whatever the client claims; the last is the proxy's.
    for (let i = 0; i < 5; i++) assert.equal(await attempt(`10.0.0.${i}, 203.0.113.7`), 400);
    assert.equal(await attempt('10.0.0.9, 203.0.113.7'), 429);
    assert.equal(await attempt('203.0.113.8'), 400);
  });
});
