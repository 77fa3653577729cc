// Rate limit rules from the settings API and the command line: PocketBase's labels and audiences,
// keys by address or by user, 429 with Retry-After and the RateLimit headers.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import PocketBase from 'pocketbase';
import { runStrata, sleep, startWithAdmin } from './helpers.mjs';

async function post(url, body, headers = {}) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

describe('rate limits', () => {
  let server;
  let admin;
  let users;
  before(async () => {
    ({ server, admin, users } = await startWithAdmin({ users: ['ann', 'bob'], usersCollection: { listRule: '' } }));
    await admin.collections.create({
      name: 'notes',
      listRule: '',
      viewRule: '',
      createRule: '',
      fields: [{ name: 'text', type: 'text' }],
    });
  });
  after(async () => {
    await server?.stop();
  });

  test('the settings API: superusers only, PocketBase defaults shape, validation errors', async () => {
    const guest = await fetch(`${server.url}/api/settings`);
    assert.equal(guest.status, 401);
    const user = await fetch(`${server.url}/api/settings`, { headers: { Authorization: users.ann.authStore.token } });
    assert.equal(user.status, 403);
    const settings = await admin.settings.getAll();
    assert.equal(settings.rateLimits.enabled, true);
    const labels = settings.rateLimits.rules.map((r) => r.label);
    assert.deepEqual(labels, ['*:authWithPassword', '*:authWithOTP', '*:upload']);
    assert.equal(settings.rateLimits.rules[0].maxRequests, 5);
    assert.equal(settings.rateLimits.rules[0].duration, 60);

    const err = await admin.settings
      .update({ rateLimits: { rules: [{ label: 'no spaces allowed!', maxRequests: 0, duration: 1 }] } })
      .catch((e) => e);
    assert.equal(err.status, 400);
    assert.equal(err.response.data.rateLimits.rules['0'].label.code, 'validation_match_invalid');
    assert.ok(err.response.data.rateLimits.rules['0'].maxRequests);
    // Unchanged after a refused update.
    assert.deepEqual((await admin.settings.getAll()).rateLimits, settings.rateLimits);
  });

  test('a collection action rule: 429 with Retry-After and RateLimit headers; superusers pass', async () => {
    const base = (await admin.settings.getAll()).rateLimits.rules;
    await admin.settings.update({
      rateLimits: { rules: [...base, { label: 'notes:create', maxRequests: 3, duration: 60 }] },
    });
    const url = `${server.url}/api/collections/notes/records`;
    for (let i = 0; i < 3; i++) {
      const res = await post(url, { text: `n${i}` });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('ratelimit-limit'), '3');
      assert.equal(res.headers.get('ratelimit-remaining'), String(2 - i));
    }
    const refused = await post(url, { text: 'over' });
    assert.equal(refused.status, 429);
    assert.deepEqual(await refused.json(), { data: {}, message: 'Too Many Requests.', status: 429 });
    const retry = Number(refused.headers.get('retry-after'));
    // 3 per 60 s: one more is allowed 20 s after the first.
    assert.ok(retry >= 15 && retry <= 20, `Retry-After ${retry}`);
    assert.equal(refused.headers.get('ratelimit-remaining'), '0');
    assert.ok(Number(refused.headers.get('ratelimit-reset')) > 0);
    // Nothing was stored by the refused request.
    assert.equal((await admin.collection('notes').getFullList({ filter: "text = 'over'" })).length, 0);
    // Other actions of the collection are not counted under it.
    assert.equal((await fetch(url)).status, 200);
    // Superusers are never limited, as in PocketBase.
    await admin.collection('notes').create({ text: 'by root' });
  });

  test('other spellings of a path and batch requests count under the same rules', async () => {
    await admin.settings.update({
      rateLimits: {
        enabled: true,
        rules: [
          { label: 'POST /api/collections/notes/records', maxRequests: 2, duration: 60 },
          { label: 'notes:update', maxRequests: 2, duration: 60 },
        ],
      },
    });
    const notes = await admin.collections.getOne('notes');
    const statuses = [];
    for (const spelling of ['notes', 'NOTES', notes.id, '%6Eotes']) {
      statuses.push((await post(`${server.url}/api/collections/${spelling}/records`, { text: 's' })).status);
    }
    assert.deepEqual(statuses, [200, 200, 429, 429]);

    await admin.collections.update('notes', { updateRule: '' });
    const rec = await admin.collection('notes').create({ text: 'batch me' });
    const batch = (n) =>
      post(`${server.url}/api/batch`, {
        requests: Array.from({ length: n }, () => ({
          method: 'PATCH',
          url: `/api/collections/notes/records/${rec.id}`,
          body: { text: 'x' },
        })),
      });
    const three = await batch(3);
    assert.equal(three.status, 400);
    const body = await three.json();
    assert.equal(body.data.requests['2'].response.status, 429);
  });

  test('key "auth" counts each user apart, audience picks guests or users', async () => {
    await admin.settings.update({
      rateLimits: {
        rules: [
          { label: '*:list', maxRequests: 2, duration: 60, audience: '@auth', key: 'auth' },
          { label: '*:list', maxRequests: 1, duration: 60, audience: '@guest' },
        ],
      },
    });
    const list = (pb) => pb.collection('users').getList(1, 1).then(() => 200, (e) => e.status);
    assert.deepEqual([await list(users.ann), await list(users.ann), await list(users.ann)], [200, 200, 429]);
    // Bob comes from the same address but is counted on his own.
    assert.deepEqual([await list(users.bob), await list(users.bob), await list(users.bob)], [200, 200, 429]);
    const guest = new PocketBase(server.url);
    assert.deepEqual([await list(guest), await list(guest)], [200, 429]);
  });

  test('a path prefix rule covers every route under it', async () => {
    await admin.settings.update({
      rateLimits: { rules: [{ label: '/api/', maxRequests: 4, duration: 1, audience: '@guest' }] },
    });
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await fetch(`${server.url}/api/health`)).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429]);
    // The rate refills: 4 a second, one every 250 ms.
    await sleep(600);
    assert.equal((await fetch(`${server.url}/api/health`)).status, 200);
  });

  test('the command line changes the rules of a running server', async () => {
    let r = await runStrata(['settings', 'set', '{"rateLimits":{"enabled":false}}', '--dir', server.dir]);
    assert.equal(r.code, 0, r.stderr);
    let open = false;
    for (let i = 0; i < 50 && !open; i++) {
      open = (await admin.settings.getAll()).rateLimits.enabled === false;
      if (!open) await sleep(100);
    }
    assert.ok(open, 'the server picked up the change');
    for (let i = 0; i < 10; i++) assert.equal((await fetch(`${server.url}/api/health`)).status, 200);
    r = await runStrata(['settings', 'get', '--dir', server.dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).rateLimits.enabled, false);
    r = await runStrata(['settings', 'set', '{"rateLimits":{"rules":[{"label":"x y","maxRequests":1,"duration":1}]}}',
      '--dir', server.dir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /validation_match_invalid/);
    r = await runStrata(['settings', 'set', 'not json', '--dir', server.dir]);
    assert.equal(r.code, 2);
  });

  test('uploads: ten a minute per user by default', async () => {
    await admin.settings.update({
      rateLimits: {
        enabled: true,
        rules: [{ label: '*:upload', maxRequests: 10, duration: 60, key: 'auth' }],
      },
    });
    const upload = async (pb) => {
      const form = new FormData();
      form.append('text', 'photo');
      form.append('photo', new Blob([new Uint8Array([0xff, 0xd8, 0xff])], { type: 'image/jpeg' }), 'cat.jpg');
      const res = await fetch(`${server.url}/api/collections/notes/records`, {
        method: 'POST',
        headers: { Authorization: pb.authStore.token },
        body: form,
      });
      if (res.status !== 429) assert.equal(res.headers.get('ratelimit-limit'), '10');
      return res.status;
    };
    const statuses = [];
    for (let i = 0; i < 11; i++) statuses.push(await upload(users.ann));
    // Counted before the body is looked at (this collection has no file field: 400).
    assert.deepEqual(statuses.slice(0, 10), Array(10).fill(400));
    assert.equal(statuses[10], 429);
    // Refused on its head: a 20 MB upload announced and not sent is answered at once, its body
    // never waited for, and the connection closed after the answer.
    const head = await new Promise((resolve, reject) => {
      const socket = net.connect(Number(new URL(server.url).port), '127.0.0.1', () => {
        socket.write(
          'POST /api/collections/notes/records HTTP/1.1\r\nHost: x\r\n' +
            `Authorization: ${users.ann.authStore.token}\r\n` +
            'Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 20000000\r\n\r\n--b\r\n',
        );
      });
      let text = '';
      socket.on('data', (d) => {
        text += d;
        if (text.includes('\r\n\r\n')) {
          socket.destroy();
          resolve(text);
        }
      });
      socket.on('error', reject);
      setTimeout(() => reject(new Error(`no answer before the body: ${text}`)), 3000);
    });
    assert.match(head, /^HTTP\/1\.1 429 /);
    assert.match(head, /\r\nRetry-After: \d+\r\n/i);
    assert.match(head, /\r\nConnection: close\r\n/i);
    assert.equal(await upload(users.bob), 400);
    // Requests without files are not uploads.
    const plain = await fetch(`${server.url}/api/collections/notes/records`, {
      method: 'POST',
      headers: { Authorization: users.ann.authStore.token, 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'no file' }),
    });
    assert.equal(plain.status, 200);
  });
});
