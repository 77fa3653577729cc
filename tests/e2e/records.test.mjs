// The records API through the pocketbase SDK.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import PocketBase from 'pocketbase';
import { runStrata, startServer } from './helpers.mjs';

describe('records', () => {
  let server;
  let admin;
  let guest;
  before(async () => {
    server = await startServer();
    const r = await runStrata(['superuser', 'upsert', 'root@example.com', 'root-password-1', '--dir', server.dir]);
    assert.equal(r.code, 0, r.stderr);
    admin = new PocketBase(server.url);
    await admin.collection('_superusers').authWithPassword('root@example.com', 'root-password-1');
    guest = new PocketBase(server.url);
    const users = await admin.collections.create({
      name: 'users',
      type: 'auth',
      listRule: '',
      viewRule: '',
      createRule: '',
      fields: [{ name: 'name', type: 'text' }],
    });
    await admin.collections.create({
      name: 'posts',
      listRule: '',
      viewRule: '',
      createRule: '',
      updateRule: '',
      deleteRule: '',
      fields: [
        { name: 'title', type: 'text', required: true, max: 100 },
        { name: 'status', type: 'select', values: ['active', 'draft'], maxSelect: 1 },
        { name: 'tags', type: 'select', values: ['a', 'b', 'c'], maxSelect: 3 },
        { name: 'like_count', type: 'number', onlyInt: true },
        { name: 'author', type: 'relation', collectionId: users.id, maxSelect: 1, cascadeDelete: true },
        { name: 'meta', type: 'json' },
        { name: 'created', type: 'autodate', onCreate: true },
        { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
      ],
      indexes: ['CREATE UNIQUE INDEX idx_posts_title ON posts (title)'],
    });
    await admin.collections.create({ name: 'secrets', fields: [{ name: 'value', type: 'text' }] });
  });
  after(async () => {
    await server?.stop();
  });

  // A new user of 'users', signed up as a guest and signed in: its own SDK client.
  const login = async (email) => {
    await guest.collection('users').create({ email, password: 'pass-12345', passwordConfirm: 'pass-12345' });
    const c = new PocketBase(server.url);
    await c.collection('users').authWithPassword(email, 'pass-12345');
    return c;
  };

  test('create, view, update with modifiers, delete', async () => {
    const post = await guest.collection('posts').create({
      title: 'Hello',
      status: 'active',
      tags: ['a'],
      like_count: 3,
      meta: { x: [1, 2] },
    });
    assert.match(post.id, /^[a-z0-9]{15}$/);
    assert.equal(post.collectionName, 'posts');
    assert.equal(post.title, 'Hello');
    assert.deepEqual(post.tags, ['a']);
    assert.deepEqual(post.meta, { x: [1, 2] });
    assert.match(post.created, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(post.author, '');

    const seen = await guest.collection('posts').getOne(post.id);
    assert.deepEqual(seen, post);

    const updated = await guest.collection('posts').update(post.id, { 'like_count+': 2, 'tags+': ['b', 'c'], 'tags-': 'a' });
    assert.equal(updated.like_count, 5);
    assert.deepEqual(updated.tags, ['b', 'c']);
    assert.equal(updated.created, post.created);

    assert.equal(await guest.collection('posts').delete(post.id), true);
    await assert.rejects(guest.collection('posts').getOne(post.id), (e) => e.status === 404);
  });

  test('validation errors in PocketBase shape', async () => {
    await assert.rejects(guest.collection('posts').create({ status: 'nope', like_count: 1.5 }), (e) => {
      assert.equal(e.status, 400);
      assert.equal(e.response.message, 'Failed to create record.');
      assert.equal(e.response.data.title.code, 'validation_required');
      assert.equal(e.response.data.status.code, 'validation_invalid_value');
      assert.equal(e.response.data.like_count.code, 'validation_only_int_constraint');
      return true;
    });
    await guest.collection('posts').create({ title: 'Unique' });
    await assert.rejects(guest.collection('posts').create({ title: 'Unique' }), (e) => {
      assert.equal(e.status, 400);
      assert.equal(e.response.data.title.code, 'validation_not_unique');
      return true;
    });
    await assert.rejects(guest.collection('posts').create({ title: 'x', author: 'missingid123456' }), (e) => {
      assert.equal(e.response.data.author.code, 'validation_missing_rel_records');
      return true;
    });
    await assert.rejects(guest.collection('nope').getList(), (e) => e.status === 404);
  });

  test('lists: pages, sort, skipTotal, fields', async () => {
    for (let i = 0; i < 7; i++) await guest.collection('posts').create({ title: `p${i}`, like_count: i });
    const page = await guest.collection('posts').getList(2, 3, { sort: '-like_count' });
    assert.equal(page.page, 2);
    assert.equal(page.perPage, 3);
    assert.equal(page.totalItems, 8);
    assert.equal(page.totalPages, 3);
    assert.deepEqual(
      page.items.map((p) => p.like_count),
      [3, 2, 1],
    );
    const skipped = await guest.collection('posts').getList(1, 2, { skipTotal: true, fields: 'id,title' });
    assert.equal(skipped.totalItems, -1);
    assert.deepEqual(Object.keys(skipped.items[0]).sort(), ['id', 'title']);
    const all = await guest.collection('posts').getFullList({ sort: 'title' });
    assert.equal(all.length, 8);
    await assert.rejects(guest.collection('posts').getList(1, 10, { sort: 'nosuchfield' }), (e) => e.status === 400);
  });

  test('cursor pages: a total order, stable under concurrent inserts', async () => {
    await admin.collections.create({
      name: 'feed',
      listRule: '',
      createRule: '',
      fields: [{ name: 'score', type: 'number' }],
      indexes: ['CREATE INDEX idx_feed_score ON feed (score, id)'],
    });
    const created = [];
    for (let i = 0; i < 25; i++) created.push((await guest.collection('feed').create({ score: i % 5 })).id);
    const seen = [];
    let cursor = '';
    let pages = 0;
    while (cursor !== null) {
      const res = await fetch(`${server.url}/api/collections/feed/records?perPage=4&sort=-score&cursor=${cursor}`);
      assert.equal(res.status, 200);
      const page = await res.json();
      seen.push(...page.items);
      cursor = page.nextCursor;
      pages++;
      // Rows added while paging sort before the cursor (higher score) and never repeat a row.
      if (pages === 2) await guest.collection('feed').create({ score: 100 });
    }
    assert.equal(pages, 7);
    assert.equal(new Set(seen.map((r) => r.id)).size, seen.length, 'no row twice');
    assert.deepEqual(seen.map((r) => r.id).sort(), [...created].sort(), 'every row once');
    for (let i = 1; i < seen.length; i++) {
      const [a, b] = [seen[i - 1], seen[i]];
      assert.ok(a.score > b.score || (a.score === b.score && a.id > b.id), 'ordered by -score, -id');
    }
    const bad = await fetch(`${server.url}/api/collections/feed/records?cursor=notacursor`);
    assert.equal(bad.status, 400);
  });

  test('filters: operators, relations, errors', async () => {
    await admin.collections.create({
      name: 'items',
      listRule: '',
      createRule: '',
      fields: [
        { name: 'name', type: 'text' },
        { name: 'qty', type: 'number' },
        { name: 'kind', type: 'select', values: ['x', 'y'], maxSelect: 1 },
      ],
    });
    for (const [name, qty, kind] of [
      ['apple', 3, 'x'],
      ['banana', 10, 'y'],
      ['cherry', 7, 'x'],
      ["it's", 1, 'y'],
    ]) {
      await guest.collection('items').create({ name, qty, kind });
    }
    const names = async (filter) =>
      (await guest.collection('items').getFullList({ filter, sort: 'name' })).map((r) => r.name);
    assert.deepEqual(await names("qty > 5 && kind = 'x'"), ['cherry']);
    assert.deepEqual(await names("name ~ 'an' || qty <= 1"), ['banana', "it's"]);
    assert.deepEqual(await names(guest.filter('name = {:n}', { n: "it's" })), ["it's"]);
    assert.deepEqual(await names("name !~ 'a' // a comment"), ['cherry', "it's"]);
    await assert.rejects(names("name = 'x' || 1 = 1; DROP TABLE items"), (e) => e.status === 400);
    assert.equal((await guest.collection('items').getList()).totalItems, 4);
  });

  test('bad filters → 400 naming the position', async () => {
    for (const filter of ["qty >", "nosuch = 1", "(qty = 1", 'x'.repeat(3501)]) {
      await assert.rejects(guest.collection('items').getList(1, 10, { filter }), (e) => {
        assert.equal(e.status, 400, filter);
        return true;
      });
    }
  });

  test('rules: owners see and change only their records', async () => {
    const users = await admin.collections.getOne('users');
    await admin.collections.create({
      name: 'notes',
      listRule: 'owner = @request.auth.id',
      viewRule: 'owner = @request.auth.id',
      createRule: "@request.auth.id != '' && owner = @request.auth.id && @request.body.pinned:isset = false",
      updateRule: 'owner = @request.auth.id',
      deleteRule: 'owner = @request.auth.id',
      fields: [
        { name: 'text', type: 'text' },
        { name: 'owner', type: 'relation', collectionId: users.id, maxSelect: 1 },
        { name: 'pinned', type: 'bool' },
      ],
    });
    const alice = await login('alice@example.com');
    const bob = await login('bob@example.com');
    const a = await alice.collection('notes').create({ text: 'alice 1', owner: alice.authStore.record.id });
    await bob.collection('notes').create({ text: 'bob 1', owner: bob.authStore.record.id });
    assert.deepEqual((await alice.collection('notes').getFullList()).map((n) => n.text), ['alice 1']);
    assert.deepEqual((await guest.collection('notes').getList()).items, []);
    await assert.rejects(bob.collection('notes').getOne(a.id), (e) => e.status === 404);
    await assert.rejects(bob.collection('notes').update(a.id, { text: 'hacked' }), (e) => e.status === 404);
    await assert.rejects(bob.collection('notes').delete(a.id), (e) => e.status === 404);
    await assert.rejects(
      bob.collection('notes').create({ text: 'forged', owner: alice.authStore.record.id }),
      (e) => e.status === 400,
    );
    await assert.rejects(
      alice.collection('notes').create({ text: 'x', owner: alice.authStore.record.id, pinned: true }),
      (e) => e.status === 400,
    );
    await assert.rejects(guest.collection('notes').create({ text: 'anon' }), (e) => e.status === 400);
    assert.equal((await alice.collection('notes').update(a.id, { text: 'edited' })).text, 'edited');
    assert.equal((await admin.collection('notes').getFullList()).length, 2);
  });

  test('expand: relations, back-relations, nesting, view rules', async () => {
    const users = await admin.collections.getOne('users');
    const teams = await admin.collections.create({ name: 'teams', viewRule: '', fields: [{ name: 'title', type: 'text' }] });
    await admin.collections.update(users.id, {
      fields: [...users.fields, { name: 'team', type: 'relation', collectionId: teams.id, maxSelect: 1 }],
    });
    const boards = await admin.collections.create({
      name: 'boards',
      listRule: '',
      viewRule: '',
      createRule: '',
      fields: [
        { name: 'name', type: 'text' },
        { name: 'owner', type: 'relation', collectionId: users.id, maxSelect: 1 },
        { name: 'members', type: 'relation', collectionId: users.id, maxSelect: 10 },
      ],
    });
    await admin.collections.create({
      name: 'cards',
      listRule: '',
      viewRule: '',
      createRule: '',
      fields: [
        { name: 'text', type: 'text' },
        { name: 'board', type: 'relation', collectionId: boards.id, maxSelect: 1 },
      ],
    });
    const team = await admin.collection('teams').create({ title: 'Core' });
    const u1 = await admin.collection('users').create({
      email: 'e1@example.com', password: 'pass-12345', passwordConfirm: 'pass-12345', name: 'One', team: team.id,
    });
    const u2 = await admin.collection('users').create({
      email: 'e2@example.com', password: 'pass-12345', passwordConfirm: 'pass-12345', name: 'Two',
    });
    const board = await guest.collection('boards').create({ name: 'B', owner: u1.id, members: [u2.id, u1.id] });
    await guest.collection('cards').create({ text: 'c1', board: board.id });
    await guest.collection('cards').create({ text: 'c2', board: board.id });

    const b = await guest.collection('boards').getOne(board.id, { expand: 'owner.team,members,cards_via_board' });
    assert.equal(b.expand.owner.name, 'One');
    assert.equal(b.expand.owner.expand.team.title, 'Core');
    assert.deepEqual(b.expand.members.map((m) => m.name), ['Two', 'One']);
    assert.deepEqual(b.expand.cards_via_board.map((c) => c.text).sort(), ['c1', 'c2']);
    assert.equal(b.expand.owner.email, undefined); // hidden email stays hidden in expands
    // A path with a name that is not a relation is left out whole, as PocketBase.
    assert.equal((await guest.collection('boards').getOne(board.id, { expand: 'owner.nope' })).expand, undefined);
    const partly = await guest.collection('boards').getOne(board.id, { expand: 'owner.nope,members' });
    assert.deepEqual(Object.keys(partly.expand), ['members']);

    const list = await guest.collection('cards').getList(1, 10, { expand: 'board.owner', filter: "board.name = 'B'" });
    assert.equal(list.items.length, 2);
    assert.equal(list.items[0].expand.board.expand.owner.name, 'One');

    // teams' list rule is null but its view rule is "": expands follow the view rule.
    await admin.collections.update(teams.id, { viewRule: null });
    const hidden = await guest.collection('boards').getOne(board.id, { expand: 'owner.team' });
    assert.equal(hidden.expand.owner.expand, undefined);
  });

  test('batch: all or nothing', async () => {
    const batch = guest.createBatch();
    batch.collection('posts').create({ title: 'batch 1', like_count: 1 });
    batch.collection('posts').create({ title: 'batch 2', like_count: 2 });
    const results = await batch.send();
    assert.equal(results.length, 2);
    assert.equal(results[0].status, 200);
    assert.equal(results[0].body.title, 'batch 1');
    const [first, second] = results.map((r) => r.body);

    const failing = guest.createBatch();
    failing.collection('posts').update(first.id, { title: 'renamed' });
    failing.collection('posts').delete(second.id);
    failing.collection('posts').create({ like_count: 5 }); // no title: invalid
    await assert.rejects(failing.send(), (e) => {
      assert.equal(e.status, 400);
      assert.equal(e.response.message, 'Batch transaction failed.');
      assert.equal(e.response.data.requests['2'].code, 'batch_request_failed');
      assert.equal(e.response.data.requests['2'].response.data.title.code, 'validation_required');
      return true;
    });
    // Nothing of the failed batch happened.
    assert.equal((await guest.collection('posts').getOne(first.id)).title, 'batch 1');
    assert.equal((await guest.collection('posts').getOne(second.id)).title, 'batch 2');

    const mixed = guest.createBatch();
    mixed.collection('posts').upsert({ id: first.id, title: 'upserted' });
    mixed.collection('posts').upsert({ title: 'upsert new' });
    mixed.collection('posts').delete(second.id);
    const out = await mixed.send();
    assert.deepEqual(out.map((r) => r.status), [200, 200, 204]);
    assert.equal(out[0].body.title, 'upserted');
    await assert.rejects(guest.collection('posts').getOne(second.id), (e) => e.status === 404);
  });

  test('batch: rules read the batch request\'s headers, and each request\'s own over them', async () => {
    await admin.collections.create({
      name: 'team_posts',
      listRule: '',
      createRule: '@request.headers.x_team = "red"',
      fields: [{ name: 'title', type: 'text' }],
    });
    const send = (headers, requests) =>
      fetch(`${server.url}/api/batch`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...headers },
        body: JSON.stringify({ requests }),
      }).then((r) => r.status);
    const create = (title, headers) => ({ method: 'POST', url: '/api/collections/team_posts/records', body: { title }, headers });
    assert.equal(await send({ 'X-Team': 'red' }, [create('a')]), 200);
    assert.equal(await send({}, [create('b')]), 400);
    assert.equal(await send({}, [create('c', { 'X-Team': 'red' })]), 200);
    assert.equal(await send({ 'X-Team': 'red' }, [create('d', { 'X-Team': 'blue' })]), 400);
    assert.deepEqual((await guest.collection('team_posts').getFullList({ sort: 'title' })).map((r) => r.title), ['a', 'c']);
  });

  test('null rules: superusers only', async () => {
    await assert.rejects(guest.collection('secrets').getList(), (e) => {
      assert.equal(e.status, 403);
      assert.equal(e.response.message, 'Only superusers can perform this action.');
      return true;
    });
    await assert.rejects(guest.collection('secrets').create({ value: 'x' }), (e) => e.status === 403);
    const s = await admin.collection('secrets').create({ value: 'x' });
    assert.equal((await admin.collection('secrets').getOne(s.id)).value, 'x');
  });

  test('auth records: sign-up, login, hidden fields, email visibility, cascade delete', async () => {
    const user = await guest.collection('users').create({
      email: 'jane@example.com',
      password: 'jane-password',
      passwordConfirm: 'jane-password',
      name: 'Jane',
    });
    assert.equal(user.password, undefined);
    assert.equal(user.tokenKey, undefined);
    assert.equal(user.email, undefined); // emailVisibility is false
    await assert.rejects(
      guest.collection('users').create({ email: 'x@example.com', password: 'abcdefgh', passwordConfirm: 'other' }),
      (e) => e.response.data.passwordConfirm.code === 'validation_values_mismatch',
    );
    await assert.rejects(
      guest.collection('users').create({ email: 'jane@example.com', password: 'abcdefgh', passwordConfirm: 'abcdefgh' }),
      (e) => e.response.data.email.code === 'validation_not_unique',
    );

    const jane = new PocketBase(server.url);
    const auth = await jane.collection('users').authWithPassword('jane@example.com', 'jane-password');
    assert.equal(auth.record.email, 'jane@example.com'); // her own record shows it
    const own = await jane.collection('users').getOne(user.id);
    assert.equal(own.email, 'jane@example.com');

    const post = await jane.collection('posts').create({ title: 'by jane', author: user.id });
    assert.equal(post.author, user.id);
    await admin.collection('users').delete(user.id);
    await assert.rejects(guest.collection('posts').getOne(post.id), (e) => e.status === 404);
  });

  test('auth records: email, verified and a new password without the old one are for managers', async () => {
    await admin.collections.create({
      name: 'members',
      type: 'auth',
      listRule: '',
      viewRule: '',
      createRule: '',
      updateRule: 'id = @request.auth.id || @request.auth.role = "admin"',
      manageRule: '@request.auth.role = "admin"',
      fields: [{ name: 'role', type: 'text' }],
    });
    const make = async (email, role = '') => {
      const rec = await admin.collection('members').create({ email, password: 'first-pass-1', passwordConfirm: 'first-pass-1', role });
      const pb = new PocketBase(server.url);
      await pb.collection('members').authWithPassword(email, 'first-pass-1');
      return { rec, pb };
    };
    const mia = await make('mia@example.com');
    const boss = await make('boss@example.com', 'admin');
    const fieldError = (body, field, code) =>
      assert.rejects(mia.pb.collection('members').update(mia.rec.id, body), (e) => {
        assert.equal(e.status, 400);
        assert.equal(e.response.data[field]?.code, code, JSON.stringify(e.response.data));
        return true;
      });
    // Not a manager of her own record: no direct email change, no verifying herself.
    await fieldError({ email: 'mia2@example.com' }, 'email', 'validation_values_mismatch');
    await fieldError({ verified: true }, 'verified', 'validation_values_mismatch');
    await mia.pb.collection('members').update(mia.rec.id, { email: 'mia@example.com', verified: false }); // unchanged: fine
    // A guest does not create a verified account.
    await assert.rejects(
      guest.collection('members').create({ email: 'self@example.com', password: 'pass-12345', passwordConfirm: 'pass-12345', verified: true }),
      (e) => e.response.data.verified?.code === 'validation_values_mismatch',
    );
    // A new password needs the old one.
    await fieldError({ password: 'second-pass-2', passwordConfirm: 'second-pass-2' }, 'oldPassword', 'validation_required');
    await fieldError(
      { password: 'second-pass-2', passwordConfirm: 'second-pass-2', oldPassword: 'wrong' },
      'oldPassword',
      'validation_invalid_old_password',
    );
    await mia.pb.collection('members').update(mia.rec.id, { password: 'second-pass-2', passwordConfirm: 'second-pass-2', oldPassword: 'first-pass-1' });
    await new PocketBase(server.url).collection('members').authWithPassword('mia@example.com', 'second-pass-2');
    // The manageRule's managers, like superusers, change all three directly.
    const managed = await boss.pb.collection('members').update(mia.rec.id, {
      email: 'mia.new@example.com',
      verified: true,
      password: 'third-pass-3',
      passwordConfirm: 'third-pass-3',
    });
    assert.equal(managed.verified, true);
    await new PocketBase(server.url).collection('members').authWithPassword('mia.new@example.com', 'third-pass-3');
    const bySuperuser = await admin.collection('members').update(mia.rec.id, { email: 'mia@example.com', verified: false });
    assert.equal(bySuperuser.verified, false);
  });

  test('@collection: conditions on one collection (or alias) hold on the same row of it, as PocketBase joins it once', async () => {
    const usersId = (await admin.collections.getOne('users')).id;
    const squads = await admin.collections.create({ name: 'squads', listRule: '', fields: [{ name: 'name', type: 'text' }] });
    await admin.collections.create({
      name: 'memberships',
      fields: [
        { name: 'team', type: 'relation', collectionId: squads.id, maxSelect: 1 },
        { name: 'user', type: 'relation', collectionId: usersId, maxSelect: 1 },
      ],
    });
    const rule = (a, b) => `@collection.memberships${a}.team ?= team && @collection.memberships${b}.user ?= @request.auth.id`;
    for (const [name, a, b] of [
      ['team_docs', '', ''],
      ['team_docs_aliased', ':m', ':m'],
      ['team_docs_apart', ':x', ':y'],
    ]) {
      await admin.collections.create({
        name,
        listRule: rule(a, b),
        viewRule: rule(a, b),
        fields: [
          { name: 'title', type: 'text' },
          { name: 'team', type: 'relation', collectionId: squads.id, maxSelect: 1 },
        ],
      });
    }
    const [red, blue] = [await admin.collection('squads').create({ name: 'red' }), await admin.collection('squads').create({ name: 'blue' })];
    const member = async (email, team) => {
      const user = await admin.collection('users').create({ email, password: 'pass-12345', passwordConfirm: 'pass-12345' });
      await admin.collection('memberships').create({ team: team.id, user: user.id });
      const pb = new PocketBase(server.url);
      await pb.collection('users').authWithPassword(email, 'pass-12345');
      return pb;
    };
    const redUser = await member('red@example.com', red);
    const blueUser = await member('blue@example.com', blue);
    const titles = async (pb, name) => (await pb.collection(name).getFullList()).map((r) => r.title);
    for (const name of ['team_docs', 'team_docs_aliased', 'team_docs_apart']) {
      await admin.collection(name).create({ title: `${name} red`, team: red.id });
      assert.deepEqual(await titles(redUser, name), [`${name} red`]);
    }
    // Blue has a membership, and red has one, but no membership is both blue's and red's.
    assert.deepEqual(await titles(blueUser, 'team_docs'), []);
    assert.deepEqual(await titles(blueUser, 'team_docs_aliased'), []);
    // Two aliases are two joins: each condition may hold on its own row.
    assert.deepEqual(await titles(blueUser, 'team_docs_apart'), ['team_docs_apart red']);
  });

  test('view collections: columns read from a collection keep their fields; computed ones are json', async () => {
    const usersId = (await admin.collections.getOne('users')).id;
    await admin.collections.create({
      name: 'authors',
      listRule: '',
      viewRule: '',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'likes', type: 'number' },
        { name: 'who', type: 'relation', collectionId: usersId, maxSelect: 1 },
      ],
    });
    const user = await admin.collection('users').create({ email: 'viewer@example.com', password: 'pass-12345', passwordConfirm: 'pass-12345', name: 'Vi' });
    await admin.collection('authors').create({ title: 'first', likes: 3, who: user.id });
    await admin.collection('authors').create({ title: 'second', likes: 5, who: user.id });
    const view = await admin.collections.create({
      name: 'author_stats',
      type: 'view',
      listRule: '',
      viewRule: '',
      viewQuery:
        "SELECT a.id, a.title AS headline, a.likes, a.who, (SELECT count(*) FROM authors) AS total, upper(a.title) AS shout FROM authors a",
    });
    const types = Object.fromEntries(view.fields.map((f) => [f.name, f.type]));
    assert.deepEqual(types, { id: 'text', headline: 'text', likes: 'number', who: 'relation', total: 'json', shout: 'json' });
    const rows = await guest.collection('author_stats').getFullList({ sort: 'headline', expand: 'who' });
    assert.deepEqual(
      rows.map((r) => [r.headline, r.likes, r.who, r.total, r.shout]),
      [
        ['first', 3, user.id, 2, 'FIRST'],
        ['second', 5, user.id, 2, 'SECOND'],
      ],
    );
    assert.equal(rows[0].expand.who.name, 'Vi');
    assert.equal((await guest.collection('author_stats').getList(1, 10, { filter: 'likes > 4' })).items.length, 1);
  });

  test('@request.body values are those of their fields, a form\'s text cast as the field stores it', async () => {
    await admin.collections.create({
      name: 'orders',
      listRule: '',
      viewRule: '',
      createRule: '@request.body.qty <= 10 && @request.body.qty > 0 && @request.body.gift = false',
      fields: [
        { name: 'qty', type: 'number' },
        { name: 'gift', type: 'bool' },
      ],
    });
    const send = (fields) => {
      const form = new FormData();
      for (const [k, v] of Object.entries(fields)) form.append(k, v);
      return fetch(`${server.url}/api/collections/orders/records`, { method: 'POST', body: form }).then((r) => r.status);
    };
    assert.equal(await send({ qty: '5', gift: 'false' }), 200);
    assert.equal(await send({ qty: '50', gift: 'false' }), 400);
    assert.equal(await send({ qty: '5', gift: 'true' }), 400);
    assert.equal((await guest.collection('orders').create({ qty: 5, gift: false })).qty, 5);
  });

  test(':each and :length read a single select or relation as one value, a json field as its array', async () => {
    await admin.collections.create({
      name: 'shapes',
      listRule: '',
      viewRule: '',
      createRule: '',
      fields: [
        { name: 'kind', type: 'select', values: ['a', 'b'], maxSelect: 1 },
        { name: 'tags', type: 'select', values: ['a', 'b', 'c'], maxSelect: 3 },
        { name: 'meta', type: 'json' },
        { name: 'label', type: 'text' },
      ],
    });
    const one = await guest.collection('shapes').create({ label: 'one', kind: 'a', tags: ['a', 'b'], meta: [1, 2, 3] });
    const two = await guest.collection('shapes').create({ label: 'two', kind: '', tags: [], meta: { x: 1 } });
    // A multipart form's text that is JSON is stored as that JSON, as PocketBase.
    const form = new FormData();
    form.append('label', 'three');
    form.append('kind', 'b');
    form.append('meta', '["p","q"]');
    const three = await (await fetch(`${server.url}/api/collections/shapes/records`, { method: 'POST', body: form })).json();
    assert.deepEqual(three.meta, ['p', 'q']);
    const labels = async (filter) =>
      (await guest.collection('shapes').getFullList({ filter, sort: 'label' })).map((r) => r.label);
    assert.deepEqual(await labels('kind:length = 1'), ['one', 'three']);
    assert.deepEqual(await labels('kind:length = 0'), ['two']);
    assert.deepEqual(await labels("kind:each = 'a'"), ['one']);
    assert.deepEqual(await labels("kind:each ?= 'b'"), ['three']);
    assert.deepEqual(await labels('tags:length = 2'), ['one']);
    assert.deepEqual(await labels('meta:length = 3'), ['one']);
    assert.deepEqual(await labels('meta:length = 0'), ['two']);
    assert.deepEqual(await labels("meta:each ?= 'q'"), ['three']);
    assert.deepEqual(await labels('meta:each ?= 3'), ['one']);
    await assert.rejects(guest.collection('shapes').getFullList({ filter: 'label:length = 3' }), (e) => e.status === 400);
    assert.ok(one.id && two.id);
  });

  test('@request.body.RELATION.field reads the records the body names, as PocketBase', async () => {
    const users = await admin.collections.getOne('users');
    const kanbans = await admin.collections.create({
      name: 'kanbans',
      listRule: '',
      viewRule: '',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'members', type: 'relation', collectionId: users.id, maxSelect: 10 },
        { name: 'open', type: 'bool' },
      ],
    });
    await admin.collections.create({
      name: 'kanban_cards',
      listRule: '',
      viewRule: '',
      // Only a member of the board may add a card to it; several boards only when every one is open.
      createRule: '@request.body.board.members.id ?= @request.auth.id && @request.body.also.open = true',
      fields: [
        { name: 'text', type: 'text' },
        { name: 'board', type: 'relation', collectionId: kanbans.id, maxSelect: 1 },
        { name: 'also', type: 'relation', collectionId: kanbans.id, maxSelect: 5 },
      ],
    });
    const kim = await login('kim@example.com');
    const lee = await login('lee@example.com');
    const board = await admin.collection('kanbans').create({ title: 'b', members: [kim.authStore.record.id], open: true });
    const open = await admin.collection('kanbans').create({ title: 'o', open: true });
    const closed = await admin.collection('kanbans').create({ title: 'c', open: false });
    const card = await kim.collection('kanban_cards').create({ text: 'mine', board: board.id, also: [open.id, board.id] });
    assert.equal(card.board, board.id);
    const refused = (e) => e.status === 400 || e.status === 403;
    await assert.rejects(lee.collection('kanban_cards').create({ text: 'not a member', board: board.id, also: [open.id] }), refused);
    await assert.rejects(kim.collection('kanban_cards').create({ text: 'one closed', board: board.id, also: [open.id, closed.id] }), refused);
    // The rule sees the relation as it will be stored, its modifiers applied.
    await assert.rejects(
      kim.collection('kanban_cards').create({ text: 'closed added', board: board.id, also: [open.id], 'also+': [closed.id] }),
      refused,
    );
    await assert.rejects(kim.collection('kanban_cards').create({ text: 'no board', also: [open.id] }), refused);
    await assert.rejects(kim.collection('kanban_cards').create({ text: 'no such board', board: 'nosuchboard0000', also: [open.id] }), refused);
  });

  test('errors as PocketBase: params, a changed id, a bad ?fields before anything is written, batch items checked first', async () => {
    const tooLong = await guest.collection('posts').create({ title: 'x'.repeat(101) }).catch((e) => e);
    assert.deepEqual(tooLong.response.data.title, {
      code: 'validation_max_text_constraint',
      message: 'Must be no more than 100 character(s).',
      params: { max: 100 },
    });
    const tooMany = await guest.collection('posts').create({ title: 'tm', tags: ['a', 'b', 'c', 'd'] }).catch((e) => e);
    assert.deepEqual(tooMany.response.data.tags.params, { maxSelect: 3 });
    const post = await guest.collection('posts').create({ title: 'keeps its id' });
    const moved = await guest.collection('posts').update(post.id, { id: 'zzzzzzzzzzzzzzz' }).catch((e) => e);
    assert.equal(moved.status, 400);
    assert.equal(moved.response.data.id.code, 'validation_pk_change');
    assert.equal((await guest.collection('posts').update(post.id, { id: post.id, title: 'same id' })).title, 'same id');

    const before = (await guest.collection('posts').getList(1, 1)).totalItems;
    const badFields = await fetch(`${server.url}/api/collections/posts/records?fields=title:excerpt(0)`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'not saved' }),
    });
    assert.equal(badFields.status, 400);
    assert.equal((await guest.collection('posts').getList(1, 1)).totalItems, before);

    const list = (query) => fetch(`${server.url}/api/collections/posts/records?${query}`);
    assert.equal((await (await list('skipTotal=T')).json()).totalItems, -1);
    assert.equal((await (await list('skipTotal=False')).json()).totalItems >= 0, true);
    for (const query of ['skipTotal=abc', 'sort=title,,like_count', 'sort=%20', `sort=${'title,'.repeat(8)}title`]) {
      assert.equal((await list(query)).status, 400, query);
    }
    assert.equal((await list(`sort=${'title,'.repeat(7)}title`)).status, 200);

    const batch = (body) =>
      fetch(`${server.url}/api/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const empty = await batch({ requests: [] });
    assert.equal(empty.status, 400);
    assert.equal((await empty.json()).data.requests.code, 'validation_required');
    const items = await batch({
      requests: [{ method: 'POST', url: '/api/collections/posts/records', body: { title: 'b1' } }, { method: 'post', url: '/x' }, {}],
    });
    assert.equal(items.status, 400);
    const data = (await items.json()).data.requests;
    assert.deepEqual(Object.keys(data).sort(), ['1', '2']);
    assert.equal(data['1'].method.code, 'validation_in_invalid');
    assert.equal(data['2'].url.code, 'validation_required');
    assert.equal((await guest.collection('posts').getList(1, 1, { filter: 'title = "b1"' })).totalItems, 0);
  });

  test('autogeneratePattern makes values of its pattern, ids included', async () => {
    await admin.collections.create({
      name: 'tickets',
      listRule: '',
      viewRule: '',
      createRule: '',
      fields: [
        { name: 'id', type: 'text', primaryKey: true, required: true, min: 10, max: 10, pattern: '^T-[0-9]{8}$', autogeneratePattern: 'T-[0-9]{8}' },
        { name: 'code', type: 'text', pattern: '^[0-9]{6}$', autogeneratePattern: '[0-9]{6}' },
      ],
    });
    for (let i = 0; i < 5; i++) {
      const t = await guest.collection('tickets').create({});
      assert.match(t.id, /^T-[0-9]{8}$/);
      assert.match(t.code, /^[0-9]{6}$/);
    }
    assert.equal((await guest.collection('tickets').create({ code: '123456' })).code, '123456');
  });

  test('a back-relation through a unique single relation expands to one record', async () => {
    const usersId = (await admin.collections.getOne('users')).id;
    await admin.collections.create({
      name: 'profiles',
      listRule: '',
      viewRule: '',
      fields: [
        { name: 'bio', type: 'text' },
        { name: 'owner', type: 'relation', collectionId: usersId, maxSelect: 1 },
      ],
      indexes: ['CREATE UNIQUE INDEX idx_profiles_owner ON profiles (owner)'],
    });
    await admin.collections.create({
      name: 'remarks',
      listRule: '',
      viewRule: '',
      fields: [{ name: 'about', type: 'relation', collectionId: usersId, maxSelect: 1 }],
    });
    const u = await admin.collection('users').create({ email: 'pro@example.com', password: 'pass-12345', passwordConfirm: 'pass-12345' });
    await admin.collection('profiles').create({ bio: 'hello', owner: u.id });
    await admin.collection('remarks').create({ about: u.id });
    const got = await guest.collection('users').getOne(u.id, { expand: 'profiles_via_owner,remarks_via_about' });
    assert.equal(got.expand.profiles_via_owner.bio, 'hello'); // one record, not a list
    assert.ok(Array.isArray(got.expand.remarks_via_about));
  });

  test('sort by a field of the related record', async () => {
    const usersId = (await admin.collections.getOne('users')).id;
    await admin.collections.create({
      name: 'letters',
      listRule: '',
      fields: [
        { name: 'n', type: 'number' },
        { name: 'from', type: 'relation', collectionId: usersId, maxSelect: 1 },
      ],
    });
    const make = (email, name) =>
      admin.collection('users').create({ email, name, password: 'pass-12345', passwordConfirm: 'pass-12345' });
    const [zoe, abe] = [await make('zoe@example.com', 'Zoe'), await make('abe@example.com', 'Abe')];
    await admin.collection('letters').create({ n: 1, from: zoe.id });
    await admin.collection('letters').create({ n: 2, from: abe.id });
    const order = async (sort) => (await guest.collection('letters').getFullList({ sort })).map((r) => r.n);
    assert.deepEqual(await order('from.name'), [2, 1]);
    assert.deepEqual(await order('-from.name,n'), [1, 2]);
    // Hidden or unknown related fields are refused, as in filters.
    assert.equal((await guest.collection('letters').getList(1, 10, { sort: 'from.password' }).catch((e) => e)).status, 400);
    assert.equal((await guest.collection('letters').getList(1, 10, { sort: 'from.nothing' }).catch((e) => e)).status, 400);
  });

  test("clients' filters and sorts never read hidden fields or emails their owners hide", async () => {
    await admin.collections.create({
      name: 'vault',
      listRule: '',
      viewRule: '',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'secret', type: 'text', hidden: true },
      ],
    });
    const rec = await admin.collection('vault').create({ title: 'a', secret: 'abc' });
    for (const options of [{ filter: 'secret ~ "a"' }, { sort: 'secret' }, { filter: 'title = "a" || secret = "x"' }]) {
      assert.equal((await guest.collection('vault').getList(1, 10, options).catch((e) => e)).status, 400, JSON.stringify(options));
    }
    // Rules and superusers still read them.
    assert.deepEqual((await admin.collection('vault').getList(1, 10, { filter: 'secret ~ "a"' })).items.map((i) => i.id), [rec.id]);
    // Nor can clients write them: their values are dropped, as PocketBase (superusers still set them).
    await admin.collections.update('vault', { createRule: '', updateRule: '' });
    const mine = await guest.collection('vault').create({ title: 'b', secret: 'guess', 'secret+': 'x' });
    assert.equal((await admin.collection('vault').getOne(mine.id)).secret, '');
    await guest.collection('vault').update(rec.id, { title: 'a2', secret: 'hacked' });
    const after = await admin.collection('vault').getOne(rec.id);
    assert.deepEqual([after.title, after.secret], ['a2', 'abc']);
    assert.equal((await admin.collection('vault').update(rec.id, { secret: 'set' })).secret, 'set');
    // Auth emails: only where emailVisibility shows them, and never through a cursor.
    const hidden = await admin.collection('users').create({ email: 'hid@example.com', password: 'pass-12345', passwordConfirm: 'pass-12345' });
    const shown = await admin.collection('users').create({
      email: 'shown@example.com',
      emailVisibility: true,
      password: 'pass-12345',
      passwordConfirm: 'pass-12345',
    });
    const byEmail = async (filter) => (await guest.collection('users').getList(1, 50, { filter })).items.map((i) => i.id);
    assert.deepEqual(await byEmail('email = "hid@example.com"'), []);
    assert.deepEqual(await byEmail('email ~ "shown"'), [shown.id]);
    assert.ok((await admin.collection('users').getList(1, 50, { filter: 'email = "hid@example.com"' })).items.some((i) => i.id === hidden.id));
    const cursor = await fetch(`${server.url}/api/collections/users/records?cursor=&sort=email`);
    assert.equal(cursor.status, 400);
    const password = await admin.collection('users').getList(1, 10, { sort: 'password' }).catch((e) => e);
    assert.equal(password.status, 400);
  });

  test("clients' filters read related records only as those records' list rules allow, and never @collection or @request", async () => {
    const locked = await admin.collections.create({ name: 'locked', fields: [{ name: 'title', type: 'text' }] });
    const ruled = await admin.collections.create({ name: 'ruled', listRule: 'title = "pub"', fields: [{ name: 'title', type: 'text' }] });
    await admin.collections.create({
      name: 'linking',
      listRule: '',
      fields: [
        { name: 'name', type: 'text' },
        { name: 'lk', type: 'relation', collectionId: locked.id, maxSelect: 1 },
        { name: 'ru', type: 'relation', collectionId: ruled.id, maxSelect: 5 },
      ],
    });
    const x = await admin.collection('locked').create({ title: 'x' });
    const priv = await admin.collection('ruled').create({ title: 'priv' });
    const pub = await admin.collection('ruled').create({ title: 'pub' });
    const rec = await admin.collection('linking').create({ name: 'r', lk: x.id, ru: [priv.id, pub.id] });
    const status = (options) => guest.collection('linking').getList(1, 10, options).then(() => 200, (e) => e.status);
    const ids = async (filter) => (await guest.collection('linking').getList(1, 10, { filter })).items.map((i) => i.id);
    // A collection only superusers may list cannot be read through a relation, nor sorted by.
    assert.equal(await status({ filter: 'lk.title = "x"' }), 400);
    assert.equal(await status({ sort: 'lk.title' }), 400);
    // A list rule narrows the related records a filter sees: the private one is not there.
    assert.deepEqual(await ids('ru.title ?= "priv"'), []);
    assert.deepEqual(await ids('ru.title ?= "pub"'), [rec.id]);
    // Back-relations too: from the ruled side, only what linking's list rule ("") shows.
    const back = await guest.collection('ruled').getList(1, 10, { filter: 'linking_via_ru.name ?= "r"' });
    assert.deepEqual(back.items.map((i) => i.id), [pub.id]);
    // Superusers read everything.
    assert.equal((await admin.collection('linking').getList(1, 10, { filter: 'lk.title = "x" && ru.title ?= "priv"' })).totalItems, 1);
    // @collection and @request are for superusers' filters and sorts only.
    for (const options of [{ filter: '@collection.locked.title = "x"' }, { filter: '@request.auth.id = ""' }, { sort: '@request.auth.id' }]) {
      assert.equal(await status(options), 403, JSON.stringify(options));
    }
    assert.equal((await admin.collection('linking').getList(1, 10, { filter: '@collection.locked.title = "x"' })).totalItems, 1);
    // A sort through a relation whose rule binds values; a single relation followed by a back-relation.
    await admin.collections.update('linking', {
      fields: [
        ...(await admin.collections.getOne('linking')).fields,
        { name: 'one', type: 'relation', collectionId: ruled.id, maxSelect: 1 },
        { name: 'secret_link', type: 'relation', collectionId: ruled.id, maxSelect: 1, hidden: true },
      ],
    });
    await admin.collection('linking').update(rec.id, { one: pub.id, secret_link: pub.id });
    assert.equal(await status({ sort: 'one.title' }), 200);
    assert.equal((await admin.collection('linking').getList(1, 10, { filter: 'one.linking_via_one.name ?= "r"' })).totalItems, 1);
    // A hidden relation field cannot be read from the other side either.
    assert.equal(await guest.collection('ruled').getList(1, 10, { filter: 'linking_via_secret_link.name ?= "r"' }).then(() => 200, (e) => e.status), 400);
    // Answers that depend on who asks through a related rule are never shared between requesters.
    const users = await admin.collections.getOne('users');
    await admin.collections.create({
      name: 'diaries',
      listRule: 'owner = @request.auth.id',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'owner', type: 'relation', collectionId: users.id, maxSelect: 1 },
      ],
    });
    await admin.collections.update('linking', {
      fields: [...(await admin.collections.getOne('linking')).fields, { name: 'diary', type: 'relation', collectionId: (await admin.collections.getOne('diaries')).id, maxSelect: 1 }],
    });
    const dee = await login('dee@example.com');
    const diary = await admin.collection('diaries').create({ title: 'secret', owner: dee.authStore.record.id });
    await admin.collection('linking').update(rec.id, { diary: diary.id });
    const url = `${server.url}/api/collections/linking/records?filter=${encodeURIComponent('diary.title = "secret"')}`;
    const asDee = await (await fetch(url, { headers: { Authorization: dee.authStore.token } })).json();
    assert.equal(asDee.totalItems, 1);
    assert.equal((await (await fetch(url)).json()).totalItems, 0);
    // perPage of 0 or less is the default, 30.
    const page = await (await fetch(`${server.url}/api/collections/linking/records?perPage=0`)).json();
    assert.equal(page.perPage, 30);
  });

  test("auth records: the authRule decides who signs in once the password is right", async () => {
    await admin.collections.create({ name: 'readers', type: 'auth', authRule: 'verified = true', fields: [] });
    const rec = await admin.collection('readers').create({ email: 'rae@example.com', password: 'pass-12345', passwordConfirm: 'pass-12345' });
    const pb = new PocketBase(server.url);
    const refused = await pb.collection('readers').authWithPassword('rae@example.com', 'pass-12345').catch((e) => e);
    assert.equal(refused.status, 403);
    assert.equal(refused.response.message, "The request doesn't satisfy the collection requirements to authenticate.");
    // A wrong password is still a 400: the rule is looked at only once the password is right.
    assert.equal((await pb.collection('readers').authWithPassword('rae@example.com', 'wrong').catch((e) => e)).status, 400);
    await admin.collection('readers').update(rec.id, { verified: true });
    await pb.collection('readers').authWithPassword('rae@example.com', 'pass-12345');
    await pb.collection('readers').authRefresh();
    // Unverified again: the token can no longer be refreshed. A null rule lets nobody in.
    await admin.collection('readers').update(rec.id, { verified: false });
    assert.equal((await pb.collection('readers').authRefresh().catch((e) => e)).status, 403);
    await admin.collections.update('readers', { authRule: null });
    await admin.collection('readers').update(rec.id, { verified: true });
    assert.equal((await pb.collection('readers').authWithPassword('rae@example.com', 'pass-12345').catch((e) => e)).status, 403);
  });
});
