// The HTTP core end to end: the real binary over real sockets.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { RawConnection, sleep, startServer } from './helpers.mjs';

describe('strata serve', () => {
  let server;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server?.stop();
  });

  test('creates its SQLite database in --dir', () => {
    assert.ok(existsSync(path.join(server.dir, 'data.db')));
  });

  test('GET /api/health answers in PocketBase shape with the usual headers', async () => {
    const res = await fetch(`${server.url}/api/health`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { message: 'API is healthy.', code: 200, data: {} });
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.match(res.headers.get('x-request-id'), /^[a-z0-9]{20}$/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('x-frame-options'), 'SAMEORIGIN');
    assert.equal(res.headers.get('referrer-policy'), 'strict-origin-when-cross-origin');
    assert.equal(res.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'");
  });

  test('HEAD /api/health has the headers and no body', async () => {
    const res = await fetch(`${server.url}/api/health`, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), '50');
    assert.equal(await res.text(), '');
  });

  test('a well-formed client X-Request-Id is echoed, a bad one replaced', async () => {
    let res = await fetch(`${server.url}/api/health`, { headers: { 'X-Request-Id': 'trace-42.abc' } });
    assert.equal(res.headers.get('x-request-id'), 'trace-42.abc');
    res = await fetch(`${server.url}/api/health`, { headers: { 'X-Request-Id': 'x'.repeat(300) } });
    assert.match(res.headers.get('x-request-id'), /^[a-z0-9]{20}$/);
  });

  test('unknown route → 404 in PocketBase error shape', async () => {
    const res = await fetch(`${server.url}/api/nothing/here`);
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), { data: {}, message: "The requested resource wasn't found.", status: 404 });
  });

  test('wrong method → 405 with Allow', async () => {
    const res = await fetch(`${server.url}/api/health`, { method: 'DELETE' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET, HEAD');
    assert.deepEqual(await res.json(), { data: {}, message: 'Method not allowed.', status: 405 });
  });

  test('keep-alive with pipelined requests answered in order', async () => {
    const c = new RawConnection(server.port);
    await c.ready;
    const ids = Array.from({ length: 10 }, (_, i) => `pipe-${i}`);
    c.write(
      ids
        .map((id, i) => `GET ${i % 2 ? '/api/health' : '/metrics'} HTTP/1.1\r\nHost: x\r\nX-Request-Id: ${id}\r\n\r\n`)
        .join(''),
    );
    for (const [i, id] of ids.entries()) {
      const r = await c.readResponse();
      assert.ok(r, `response ${i}`);
      assert.equal(r.headers['x-request-id'], id);
      assert.equal(r.status, 200);
      if (i % 2) assert.equal(r.body, '{"message":"API is healthy.","code":200,"data":{}}');
      else assert.match(r.body, /^# HELP/);
    }
    assert.equal(c.closed, false);
    c.close();
  });

  test('header block over 16 KiB → 431 and the connection closes', async () => {
    const c = new RawConnection(server.port);
    await c.ready;
    c.write(`GET /api/health HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(17 * 1024)}\r\n\r\n`);
    const r = await c.readResponse();
    assert.equal(r.status, 431);
    assert.equal(JSON.parse(r.body).status, 431);
    assert.ok(await c.waitClosed());
  });

  test('a header block just under 16 KiB is accepted', async () => {
    const res = await fetch(`${server.url}/api/health`, { headers: { 'X-Pad': 'a'.repeat(15 * 1024) } });
    assert.equal(res.status, 200);
  });

  test('body over the 1 MiB JSON limit → 413 without reading the rest', async () => {
    const c = new RawConnection(server.port);
    await c.ready;
    // Only the header is sent: the answer cannot depend on reading the 5 MiB body.
    c.write('POST /api/health HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5242880\r\n\r\n');
    const r = await c.readResponse({ timeoutMs: 2000 });
    assert.ok(r, 'answered before the body was sent');
    assert.equal(r.status, 413);
    assert.deepEqual(JSON.parse(r.body), { data: {}, message: 'Request entity too large.', status: 413 });
    assert.ok(await c.waitClosed());
  });

  test('malformed request line → 400 JSON', async () => {
    const c = new RawConnection(server.port);
    await c.ready;
    c.write('GARBAGE\r\n\r\n');
    const r = await c.readResponse();
    assert.equal(r.status, 400);
    assert.equal(JSON.parse(r.body).status, 400);
  });

  test('gzip for bodies of 1 KiB or more when accepted, never below', async () => {
    const c = new RawConnection(server.port);
    await c.ready;
    c.write('GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n');
    // Read the raw bytes: the body is binary.
    await c.waitFor(() => c.buffer.indexOf('\r\n\r\n') > 0, 5000);
    const end = c.buffer.indexOf('\r\n\r\n');
    const head = c.buffer.subarray(0, end).toString();
    const length = Number(head.match(/content-length: (\d+)/i)[1]);
    await c.waitFor(() => c.buffer.length >= end + 4 + length, 5000);
    assert.match(head, /content-encoding: gzip/i);
    assert.match(head, /vary: Accept-Encoding/i);
    const text = gunzipSync(c.buffer.subarray(end + 4, end + 4 + length)).toString();
    assert.match(text, /# TYPE strata_http_requests_total counter/);
    c.close();

    const small = await fetch(`${server.url}/api/health`, { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(small.headers.get('content-encoding'), null);
  });

  test('CORS: any origin by default, preflight answered', async () => {
    const res = await fetch(`${server.url}/api/health`, { headers: { Origin: 'https://app.example' } });
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    const pre = await fetch(`${server.url}/api/collections/posts/records`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://app.example',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization,content-type',
      },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), '*');
    assert.match(pre.headers.get('access-control-allow-methods'), /PATCH/);
    assert.equal(pre.headers.get('access-control-allow-headers'), 'authorization,content-type');
  });

  test('GET /metrics exposes requests, latency, in-flight, connections and memory', async () => {
    await fetch(`${server.url}/api/health`);
    await fetch(`${server.url}/no-such-route`);
    const text = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(text, /^strata_http_requests_total\{route="\/api\/health",method="GET",status="200"\} \d+$/m);
    assert.match(text, /^strata_http_requests_total\{route="unmatched",method="GET",status="404"\} \d+$/m);
    assert.match(text, /^strata_http_request_duration_seconds_bucket\{route="\/api\/health",le="0\.005"\} \d+$/m);
    assert.match(text, /^strata_http_request_duration_seconds_count\{route="\/api\/health"\} \d+$/m);
    assert.match(text, /^strata_http_requests_in_flight 1$/m); // this very request
    assert.match(text, /^strata_http_connections_open \d+$/m);
    const rss = Number(text.match(/^process_resident_memory_bytes (\d+)$/m)[1]);
    assert.ok(rss > 1e6 && rss < 1e9, `rss ${rss}`);
  });

  test('one JSON access-log line per request on stdout', async () => {
    const before = server.stdout.length;
    await fetch(`${server.url}/api/health?token=secret`, { headers: { 'X-Request-Id': 'log-check-1' } });
    await sleep(500); // the log is flushed by each I/O thread within 200 ms
    const lines = server.stdout.slice(before).map((l) => JSON.parse(l));
    const line = lines.find((l) => l.request_id === 'log-check-1');
    assert.ok(line, JSON.stringify(lines));
    assert.equal(line.method, 'GET');
    assert.equal(line.route, '/api/health');
    assert.equal(line.path, '/api/health');
    assert.equal(line.status, 200);
    assert.equal(line.bytes, 50);
    assert.equal(line.remote, '127.0.0.1');
    assert.ok(Number.isInteger(line.duration_us) && line.duration_us >= 0);
    assert.ok(!Number.isNaN(Date.parse(line.time)));
    assert.ok(!JSON.stringify(line).includes('secret'), 'query strings are not logged');
  });
});

describe('limits and options', () => {
  test('the header must arrive within 10 s, and an idle keep-alive connection closes', async () => {
    const server = await startServer(['--idle-timeout', '1.5']);
    try {
      const slow = new RawConnection(server.port);
      const idle = new RawConnection(server.port);
      await Promise.all([slow.ready, idle.ready]);
      const t0 = Date.now();
      slow.write('GET /api/health HTTP/1.1\r\nHost: x\r\n'); // never completed
      idle.write('GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal((await idle.readResponse()).status, 200);
      const t1 = Date.now();
      assert.ok(await idle.waitClosed(5000), 'idle connection closed');
      const idleFor = Date.now() - t1;
      assert.ok(idleFor >= 1300 && idleFor < 4000, `idle for ${idleFor} ms`);
      assert.ok(await slow.waitClosed(15000), 'slow header closed');
      const slowFor = Date.now() - t0;
      assert.ok(slowFor >= 9500 && slowFor < 13000, `header timeout after ${slowFor} ms`);
    } finally {
      await server.stop();
    }
  });

  test('past the connection cap new connections get 503 and are closed', async () => {
    const server = await startServer(['--max-connections', '5']);
    try {
      const held = [];
      for (let i = 0; i < 5; i++) {
        const c = new RawConnection(server.port);
        await c.ready;
        c.write('GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n');
        assert.equal((await c.readResponse()).status, 200);
        held.push(c);
      }
      const extra = new RawConnection(server.port);
      await extra.ready;
      extra.write('GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n');
      const r = await extra.readResponse();
      assert.equal(r.status, 503);
      assert.equal(JSON.parse(r.body).status, 503);
      assert.ok(await extra.waitClosed(3000));
      // Room again once one closes.
      held.pop().close();
      await sleep(200);
      const again = await fetch(`${server.url}/api/health`);
      assert.equal(again.status, 200);
      held.forEach((c) => c.close());
    } finally {
      await server.stop();
    }
  });

  test('--origins restricts CORS to the allow-list', async () => {
    const server = await startServer(['--origins', 'https://good.example,http://localhost:5173']);
    try {
      let res = await fetch(`${server.url}/api/health`, { headers: { Origin: 'https://good.example' } });
      assert.equal(res.headers.get('access-control-allow-origin'), 'https://good.example');
      assert.match(res.headers.get('vary'), /Origin/);
      res = await fetch(`${server.url}/api/health`, { headers: { Origin: 'https://evil.example' } });
      assert.equal(res.headers.get('access-control-allow-origin'), null);
    } finally {
      await server.stop();
    }
  });

  test('--log-level warn silences the access log', async () => {
    const server = await startServer(['--log-level', 'warn']);
    try {
      await fetch(`${server.url}/api/health`);
      await sleep(400);
      assert.deepEqual(server.stdout, []);
    } finally {
      await server.stop();
    }
  });

  test('bad flags are refused with a message', async () => {
    await assert.rejects(startServer(['--log-level', 'loud']), /invalid --log-level/);
    await assert.rejects(startServer(['--threads', 'many']), /threads/);
  });

  test('SIGTERM: idle connections close, logs are flushed, exit 0', async () => {
    const server = await startServer();
    const c = new RawConnection(server.port);
    await c.ready;
    c.write('GET /api/health HTTP/1.1\r\nHost: x\r\nX-Request-Id: last-before-stop\r\n\r\n');
    assert.equal((await c.readResponse()).status, 200);
    const t0 = Date.now();
    const { code } = await server.stop();
    assert.equal(code, 0);
    assert.ok(Date.now() - t0 < 3000, 'stopped promptly');
    assert.ok(await c.waitClosed(1000));
    assert.ok(server.stdout.some((l) => l.includes('"request_id":"last-before-stop"')), 'log flushed');
  });
});
