// Files: uploads through the pocketbase SDK, serving with thumbnails, ranges and validators,
// protected files with file tokens, BlurHash of images, and bad uploads that leave nothing behind.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { decode as decodeBlurHash } from 'blurhash';
import jpeg from 'jpeg-js';
import { RawConnection, sleep, startWithAdmin } from './helpers.mjs';

// A w x h JPEG whose left half is red and right half blue.
function twoColourJpeg(w, h) {
  const data = Buffer.alloc(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 4;
      const left = x < w / 2;
      data[i] = left ? 220 : 20;
      data[i + 1] = 20;
      data[i + 2] = left ? 20 : 220;
      data[i + 3] = 255;
    }
  }
  return Buffer.from(jpeg.encode({ data, width: w, height: h }, 90).data);
}

// A PNG that declares w x h pixels (its pixel data is a stub: only the header is ever read).
function declaredPng(w, h) {
  const chunk = (type, body) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    const typed = Buffer.concat([Buffer.from(type), body]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(typed) >>> 0);
    return Buffer.concat([len, typed, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(64))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// Every stored file under the storage folder (partial uploads excluded).
function storedFiles(dir) {
  const out = [];
  const walk = (d) => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d)) {
      if (e === '.partial') continue;
      const p = path.join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

async function eventually(check, what) {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await sleep(20);
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('files', () => {
  let server;
  let admin;
  let users;
  let photos;
  let storage;
  const red = twoColourJpeg(64, 48);

  before(async () => {
    ({ server, admin, users } = await startWithAdmin({ users: ['ann', 'bob'], usersCollection: { viewRule: '' } }));
    storage = path.join(server.dir, 'storage');
    // More uploads than the default per-user upload limit allows in a minute.
    await admin.settings.update({ rateLimits: { enabled: false } });
    photos = await admin.collections.create({
      name: 'photos',
      listRule: '',
      viewRule: '',
      createRule: '',
      updateRule: '',
      deleteRule: '',
      fields: [
        { name: 'title', type: 'text' },
        {
          name: 'image',
          type: 'file',
          maxSelect: 1,
          maxSize: 300000,
          mimeTypes: ['image/jpeg', 'image/png'],
          thumbs: ['50x50', '40x0', '0x30', '60x20t', '60x20f'],
        },
        { name: 'docs', type: 'file', maxSelect: 3, maxSize: 2000 },
      ],
    });
    await admin.collections.create({
      name: 'private_docs',
      listRule: 'owner = @request.auth.id',
      viewRule: 'owner = @request.auth.id',
      createRule: '@request.auth.id != ""',
      fields: [
        { name: 'owner', type: 'relation', collectionId: (await admin.collections.getOne('users')).id, maxSelect: 1 },
        { name: 'secret', type: 'file', maxSelect: 1, protected: true },
      ],
    });
  });
  after(async () => {
    await server?.stop();
  });

  const fileUrl = (record, name, query = '') =>
    `${server.url}/api/files/${record.collectionId}/${record.id}/${name}${query}`;

  test('an upload is stored under a sanitized name and served with its type and validators', async () => {
    const form = new FormData();
    form.append('title', 'sunset');
    form.append('image', new Blob([red], { type: 'image/jpeg' }), 'My Sunset (1).jpg');
    const rec = await users.ann.collection('photos').create(form);
    assert.match(rec.image, /^my_sunset_1_[a-z0-9]{10}\.jpg$/);

    const res = await fetch(fileUrl(rec, rec.image));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/jpeg');
    assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(res.headers.get('content-disposition'), `inline; filename="${rec.image}"`);
    assert.equal(res.headers.get('accept-ranges'), 'bytes');
    assert.ok(res.headers.get('last-modified'));
    const etag = res.headers.get('etag');
    assert.match(etag, /^"[0-9a-f]+-[0-9a-f]+"$/);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), red);
    assert.equal(existsSync(path.join(storage, rec.collectionId, rec.id, rec.image)), true);

    const head = await fetch(fileUrl(rec, rec.image), { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(red.length));
    assert.equal((await head.arrayBuffer()).byteLength, 0);

    const download = await fetch(fileUrl(rec, rec.image, '?download=1'));
    assert.equal(download.headers.get('content-disposition'), `attachment; filename="${rec.image}"`);

    assert.equal((await fetch(fileUrl(rec, rec.image), { headers: { 'If-None-Match': etag } })).status, 304);
    const since = res.headers.get('last-modified');
    assert.equal((await fetch(fileUrl(rec, rec.image), { headers: { 'If-Modified-Since': since } })).status, 304);

    const part = await fetch(fileUrl(rec, rec.image), { headers: { Range: 'bytes=10-109' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 10-109/${red.length}`);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), red.subarray(10, 110));
    const tail = await fetch(fileUrl(rec, rec.image), { headers: { Range: 'bytes=-5' } });
    assert.deepEqual(Buffer.from(await tail.arrayBuffer()), red.subarray(red.length - 5));
    const stale = await fetch(fileUrl(rec, rec.image), { headers: { Range: 'bytes=0-9', 'If-Range': '"other"' } });
    assert.equal(stale.status, 200);
    await stale.arrayBuffer();
    const past = await fetch(fileUrl(rec, rec.image), { headers: { Range: `bytes=${red.length}-` } });
    assert.equal(past.status, 416);
    assert.equal(past.headers.get('content-range'), `bytes */${red.length}`);
    await past.arrayBuffer();

    assert.equal((await fetch(fileUrl(rec, 'nope_0123456789.jpg'))).status, 404);
    assert.equal((await fetch(`${server.url}/api/files/${rec.collectionId}/${rec.id}/..%2F..%2Fdata.db`)).status, 404);
  });

  test('a BlurHash comes with the record and looks like the image', async () => {
    const rec = await users.ann.collection('photos').create({ image: new File([red], 'halves.jpg') });
    const hash = rec['@blurhash']?.[rec.image];
    assert.ok(hash, JSON.stringify(rec));
    const listed = await admin.collection('photos').getFullList({ filter: `id = "${rec.id}"` });
    assert.equal(listed[0]['@blurhash'][rec.image], hash);
    const px = decodeBlurHash(hash, 32, 24);
    const at = (x, y) => Array.from(px.subarray((y * 32 + x) * 4, (y * 32 + x) * 4 + 3));
    const [lr, , lb] = at(4, 12);
    const [rr, , rb] = at(27, 12);
    assert.ok(lr > lb + 60, `left is red: ${at(4, 12)}`);
    assert.ok(rb > rr + 60, `right is blue: ${at(27, 12)}`);
  });

  test('thumbnails of the listed sizes are made once and kept; other sizes get the original', async () => {
    const rec = await users.ann.collection('photos').create({ image: new File([twoColourJpeg(120, 80)], 'big.jpg') });
    const size = async (thumb) => {
      const res = await fetch(fileUrl(rec, rec.image, `?thumb=${thumb}`));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'image/jpeg');
      const img = jpeg.decode(Buffer.from(await res.arrayBuffer()));
      return [img.width, img.height];
    };
    assert.deepEqual(await size('50x50'), [50, 50]);
    assert.deepEqual(await size('40x0'), [40, 27]);
    assert.deepEqual(await size('0x30'), [45, 30]);
    assert.deepEqual(await size('60x20t'), [60, 20]);
    assert.deepEqual(await size('60x20f'), [30, 20]);
    assert.deepEqual(await size('100x100'), [100, 100]);
    assert.deepEqual(await size('70x70'), [120, 80]); // not listed
    const kept = path.join(storage, rec.collectionId, rec.id, `thumbs_${rec.image}`, `50x50_${rec.image}`);
    assert.equal(existsSync(kept), true);
    const before = statSync(kept).mtimeMs;
    const again = await fetch(fileUrl(rec, rec.image, '?thumb=50x50'));
    await again.arrayBuffer();
    assert.equal(statSync(kept).mtimeMs, before);
  });

  test('field+ adds files, field- removes them, and a replaced file is removed after the commit', async () => {
    const text = (s) => new File([s], `${s}.txt`, { type: 'text/plain' });
    const rec = await users.ann.collection('photos').create({ docs: [text('one'), text('two')] });
    assert.equal(rec.docs.length, 2);
    const added = await users.ann.collection('photos').update(rec.id, { 'docs+': text('three') });
    assert.equal(added.docs.length, 3);
    assert.deepEqual(added.docs.slice(0, 2), rec.docs);
    const gone = rec.docs[0];
    const removed = await users.ann.collection('photos').update(rec.id, { 'docs-': [gone] });
    assert.deepEqual(removed.docs, added.docs.slice(1));
    assert.equal((await fetch(fileUrl(rec, gone))).status, 404);
    await eventually(() => !existsSync(path.join(storage, rec.collectionId, rec.id, gone)), 'the removed file');

    const withImage = await users.ann.collection('photos').update(rec.id, { image: new File([red], 'a.jpg') });
    const first = withImage.image;
    await (await fetch(fileUrl(rec, first, '?thumb=50x50'))).arrayBuffer();
    const replaced = await users.ann.collection('photos').update(rec.id, { image: new File([red], 'b.jpg') });
    assert.notEqual(replaced.image, first);
    assert.equal((await fetch(fileUrl(rec, replaced.image))).status, 200);
    assert.equal((await fetch(fileUrl(rec, first))).status, 404);
    await eventually(
      () =>
        !existsSync(path.join(storage, rec.collectionId, rec.id, first)) &&
        !existsSync(path.join(storage, rec.collectionId, rec.id, `thumbs_${first}`)),
      'the replaced file and its thumbnails',
    );

    // Names that are not the record's own are dropped.
    const kept = await users.ann.collection('photos').update(rec.id, { docs: [...replaced.docs, 'elsewhere.txt'] });
    assert.deepEqual(kept.docs, replaced.docs);

    await users.ann.collection('photos').delete(rec.id);
    await eventually(() => !existsSync(path.join(storage, rec.collectionId, rec.id)), "the deleted record's folder");
  });

  test('bad uploads are refused with the field error and leave nothing behind', async () => {
    const before = storedFiles(storage);
    const refuse = async (data, field, code) => {
      await assert.rejects(users.ann.collection('photos').create(data), (e) => {
        assert.equal(e.status, 400, JSON.stringify(e.response));
        assert.equal(e.response.data[field]?.code, code, JSON.stringify(e.response));
        return true;
      });
    };
    // The type comes from the content, not from the name or the claimed type.
    await refuse({ image: new File(['just text'], 'photo.jpg', { type: 'image/jpeg' }) }, 'image', 'validation_invalid_mime_type');
    // A file over its field's maxSize: 413 as soon as the part crosses it, with the field's error.
    await assert.rejects(users.ann.collection('photos').create({ docs: new File(['x'.repeat(2001)], 'long.txt') }), (e) => {
      assert.equal(e.status, 413);
      assert.equal(e.response.data.docs.code, 'validation_file_size_limit');
      return true;
    });
    await refuse({ image: new File([declaredPng(100000, 100000)], 'bomb.png') }, 'image', 'validation_invalid_image');
    await refuse({ title: 'x'.repeat(6000), image: new File([red], 'ok.jpg') }, 'title', 'validation_max_text_constraint');
    await refuse({ nosuch: new File([red], 'ok.jpg') }, 'nosuch', 'validation_invalid_file');
    assert.deepEqual(storedFiles(storage), before);
  });

  test('a batch carries files under requests.N.field, each checked against its own field, all or nothing', async () => {
    const text = (s) => new File([s], `${s}.txt`, { type: 'text/plain' });
    const batch = users.ann.createBatch();
    batch.collection('photos').create({ title: 'with image', image: new File([red], 'batch.jpg') });
    batch.collection('photos').create({ title: 'with docs', docs: [text('b1'), text('b2')] });
    const [a, b] = await batch.send();
    assert.equal(a.status, 200);
    assert.match(a.body.image, /^batch_[a-z0-9]{10}\.jpg$/);
    const served = await fetch(fileUrl(a.body, a.body.image));
    assert.equal(served.status, 200);
    assert.deepEqual(Buffer.from(await served.arrayBuffer()), Buffer.from(red));
    assert.equal(b.body.docs.length, 2);
    assert.equal(b.body.title, 'with docs');

    const more = users.ann.createBatch();
    more.collection('photos').update(b.body.id, { 'docs+': text('b3') });
    const [updated] = await more.send();
    assert.deepEqual(updated.body.docs.slice(0, 2), b.body.docs);
    assert.equal(updated.body.docs.length, 3);

    // A file too large for its own field fails the whole batch, and nothing of it is kept.
    const before = storedFiles(storage);
    const failing = users.ann.createBatch();
    failing.collection('photos').create({ title: 'fine', image: new File([red], 'fine.jpg') });
    failing.collection('photos').create({ docs: new File(['x'.repeat(2001)], 'long.txt') });
    await assert.rejects(failing.send(), (e) => {
      assert.equal(e.status, 400, JSON.stringify(e.response));
      assert.equal(e.response.data.requests['1'].response.data.docs.code, 'validation_file_size_limit');
      return true;
    });
    await eventually(() => JSON.stringify(storedFiles(storage)) === JSON.stringify(before), "the failed batch's files");
    assert.equal((await admin.collection('photos').getList(1, 1, { filter: 'title = "fine"' })).totalItems, 0);
  });

  test('a body over the limit is refused with 413 before it is read, a truncated one with 400', async () => {
    const before = storedFiles(storage);
    // Declares 50 MB and sends none of it: the answer comes at once.
    const conn = new RawConnection(server.port);
    conn.write(
      'POST /api/collections/photos/records HTTP/1.1\r\nHost: x\r\n' +
        'Content-Type: multipart/form-data; boundary=B\r\nContent-Length: 52428800\r\n\r\n',
    );
    const res = await conn.readResponse();
    assert.equal(res.status, 413);
    assert.equal(JSON.parse(res.body).status, 413);
    conn.close();

    // Within the body limit, but the file crosses its field's maxSize: answered while the rest
    // of the body is still to come.
    const streaming = new RawConnection(server.port);
    streaming.write(
      'POST /api/collections/photos/records HTTP/1.1\r\nHost: x\r\n' +
        'Content-Type: multipart/form-data; boundary=B\r\nContent-Length: 1300000\r\n\r\n' +
        '--B\r\nContent-Disposition: form-data; name="image"; filename="big.jpg"\r\n\r\n',
    );
    streaming.write(Buffer.alloc(400000, 7));
    const early = await streaming.readResponse();
    assert.equal(early.status, 413);
    assert.equal(JSON.parse(early.body).data.image.code, 'validation_file_size_limit');
    streaming.close();

    const big = await fetch(`${server.url}/api/collections/photos/records`, {
      method: 'POST',
      body: (() => {
        const f = new FormData();
        f.append('image', new Blob([Buffer.alloc(3 << 20, 1)]), 'huge.jpg');
        return f;
      })(),
    });
    assert.equal(big.status, 413);
    await big.arrayBuffer();

    const truncated =
      '--B\r\nContent-Disposition: form-data; name="title"\r\n\r\nhello\r\n' +
      '--B\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n' +
      red.subarray(0, 200).toString('latin1');
    const cut = await fetch(`${server.url}/api/collections/photos/records`, {
      method: 'POST',
      headers: { 'Content-Type': 'multipart/form-data; boundary=B' },
      body: Buffer.from(truncated, 'latin1'),
    });
    assert.equal(cut.status, 400);
    assert.match((await cut.json()).message, /multipart/);
    assert.deepEqual(storedFiles(storage), before);
  });

  test('a multipart body of too many parts is 413, one of endless padding 400', async () => {
    const post = (body) =>
      fetch(`${server.url}/api/collections/photos/records`, {
        method: 'POST',
        headers: { 'Content-Type': 'multipart/form-data; boundary=B' },
        body,
      });
    const many = '--B\r\nContent-Disposition: form-data; name="title"\r\n\r\nx\r\n'.repeat(1001) + '--B--\r\n';
    const crowded = await post(many);
    assert.equal(crowded.status, 413);
    assert.equal((await crowded.json()).status, 413);
    const padded = await post(`--B${' '.repeat(1000)}\r\nContent-Disposition: form-data; name="title"\r\n\r\nx\r\n--B--`);
    assert.equal(padded.status, 400);
    assert.match((await padded.json()).message, /multipart/);
  });

  test('a record id or file name that cannot name a stored file is 404 with a JSON error', async () => {
    const rec = await users.ann.collection('photos').create({ docs: [new File(['hello'], 'note.txt')] });
    const name = rec.docs[0];
    const base = `${server.url}/api/files/${rec.collectionId}`;
    assert.equal((await fetch(`${base}/${rec.id}/${name}`)).status, 200);
    const isNotFound = async (res, what) => {
      assert.equal(res.status, 404, what);
      assert.match(res.headers.get('content-type'), /^application\/json/, what);
      const body = await res.json();
      assert.equal(body.status, 404, what);
      assert.equal(typeof body.message, 'string', what);
      assert.deepEqual(body.data, {}, what);
    };
    const ids = ['.hidden', `${rec.id}%00`, `${rec.id}%5C`, '%FF%FE', `${rec.id}%2F..`, `..%2F${rec.id}`, 'x'.repeat(1100)];
    const names = [`${name}%00`, `a%5C..%5C${name}`, `..%2F${rec.id}%2F${name}`, '.env', `${name}%2F`, 'n%C3%A4me.txt'];
    for (const query of ['', '?thumb=100x100', '?download=1']) {
      for (const id of ids) await isNotFound(await fetch(`${base}/${id}/${name}${query}`), `${id}${query}`);
      for (const file of names) await isNotFound(await fetch(`${base}/${rec.id}/${file}${query}`), `${file}${query}`);
    }
    // Dot segments as sent, which URL libraries would resolve away.
    for (const target of [`/api/files/${rec.collectionId}/../${name}`, `/api/files/${rec.collectionId}/${rec.id}/..`]) {
      const conn = new RawConnection(server.port);
      conn.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      const res = await conn.readResponse();
      conn.close();
      assert.equal(res.status, 404, target);
      assert.equal(JSON.parse(res.body).status, 404, target);
    }
  });

  test('If-Range with a date gives the range only when it is exactly the Last-Modified', async () => {
    const rec = await users.ann.collection('photos').create({ docs: [new File(['0123456789abcdef'], 'range.txt')] });
    const url = fileUrl(rec, rec.docs[0]);
    const full = await fetch(url);
    const lastModified = full.headers.get('last-modified');
    const etag = full.headers.get('etag');
    await full.arrayBuffer();
    const ranged = async (ifRange) => {
      const res = await fetch(url, { headers: { Range: 'bytes=2-5', 'If-Range': ifRange } });
      return { status: res.status, body: await res.text() };
    };
    assert.deepEqual(await ranged(lastModified), { status: 206, body: '2345' });
    assert.deepEqual(await ranged(etag), { status: 206, body: '2345' });
    const at = Date.parse(lastModified);
    for (const other of [at + 1000, at + 86400000, at - 1000]) {
      assert.deepEqual(await ranged(new Date(other).toUTCString()), { status: 200, body: '0123456789abcdef' }, String(other));
    }
    assert.deepEqual(await ranged(`W/${etag}`), { status: 200, body: '0123456789abcdef' });
  });

  test("a deleted collection's files are removed", async () => {
    const c = await admin.collections.create({
      name: 'scratch',
      createRule: '',
      fields: [{ name: 'f', type: 'file', maxSelect: 1 }],
    });
    const rec = await users.ann.collection('scratch').create({ f: new File(['scratch'], 's.txt') });
    assert.equal(existsSync(path.join(storage, c.id, rec.id, rec.f)), true);
    await admin.collections.delete('scratch');
    await eventually(() => !existsSync(path.join(storage, c.id)), "the collection's folder");
  });

  test('protected files need a file token whose holder may view the record', async () => {
    const annId = users.ann.authStore.record.id;
    const rec = await users.ann
      .collection('private_docs')
      .create({ owner: annId, secret: new File(['top secret'], 'plan.txt', { type: 'text/plain' }) });
    const url = (token) => fileUrl(rec, rec.secret, token ? `?token=${token}` : '');
    assert.equal((await fetch(url())).status, 403);
    const annToken = await users.ann.files.getToken();
    const ok = await fetch(url(annToken));
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('cache-control'), 'private, no-store');
    assert.equal(await ok.text(), 'top secret');
    assert.equal(users.ann.files.getURL(rec, rec.secret, { token: annToken }), url(annToken));
    assert.equal((await fetch(url(await users.bob.files.getToken()))).status, 403);
    assert.equal((await fetch(url(await admin.files.getToken()))).status, 200);
    // An auth token is not a file token.
    assert.equal((await fetch(url(users.ann.authStore.token))).status, 403);
    const anon = await fetch(`${server.url}/api/files/token`, { method: 'POST' });
    assert.equal(anon.status, 401);
  });
});
