// Password logins are limited per identity and address: 429 with Retry-After, before any password
// is checked.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import PocketBase from 'pocketbase';
import { runStrata, sleep, startServer } from './helpers.mjs';

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

  test('every answer to a login under the rule carries its RateLimit headers', async () => {
    const login = (password) =>
      fetch(`${server.url}/api/collections/users/auth-with-password`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ identity: 'bob@example.com', password }),
      });
    const wrong = await login('wrong');
    assert.equal(wrong.status, 400);
    assert.deepEqual(
      ['ratelimit-limit', 'ratelimit-remaining'].map((h) => wrong.headers.get(h)),
      ['5', '3'], // bob's login in the test before counted too
    );
    assert.ok(Number(wrong.headers.get('ratelimit-reset')) > 0);
    const right = await login('right-password');
    assert.equal(right.status, 200);
    assert.equal(right.headers.get('ratelimit-remaining'), '2');
  });
});

describe('login limits behind a reverse proxy', () => {
  let server;
  let admin;
  before(async () => {
    server = await startServer(['--client-ip-header', 'X-Forwarded-For']);
    const r = await runStrata(['superuser', 'upsert', 'root@example.com', 'root-password-1', '--dir', server.dir]);
    assert.equal(r.code, 0, r.stderr);
    admin = new PocketBase(server.url);
    await admin.collection('_superusers').authWithPassword('root@example.com', 'root-password-1');
  });
  after(async () => {
    await server?.stop();
  });

  test('clients are told apart by the address the proxy adds last', async () => {
    const attempt = (forwardedFor, identity = 'root@example.com') =>
      fetch(`${server.url}/api/collections/_superusers/auth-with-password`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
        body: JSON.stringify({ identity, password: 'wrong-password' }),
      }).then((r) => r.status);
    // The first entry is whatever the client claims; the last is the proxy's.
    for (let i = 0; i < 5; i++) assert.equal(await attempt(`10.0.0.${i}, 203.0.113.7`), 400);
    assert.equal(await attempt('10.0.0.9, 203.0.113.7'), 429);
    assert.equal(await attempt('203.0.113.8'), 400);
    // What is not an address is not taken for one: such requests count as the peer's.
    for (let i = 0; i < 5; i++) assert.equal(await attempt(`not-an-address-${i}`, 'nobody@example.com'), 400);
    assert.equal(await attempt('still not one', 'nobody@example.com'), 429);
  });

  test("the settings' trustedProxy, as PocketBase's, names the headers", async () => {
    await admin.settings.update({ trustedProxy: { headers: ['CF-Connecting-IP'], useLeftmostIP: false } });
    assert.deepEqual((await admin.settings.getAll()).trustedProxy, { headers: ['CF-Connecting-IP'], useLeftmostIP: false });
    await sleep(200); // the settings reach every I/O thread at its next sweep
    // Each part tries its own identity, so that the counts of the parts before do not mix in.
    let identity = 'proxy-0@example.com';
    const attempt = (headers) =>
      fetch(`${server.url}/api/collections/_superusers/auth-with-password`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ identity, password: 'wrong-password' }),
      }).then((r) => r.status);
    // X-Forwarded-For is no longer trusted: every such attempt counts as the peer's.
    identity = 'proxy-1@example.com';
    for (let i = 0; i < 5; i++) assert.equal(await attempt({ 'cf-connecting-ip': `198.51.100.${i}` }), 400);
    assert.equal(await attempt({ 'cf-connecting-ip': '198.51.100.9' }), 400);
    for (let i = 0; i < 5; i++) assert.equal(await attempt({ 'x-forwarded-for': `192.0.2.${i}` }), 400);
    assert.equal(await attempt({ 'x-forwarded-for': '192.0.2.99' }), 429);
    // The leftmost entry, when asked for.
    await admin.settings.update({ trustedProxy: { headers: ['X-Forwarded-For'], useLeftmostIP: true } });
    await sleep(200);
    identity = 'proxy-2@example.com';
    for (let i = 0; i < 5; i++) assert.equal(await attempt({ 'x-forwarded-for': `198.18.0.1, 10.9.9.${i}` }), 400);
    assert.equal(await attempt({ 'x-forwarded-for': '198.18.0.1, 10.9.9.9' }), 429);
    assert.equal(await attempt({ 'x-forwarded-for': '198.18.0.2, 10.9.9.9' }), 400);
  });
});
