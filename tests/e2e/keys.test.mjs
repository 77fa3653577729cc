// Signing key rotation from the command line while the server runs.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import PocketBase from 'pocketbase';
import { runStrata, sleep, startServer } from './helpers.mjs';

const header = (token) => JSON.parse(Buffer.from(token.split('.')[0], 'base64url'));

describe('key rotation', () => {
  let server;
  before(async () => {
    server = await startServer();
    const r = await runStrata(['superuser', 'upsert', 'root@example.com', 'root-password-1', '--dir', server.dir]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await server?.stop();
  });

  test('tokens of a retired key stay valid; new ones use the new key (HS256 here)', async () => {
    const pb = new PocketBase(server.url);
    await pb.collection('_superusers').authWithPassword('root@example.com', 'root-password-1');
    const before = pb.authStore.token;
    assert.equal(header(before).alg, 'EdDSA');

    const r = await runStrata(['keys', 'rotate', '--alg', 'HS256', '--dir', server.dir]);
    assert.equal(r.code, 0, r.stderr);
    const kid = r.stdout.match(/signing key (\S+);/)[1];
    const list = await runStrata(['keys', 'list', '--dir', server.dir]);
    assert.match(list.stdout, new RegExp(`${kid}\\s+HS256.*active`));
    assert.match(list.stdout, /EdDSA.*retired/);

    // The running server picks the new key up within seconds.
    let token = before;
    for (let i = 0; i < 80 && header(token).kid !== kid; i++) {
      await sleep(100);
      token = (await pb.collection('_superusers').authRefresh()).token;
    }
    assert.equal(header(token).alg, 'HS256');
    assert.equal(header(token).kid, kid);
    // The token from before the rotation still works.
    const old = new PocketBase(server.url);
    old.authStore.save(before, null);
    assert.ok((await old.collection('_superusers').authRefresh()).token);
    // HS256 secrets are not published.
    const jwks = await (await fetch(`${server.url}/api/.well-known/jwks.json`)).json();
    assert.ok(jwks.keys.every((k) => k.alg === 'EdDSA' && !k.d));
    assert.equal((await runStrata(['keys', 'rotate', '--alg', 'none', '--dir', server.dir])).code === 0, false);
  });
});
