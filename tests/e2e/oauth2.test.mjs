// OAuth2 sign-in with the OpenID Connect authorization-code flow and PKCE, against a small
// provider that the test starts (authorize, token and userinfo endpoints).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { EventSource } from 'eventsource';
import PocketBase from 'pocketbase';
import { runStrata, sleep, startServer } from './helpers.mjs';

globalThis.EventSource = EventSource;

// The provider: one client, users chosen by the test through `nextUser`.
function startProvider() {
  const codes = new Map(); // code → {challenge, redirect, user}
  const tokens = new Map(); // access token → user
  const provider = { nextUser: null, port: 0, exchanges: 0 };
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const send = (status, body, headers = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(body === undefined ? '' : JSON.stringify(body));
    };
    if (url.pathname === '/authorize') {
      const q = url.searchParams;
      if (q.get('client_id') !== 'strata-client' || q.get('code_challenge_method') !== 'S256' || q.get('response_type') !== 'code') {
        return send(400, { error: 'invalid_request' });
      }
      const code = randomBytes(12).toString('hex');
      codes.set(code, { challenge: q.get('code_challenge'), redirect: q.get('redirect_uri'), user: provider.nextUser });
      const to = new URL(q.get('redirect_uri'));
      to.searchParams.set('code', code);
      to.searchParams.set('state', q.get('state'));
      return send(302, undefined, { location: to.toString() });
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      let raw = '';
      for await (const chunk of req) raw += chunk;
      const form = new URLSearchParams(raw);
      provider.exchanges++;
      const entry = codes.get(form.get('code'));
      codes.delete(form.get('code')); // codes work once
      const verifier = form.get('code_verifier') || '';
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      if (
        !entry ||
        form.get('grant_type') !== 'authorization_code' ||
        form.get('client_id') !== 'strata-client' ||
        form.get('client_secret') !== 'client-secret' ||
        form.get('redirect_uri') !== entry.redirect ||
        challenge !== entry.challenge
      ) {
        return send(400, { error: 'invalid_grant' });
      }
      const access = randomBytes(16).toString('hex');
      tokens.set(access, entry.user);
      return send(200, { access_token: access, token_type: 'Bearer', expires_in: 3600, refresh_token: 'r-' + access });
    }
    if (url.pathname === '/userinfo') {
      const user = tokens.get((req.headers.authorization || '').replace(/^Bearer /, ''));
      return user ? send(200, user) : send(401, { error: 'invalid_token' });
    }
    send(404, { error: 'not_found' });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      provider.port = server.address().port;
      provider.close = () => server.close();
      resolve(provider);
    }),
  );
}

