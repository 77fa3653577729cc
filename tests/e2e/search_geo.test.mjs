// Full-text search (?search=) over searchable fields, and geoDistance filters backed by the R*Tree.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import PocketBase from 'pocketbase';
import { runStrata, startServer } from './helpers.mjs';

// geoDistance's formula, for the expected results.
function distanceKm(lonA, latA, lonB, latB) {
  const r = (d) => (d * Math.PI) / 180;
  const c =
    Math.cos(r(latA)) * Math.cos(r(latB)) * Math.cos(r(lonB) - r(lonA)) + Math.sin(r(latA)) * Math.sin(r(latB));
  return 6371 * Math.acos(Math.max(-1, Math.min(1, c)));
}

describe('search and geo', () => {
  let server;
  let admin;
  let guest;
  let places;
  before(async () => {
    server = await startServer();
    const r = await runStrata(['superuser', 'upsert', 'root@example.com', 'root-password-1', '--dir', server.dir]);
    assert.equal(r.code, 0, r.stderr);
    admin = new PocketBase(server.url);
    await admin.collection('_superusers').authWithPassword('root@example.com', 'root-password-1');
    guest = new PocketBase(server.url);
    places = await admin.collections.create({
      name: 'places',
      listRule: '',
      viewRule: '',
      createRule: '',
      updateRule: '',
      deleteRule: '',
      fields: [
        { name: 'name', type: 'text', searchable: true },
        { name: 'notes', type: 'editor', searchable: true },
        { name: 'kind', type: 'text' },
        { name: 'location', type: 'geoPoint' },
      ],
    });
  });
  after(async () => {
    await server?.stop();
  });

  test('search ranks by relevance, matches prefixes and combines with filters', async () => {
    const c = guest.collection('places');
    await c.create({ name: 'Blue Bottle Coffee', notes: '<p>Coffee, coffee and more coffee</p>', kind: 'cafe' });
    await c.create({ name: 'Tea House', notes: '<p>Also sells a coffee</p>', kind: 'cafe' });
    await c.create({ name: 'Book Shop', notes: '<p>Books and maps</p>', kind: 'shop' });
    await c.create({ name: 'Café Crème', notes: 'Crêpes', kind: 'cafe' });

    const coffee = await c.getList(1, 10, { search: 'coffee' });
    assert.deepEqual(
      coffee.items.map((p) => p.name),
      ['Blue Bottle Coffee', 'Tea House'],
    );
    assert.equal(coffee.totalItems, 2);
    // All words are required; the last one is also a prefix.
    assert.deepEqual((await c.getList(1, 10, { search: 'coffee hou' })).items.map((p) => p.name), ['Tea House']);
    // Diacritics do not matter.
    assert.deepEqual((await c.getList(1, 10, { search: 'cafe creme' })).items.map((p) => p.name), ['Café Crème']);
    // With a filter and a sort.
    const sorted = await c.getList(1, 10, { search: 'coffee', filter: "kind = 'cafe'", sort: 'name' });
    assert.deepEqual(sorted.items.map((p) => p.name), ['Blue Bottle Coffee', 'Tea House']);
    const none = await c.getList(1, 10, { search: 'coffee', filter: "kind = 'shop'" });
    assert.equal(none.totalItems, 0);
    // Search syntax in the input is taken as words, never as FTS5 operators.
    const odd = await c.getList(1, 10, { search: '"coffee" OR NOT* (tea' });
    assert.equal(odd.totalItems, 0);
    assert.equal((await c.getList(1, 10, { search: 'NEAR(coffee' })).totalItems, 0);
    // Punctuation only: no search at all.
    assert.equal((await c.getList(1, 10, { search: '*** "' })).totalItems, 4);
  });

  test('the index follows updates, deletes and schema changes', async () => {
    const c = guest.collection('places');
    const p = await c.create({ name: 'Old Mill', notes: 'flour' });
    assert.equal((await c.getList(1, 10, { search: 'mill' })).totalItems, 1);
    await c.update(p.id, { name: 'New Bakery' });
    assert.equal((await c.getList(1, 10, { search: 'mill' })).totalItems, 0);
    assert.equal((await c.getList(1, 10, { search: 'bakery' })).totalItems, 1);

    // Rename the field and make `kind` searchable: the index is rebuilt from the rows.
    const fields = places.fields.map((f) => {
      if (f.name === 'name') return { ...f, name: 'title' };
      if (f.name === 'kind') return { ...f, searchable: true };
      return f;
    });
    places = await admin.collections.update('places', { fields });
    const found = await c.getList(1, 10, { search: 'bakery' });
    assert.equal(found.items[0].title, 'New Bakery');
    assert.equal((await c.getList(1, 10, { search: 'shop' })).totalItems, 1);
    await c.delete(p.id);
    assert.equal((await c.getList(1, 10, { search: 'bakery' })).totalItems, 0);
  });

  test('fields picks keys and excerpts text', async () => {
    const c = guest.collection('places');
    const p = await c.create({ title: 'Excerpted', notes: '<p>Hello <b>world</b>, this is a long note</p>' });
    const got = await c.getOne(p.id, { fields: 'id,notes:excerpt(16,true)' });
    assert.deepEqual(got, { id: p.id, notes: 'Hello world, thi...' });
    const list = await c.getList(1, 1, { filter: `id = '${p.id}'`, fields: '*,notes:excerpt(5)' });
    assert.equal(list.items[0].notes, 'Hello');
    assert.equal(list.items[0].title, 'Excerpted');
    assert.equal(list.totalItems, 1);
    const bad = await c.getOne(p.id, { fields: 'notes:excerpt()' }).catch((e) => e);
    assert.equal(bad.status, 400);
    await c.delete(p.id);
  });

  test('search errors are 400s', async () => {
    const err = await admin.collection('_superusers').getList(1, 10, { search: 'x' }).catch((e) => e);
    assert.equal(err.status, 400);
    assert.match(err.response.message, /no searchable fields/);
    const bad = await admin.collections
      .create({ name: 'bad', fields: [{ name: 'n', type: 'number', searchable: true }] })
      .catch((e) => e);
    assert.equal(bad.status, 400);
    assert.equal(bad.response.data.fields['1'].searchable.code, 'validation_invalid_value');
  });

  test('geoDistance filters return exactly the points within range', async () => {
    const geo = await admin.collections.create({
      name: 'spots',
      listRule: '',
      createRule: '',
      updateRule: '',
      fields: [
        { name: 'label', type: 'text' },
        { name: 'location', type: 'geoPoint' },
      ],
    });
    assert.ok(geo.id);
    const c = guest.collection('spots');
    // A grid around Berlin, plus points far away and on the edges of the world.
    const points = [];
    for (let i = 0; i < 15; i++) {
      for (let j = 0; j < 15; j++) points.push({ lon: 13.0 + i * 0.06, lat: 52.2 + j * 0.04 });
    }
    points.push({ lon: -74.0, lat: 40.7 }, { lon: 179.9, lat: 0 }, { lon: -179.9, lat: 0 }, { lon: 0, lat: 89.9 });
    for (let start = 0; start < points.length; start += 50) {
      const batch = admin.createBatch();
      points
        .slice(start, start + 50)
        .forEach((location, i) => batch.collection('spots').create({ label: `p${start + i}`, location }));
      await batch.send();
    }

    for (const [lon, lat, km] of [
      [13.4, 52.52, 5],
      [13.4, 52.52, 12.5],
      [13.0, 52.2, 3],
      [179.95, 0, 20],
      [10, 89.95, 50],
    ]) {
      const expected = points
        .map((p, i) => ({ i, d: distanceKm(p.lon, p.lat, lon, lat) }))
        .filter((x) => x.d < km)
        .map((x) => `p${x.i}`)
        .sort();
      const got = await c.getFullList({ filter: `geoDistance(location.lon, location.lat, ${lon}, ${lat}) < ${km}` });
      assert.deepEqual(got.map((r) => r.label).sort(), expected, `within ${km} km of ${lon},${lat}`);
      const swapped = await c.getFullList({ filter: `geoDistance(${lon}, ${lat}, location.lon, location.lat) <= ${km}` });
      assert.equal(swapped.length, expected.length);
    }
    // Moving a point moves it in the index.
    const [first] = await c.getFullList({ filter: "label = 'p0'" });
    await c.update(first.id, { location: { lon: 13.4, lat: 52.52 } });
    const near = await c.getFullList({ filter: 'geoDistance(location.lon, location.lat, 13.4, 52.52) < 0.1' });
    assert.ok(near.map((r) => r.label).includes('p0'));
  });
});
