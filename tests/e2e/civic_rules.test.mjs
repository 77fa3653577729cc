// The civic-issue reporting app (../shared/seeds/000_*): users with a role, a status and reward
// points; issues with a reporter, a status, an assigned department, a photo and a location. The
// API rules are checked for the owner, another user and a guest on every operation, and a set of
// attacks must all fail.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import PocketBase from 'pocketbase';
import { runStrata, sleep, startServer } from './helpers.mjs';

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('civic issues: rule matrix', () => {
  let server;
  let admin;
  const pw = 'citizen-password';
  const clients = {};
  const users = {};

  before(async () => {
    server = await startServer();
    const r = await runStrata(['superuser', 'upsert', 'root@example.com', 'root-password-1', '--dir', server.dir]);
    assert.equal(r.code, 0, r.stderr);
    admin = new PocketBase(server.url);
    await admin.collection('_superusers').authWithPassword('root@example.com', 'root-password-1');
    const staffOrAdmin = "(@request.auth.role = 'staff' || @request.auth.role = 'admin')";
    const usersCollection = await admin.collections.create({
      name: 'users',
      type: 'auth',
      listRule: staffOrAdmin,
      viewRule: `id = @request.auth.id || ${staffOrAdmin}`,
      createRule:
        "(@request.body.role:isset = false || @request.body.role = 'citizen') && @request.body.reward_point:isset = false",
      updateRule:
        "(id = @request.auth.id && @request.body.role:isset = false && @request.body.reward_point:isset = false && @request.body.status:isset = false) || @request.auth.role = 'admin'",
      deleteRule: "@request.auth.role = 'admin'",
      fields: [
        { name: 'name', type: 'text' },
        { name: 'role', type: 'select', values: ['citizen', 'staff', 'admin'], maxSelect: 1 },
        { name: 'status', type: 'select', values: ['active', 'suspended'], maxSelect: 1 },
        { name: 'reward_point', type: 'number', onlyInt: true },
      ],
    });
    const visible = "@request.auth.id != '' && (status != 'draft' || reporter = @request.auth.id)";
    await admin.collections.create({
      name: 'issues',
      listRule: visible,
      viewRule: visible,
      createRule:
        "@request.auth.id != '' && @request.body.reporter = @request.auth.id && (@request.body.status:isset = false || @request.body.status = 'draft' || @request.body.status = 'open')",
      updateRule:
        "(reporter = @request.auth.id && status = 'draft' && @request.body.reporter:isset = false && @request.body.assigned_department:isset = false) || @request.auth.role = 'staff'",
      deleteRule: "reporter = @request.auth.id && status = 'draft'",
      fields: [
        { name: 'title', type: 'text', required: true },
        { name: 'description', type: 'editor' },
        { name: 'reporter', type: 'relation', collectionId: usersCollection.id, maxSelect: 1 },
        { name: 'status', type: 'select', values: ['draft', 'open', 'in_progress', 'resolved'], maxSelect: 1 },
        { name: 'assigned_department', type: 'text' },
        { name: 'photo', type: 'file', maxSelect: 1 },
        { name: 'location', type: 'geoPoint' },
      ],
    });
    await admin.collections.create({ name: 'clerks', type: 'auth', createRule: '', fields: [] });
    const guest = new PocketBase(server.url);
    for (const name of ['owner', 'other']) {
      users[name] = await guest.collection('users').create({ email: `${name}@example.com`, password: pw, passwordConfirm: pw, name });
      clients[name] = new PocketBase(server.url);
      await clients[name].collection('users').authWithPassword(`${name}@example.com`, pw);
    }
    clients.guest = guest;
  });
  after(async () => {
    await server?.stop();
  });

  const newDraft = () =>
    clients.owner.collection('issues').create({
      title: 'Pothole on Main St',
      description: '<p>Deep</p>',
      reporter: users.owner.id,
      status: 'draft',
      location: { lon: 13.4, lat: 52.5 },
    });

  test('list', async () => {
    const draft = await newDraft();
    const seen = async (who) => (await clients[who].collection('issues').getFullList()).map((i) => i.id);
    assert.ok((await seen('owner')).includes(draft.id));
    assert.ok(!(await seen('other')).includes(draft.id));
    assert.deepEqual(await seen('guest'), []);
    // Once open, other users see it; guests still do not.
    await admin.collection('issues').update(draft.id, { status: 'open' });
    assert.ok((await seen('other')).includes(draft.id));
    assert.deepEqual(await seen('guest'), []);
  });

  test('view', async () => {
    const draft = await newDraft();
    assert.equal((await clients.owner.collection('issues').getOne(draft.id)).id, draft.id);
    for (const who of ['other', 'guest']) {
      const err = await clients[who].collection('issues').getOne(draft.id).catch((e) => e);
      assert.equal(err.status, 404, who);
    }
  });

  test('create', async () => {
    assert.ok((await newDraft()).id);
    // Filing in someone else's name, or as a guest, is refused.
    for (const who of ['other', 'guest']) {
      const err = await clients[who]
        .collection('issues')
        .create({ title: 'x', reporter: users.owner.id, status: 'draft' })
        .catch((e) => e);
      assert.equal(err.status, 400, who);
    }
    // Skipping the queue: a citizen cannot file straight into "resolved".
    const resolved = await clients.owner
      .collection('issues')
      .create({ title: 'x', reporter: users.owner.id, status: 'resolved' })
      .catch((e) => e);
    assert.equal(resolved.status, 400);
  });

  test('update', async () => {
    const draft = await newDraft();
    assert.equal((await clients.owner.collection('issues').update(draft.id, { title: 'Pothole (deep)' })).title, 'Pothole (deep)');
    for (const who of ['other', 'guest']) {
      const err = await clients[who].collection('issues').update(draft.id, { title: 'mine now' }).catch((e) => e);
      assert.equal(err.status, 404, who);
    }
    // The owner cannot assign a department or hand the issue to someone else.
    for (const body of [{ assigned_department: 'roads' }, { reporter: users.other.id }]) {
      const err = await clients.owner.collection('issues').update(draft.id, body).catch((e) => e);
      assert.equal(err.status, 404, JSON.stringify(body));
    }
    assert.equal((await admin.collection('issues').getOne(draft.id)).assigned_department, '');
  });

  test('delete', async () => {
    const draft = await newDraft();
    for (const who of ['other', 'guest']) {
      const err = await clients[who].collection('issues').delete(draft.id).catch((e) => e);
      assert.equal(err.status, 404, who);
    }
    assert.equal(await clients.owner.collection('issues').delete(draft.id), true);
  });

  test('users cannot raise their own role or points', async () => {
    const err = await clients.owner.collection('users').update(users.owner.id, { role: 'admin' }).catch((e) => e);
    assert.equal(err.status, 404);
    const points = await clients.owner.collection('users').update(users.owner.id, { reward_point: 1000 }).catch((e) => e);
    assert.equal(points.status, 404);
    const signUp = await clients.guest
      .collection('users')
      .create({ email: 'mallory@example.com', password: pw, passwordConfirm: pw, role: 'admin' })
      .catch((e) => e);
    assert.equal(signUp.status, 400);
    const me = await admin.collection('users').getOne(users.owner.id);
    assert.equal(me.role, '');
    assert.equal(me.reward_point, 0);
    // Their own name they may change; other users they cannot even see.
    assert.equal((await clients.owner.collection('users').update(users.owner.id, { name: 'Owen' })).name, 'Owen');
    const peek = await clients.owner.collection('users').getOne(users.other.id).catch((e) => e);
    assert.equal(peek.status, 404);
    assert.equal((await clients.owner.collection('users').getList()).totalItems, 0);
  });

  test('forged, expired, revoked and foreign tokens are all refused', async () => {
    const draft = await newDraft();
    const asToken = async (token) =>
      (await fetch(`${server.url}/api/collections/issues/records/${draft.id}`, { headers: { Authorization: token } })).status;
    assert.equal(await asToken(clients.owner.authStore.token), 200);
    const claims = { id: users.owner.id, collectionId: users.owner.collectionId, type: 'auth', refreshable: true, exp: 9999999999 };
    // alg "none".
    assert.equal(await asToken(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`), 404);
    // HS256 "signed" with the server's Ed25519 public key under its kid.
    const jwks = await (await fetch(`${server.url}/api/.well-known/jwks.json`)).json();
    const { kid, x } = jwks.keys[0];
    const input = `${b64({ alg: 'HS256', typ: 'JWT', kid })}.${b64(claims)}`;
    const mac = createHmac('sha256', Buffer.from(x, 'base64url')).update(input).digest('base64url');
    assert.equal(await asToken(`${input}.${mac}`), 404);
    // Expired: an impersonation token of one second.
    const short = await admin.collection('users').impersonate(users.owner.id, 1);
    assert.equal(await asToken(short.authStore.token), 200);
    await sleep(2100);
    assert.equal(await asToken(short.authStore.token), 404);
    // Issued before the tokenKey changed (a new password ends every session).
    const before = clients.owner.authStore.token;
    await admin.collection('users').update(users.owner.id, { password: 'new-password-1', passwordConfirm: 'new-password-1' });
    assert.equal(await asToken(before), 404);
    await clients.owner.collection('users').authWithPassword('owner@example.com', 'new-password-1');
    assert.equal(await asToken(clients.owner.authStore.token), 200);
    // A token of another auth collection does not act as a user.
    const clerk = new PocketBase(server.url);
    await clerk.collection('clerks').create({ email: 'clerk@example.com', password: pw, passwordConfirm: pw });
    await clerk.collection('clerks').authWithPassword('clerk@example.com', pw);
    assert.equal(await asToken(clerk.authStore.token), 404);
    const refresh = await fetch(`${server.url}/api/collections/users/auth-refresh`, {
      method: 'POST',
      headers: { Authorization: clerk.authStore.token },
    });
    assert.equal(refresh.status, 403);
  });
});