describe('OAuth2 (OpenID Connect with PKCE)', () => {
  let server;
  let provider;
  let admin;
  const redirect = 'http://127.0.0.1:5173/oauth2-redirect';

  // What a browser does: open the authorization URL, come back to the redirect URL with a code.
  async function signIn(pb, verifierOverride) {
    const methods = await pb.collection('users').listAuthMethods();
    const p = methods.oauth2.providers[0];
    const res = await fetch(p.authURL + encodeURIComponent(redirect), { redirect: 'manual' });
    assert.equal(res.status, 302);
    const back = new URL(res.headers.get('location'));
    assert.equal(back.searchParams.get('state'), p.state);
    return pb
      .collection('users')
      .authWithOAuth2Code(p.name, back.searchParams.get('code'), verifierOverride ?? p.codeVerifier, redirect, {});
  }

  before(async () => {
    provider = await startProvider();
    server = await startServer();
    const r = await runStrata(['superuser', 'upsert', 'root@example.com', 'root-password-1', '--dir', server.dir]);
    assert.equal(r.code, 0, r.stderr);
    admin = new PocketBase(server.url);
    await admin.collection('_superusers').authWithPassword('root@example.com', 'root-password-1');
    const base = `http://127.0.0.1:${provider.port}`;
    await admin.collections.create({
      name: 'users',
      type: 'auth',
      viewRule: 'id = @request.auth.id',
      oauth2: {
        enabled: true,
        providers: [
          {
            name: 'oidc',
            displayName: 'Test IdP',
            clientId: 'strata-client',
            clientSecret: 'client-secret',
            authURL: `${base}/authorize`,
            tokenURL: `${base}/token`,
            userInfoURL: `${base}/userinfo`,
          },
        ],
      },
      fields: [{ name: 'name', type: 'text' }],
    });
  });
  after(async () => {
    await server?.stop();
    provider?.close();
  });

  test('auth methods list the provider with a PKCE challenge', async () => {
    const methods = await new PocketBase(server.url).collection('users').listAuthMethods();
    assert.equal(methods.oauth2.enabled, true);
    const [p] = methods.oauth2.providers;
    assert.equal(p.name, 'oidc');
    assert.equal(p.displayName, 'Test IdP');
    assert.equal(p.codeChallengeMethod, 'S256');
    assert.equal(p.codeChallenge, createHash('sha256').update(p.codeVerifier).digest('base64url'));
    assert.ok(p.authURL.endsWith('redirect_uri='));
    assert.ok(p.authURL.includes(`code_challenge=${p.codeChallenge}`));
  });

  test('a first sign-in creates the user; the next one finds it', async () => {
    provider.nextUser = { sub: 'idp-1', email: 'olga@example.com', email_verified: true, name: 'Olga' };
    const events = [];
    const unsubscribe = await admin.collection('users').subscribe('*', (e) => events.push(e));
    const pb = new PocketBase(server.url);
    const first = await signIn(pb);
    assert.equal(first.meta.isNew, true);
    // The new account reaches realtime subscribers as a create.
    for (let i = 0; i < 100 && events.length === 0; i++) await sleep(20);
    await unsubscribe();
    assert.deepEqual(
      events.map((e) => [e.action, e.record.id, e.record.email]),
      [['create', first.record.id, 'olga@example.com']],
    );
    assert.equal(first.meta.id, 'idp-1');
    assert.equal(first.record.email, 'olga@example.com');
    assert.equal(first.record.verified, true);
    assert.ok(pb.authStore.isValid);
    assert.equal((await pb.collection('users').getOne(first.record.id)).id, first.record.id);
    const second = await signIn(new PocketBase(server.url));
    assert.equal(second.meta.isNew, false);
    assert.equal(second.record.id, first.record.id);
  });

  test("the SDK's all-in-one flow: the provider's redirect to /api/oauth2-redirect hands the code over realtime", async () => {
    provider.nextUser = { sub: 'idp-9', email: 'ida@example.com', email_verified: true, name: 'Ida' };
    const pb = new PocketBase(server.url);
    let page;
    const auth = await pb.collection('users').authWithOAuth2({
      provider: 'oidc',
      // What the browser's popup does: open the provider's page and follow it back.
      urlCallback: async (url) => {
        assert.ok(url.includes(encodeURIComponent(`${server.url}/api/oauth2-redirect`)), url);
        const res = await fetch(url);
        page = await res.text();
      },
    });
    assert.equal(auth.record.email, 'ida@example.com');
    assert.equal(auth.meta.isNew, true);
    assert.ok(pb.authStore.isValid);
    assert.match(page, /Auth completed/);
    pb.realtime.unsubscribe();

    // A state that names no waiting client, or none at all, is refused without handing anything over.
    for (const query of ['?code=abc&state=nosuchclient', '?code=abc', '?state=x&error=access_denied']) {
      const res = await fetch(`${server.url}/api/oauth2-redirect${query}`);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /Failed to authenticate/);
    }
  });

  test('an existing account with the verified email is linked', async () => {
    const existing = await admin
      .collection('users')
      .create({ email: 'pat@example.com', password: 'pat-password-1', passwordConfirm: 'pat-password-1' });
    provider.nextUser = { sub: 'idp-2', email: 'pat@example.com', email_verified: true };
    const auth = await signIn(new PocketBase(server.url));
    assert.equal(auth.record.id, existing.id);
    assert.equal(auth.meta.isNew, false);
  });

  test('a wrong code verifier or an unknown provider fail', async () => {
    provider.nextUser = { sub: 'idp-3', email: 'eve@example.com', email_verified: true };
    const wrong = await signIn(new PocketBase(server.url), 'x'.repeat(43)).catch((e) => e);
    assert.equal(wrong.status, 400);
    const pb = new PocketBase(server.url);
    const unknown = await pb.collection('users').authWithOAuth2Code('github', 'code', 'verifier', redirect).catch((e) => e);
    assert.equal(unknown.status, 400);
    assert.equal(unknown.response.data.provider.code, 'validation_invalid_provider');
    const total = (await admin.collection('users').getList(1, 1, { filter: "email = 'eve@example.com'" })).totalItems;
    assert.equal(total, 0);
  });
});
