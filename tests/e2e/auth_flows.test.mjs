// Verification, password reset, email change, OTP, auth methods and impersonation through the
// pocketbase SDK, with mail read from the capture folder.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EventSource } from 'eventsource';
import PocketBase from 'pocketbase';
import { runStrata, sleep, startServer } from './helpers.mjs';

globalThis.EventSource = EventSource;

describe('auth flows', () => {
  let server;
  let admin;
  let outbox;
  const seen = new Set();

  // The next message to `to` in the capture folder (waits for it).
  async function nextMail(to) {
    for (let i = 0; i < 100; i++) {
      const files = (await readdir(outbox).catch(() => [])).filter((f) => f.endsWith('.eml')).sort();
      for (const f of files) {
        if (seen.has(f)) continue;
        const text = await readFile(join(outbox, f), 'utf8');
        if (text.includes(`To: ${to}\r\n`)) {
          seen.add(f);
          return text;
        }
      }
      await sleep(50);
    }
    throw new Error(`no mail to ${to}`);
  }
  async function noMailTo(to) {
    await sleep(300);
    const files = (await readdir(outbox).catch(() => [])).filter((f) => f.endsWith('.eml') && !seen.has(f));
    for (const f of files) assert.ok(!(await readFile(join(outbox, f), 'utf8')).includes(`To: ${to}\r\n`));
  }
  const tokenIn = (mail) => mail.match(/Token: (\S+)/)[1];

  before(async () => {
    server = await startServer(['--app-name', 'Civic', '--mail-from', 'Civic <no-reply@civic.test>']);
    outbox = join(server.dir, 'mail');
    const r = await runStrata(['superuser', 'upsert', 'root@example.com', 'root-password-1', '--dir', server.dir]);
    assert.equal(r.code, 0, r.stderr);
    admin = new PocketBase(server.url);
    await admin.collection('_superusers').authWithPassword('root@example.com', 'root-password-1');
    await admin.collections.create({
      name: 'users',
      type: 'auth',
      createRule: '',
      viewRule: 'id = @request.auth.id',
      otp: { enabled: true, duration: 180, length: 6 },
      fields: [{ name: 'name', type: 'text' }],
    });
  });
  after(async () => {
    await server?.stop();
  });

  async function signUp(email, password = 'first-password') {
    return admin.collection('users').create({ email, password, passwordConfirm: password });
  }

  test('auth methods', async () => {
    const methods = await new PocketBase(server.url).collection('users').listAuthMethods();
    assert.equal(methods.password.enabled, true);
    assert.deepEqual(methods.password.identityFields, ['email']);
    assert.equal(methods.otp.enabled, true);
    assert.equal(methods.otp.duration, 180);
    assert.equal(methods.oauth2.enabled, false);
  });

  test('verification', async () => {
    const user = await signUp('vera@example.com');
    assert.equal(user.verified, false);
    const pb = new PocketBase(server.url);
    assert.equal(await pb.collection('users').requestVerification('vera@example.com'), true);
    const mail = await nextMail('vera@example.com');
    assert.match(mail, /From: Civic <no-reply@civic\.test>/);
    assert.match(mail, /Subject: Civic - Verify your email/);
    const token = tokenIn(mail);
    assert.equal(await pb.collection('users').confirmVerification(token), true);
    assert.equal((await admin.collection('users').getOne(user.id)).verified, true);
    // A bad token is a 400 on the token field.
    const bad = await pb.collection('users').confirmVerification(`${token}x`).catch((e) => e);
    assert.equal(bad.status, 400);
    assert.equal(bad.response.data.token.code, 'validation_invalid_value');
    // An unknown address gets the same answer and no mail.
    assert.equal(await pb.collection('users').requestVerification('nobody@example.com'), true);
    await noMailTo('nobody@example.com');
    const invalid = await pb.collection('users').requestVerification('not-an-email').catch((e) => e);
    assert.equal(invalid.status, 400);
    assert.equal(invalid.response.data.email.code, 'validation_is_email');
  });

  test('password reset works once and ends other sessions', async () => {
    await signUp('rosa@example.com');
    const pb = new PocketBase(server.url);
    await pb.collection('users').authWithPassword('rosa@example.com', 'first-password');
    const oldToken = pb.authStore.token;
    const guest = new PocketBase(server.url);
    await guest.collection('users').requestPasswordReset('rosa@example.com');
    const token = tokenIn(await nextMail('rosa@example.com'));
    const short = await guest.collection('users').confirmPasswordReset(token, 'short', 'short').catch((e) => e);
    assert.equal(short.status, 400);
    assert.equal(short.response.data.password.code, 'validation_min_text_constraint');
    const mismatch = await guest
      .collection('users')
      .confirmPasswordReset(token, 'second-password', 'other-password')
      .catch((e) => e);
    assert.equal(mismatch.response.data.passwordConfirm.code, 'validation_values_mismatch');
    assert.equal(await guest.collection('users').confirmPasswordReset(token, 'second-password', 'second-password'), true);
    const again = await guest
      .collection('users')
      .confirmPasswordReset(token, 'third-password', 'third-password')
      .catch((e) => e);
    assert.equal(again.status, 400);
    await guest.collection('users').authWithPassword('rosa@example.com', 'second-password');
    const old = await guest.collection('users').authWithPassword('rosa@example.com', 'first-password').catch((e) => e);
    assert.equal(old.status, 400);
    // The session from before the reset is over.
    const stale = new PocketBase(server.url);
    stale.authStore.save(oldToken, null);
    const refused = await stale.collection('users').authRefresh().catch((e) => e);
    assert.equal(refused.status, 401);
  });

  test('email change', async () => {
    await signUp('emil@example.com');
    const pb = new PocketBase(server.url);
    await pb.collection('users').authWithPassword('emil@example.com', 'first-password');
    const taken = await pb.collection('users').requestEmailChange('vera@example.com').catch((e) => e);
    assert.equal(taken.status, 400);
    assert.equal(await pb.collection('users').requestEmailChange('emil.new@example.com'), true);
    const token = tokenIn(await nextMail('emil.new@example.com'));
    const guest = new PocketBase(server.url);
    const wrong = await guest.collection('users').confirmEmailChange(token, 'wrong-password').catch((e) => e);
    assert.equal(wrong.status, 400);
    assert.equal(await guest.collection('users').confirmEmailChange(token, 'first-password'), true);
    const auth = await guest.collection('users').authWithPassword('emil.new@example.com', 'first-password');
    assert.equal(auth.record.email, 'emil.new@example.com');
    assert.equal(auth.record.verified, true);
    const anonymous = await new PocketBase(server.url).collection('users').requestEmailChange('x@example.com').catch((e) => e);
    assert.equal(anonymous.status, 401);
  });

  test('one-time passwords', async () => {
    await signUp('otto@example.com');
    const pb = new PocketBase(server.url);
    const { otpId } = await pb.collection('users').requestOTP('otto@example.com');
    const code = (await nextMail('otto@example.com')).match(/one-time password: (\d+)/)[1];
    assert.equal(code.length, 6);
    const wrong = await pb.collection('users').authWithOTP(otpId, code === '000000' ? '111111' : '000000').catch((e) => e);
    assert.equal(wrong.status, 400);
    const auth = await pb.collection('users').authWithOTP(otpId, code);
    assert.equal(auth.record.email, 'otto@example.com');
    assert.equal(auth.record.verified, true);
    const reused = await pb.collection('users').authWithOTP(otpId, code).catch((e) => e);
    assert.equal(reused.status, 400);
    // Unknown addresses get an id too, and no mail.
    const unknown = await pb.collection('users').requestOTP('ghost@example.com');
    assert.match(unknown.otpId, /^[a-z0-9]{15}$/);
    await noMailTo('ghost@example.com');
    const refused = await pb.collection('users').authWithOTP(unknown.otpId, '123456').catch((e) => e);
    assert.equal(refused.status, 400);
  });

  test('the records the flows change reach realtime subscribers', async () => {
    const events = [];
    const unsubscribe = await admin.collection('users').subscribe('*', (e) => events.push(e));
    const next = async (email) => {
      for (let i = 0; i < 100 && !events.some((e) => e.record.email === email); i++) await sleep(20);
      const i = events.findIndex((e) => e.record.email === email);
      assert.ok(i >= 0, `no event for ${email}: ${JSON.stringify(events)}`);
      return events.splice(i, 1)[0];
    };
    try {
      const pb = new PocketBase(server.url);
      // Verification.
      const vic = await signUp('vic@example.com');
      assert.equal((await next('vic@example.com')).action, 'create');
      await pb.collection('users').requestVerification('vic@example.com');
      await pb.collection('users').confirmVerification(tokenIn(await nextMail('vic@example.com')));
      const verified = await next('vic@example.com');
      assert.deepEqual([verified.action, verified.record.id, verified.record.verified], ['update', vic.id, true]);
      // A password reset: an update, without the password or the token key.
      await pb.collection('users').requestPasswordReset('vic@example.com');
      await pb.collection('users').confirmPasswordReset(tokenIn(await nextMail('vic@example.com')), 'second-password', 'second-password');
      const reset = await next('vic@example.com');
      assert.equal(reset.action, 'update');
      assert.equal('password' in reset.record || 'tokenKey' in reset.record, false);
      // A one-time code that proves the address verifies the account.
      await signUp('olga@example.com');
      await next('olga@example.com');
      const { otpId } = await pb.collection('users').requestOTP('olga@example.com');
      const code = (await nextMail('olga@example.com')).match(/one-time password: (\d+)/)[1];
      await pb.collection('users').authWithOTP(otpId, code);
      const byCode = await next('olga@example.com');
      assert.deepEqual([byCode.action, byCode.record.verified], ['update', true]);
    } finally {
      await unsubscribe();
    }
  });

  test('impersonation is for superusers and gives a token that cannot be refreshed', async () => {
    const user = await signUp('ivan@example.com');
    const client = await admin.collection('users').impersonate(user.id, 600);
    assert.equal(client.authStore.record.id, user.id);
    const payload = JSON.parse(Buffer.from(client.authStore.token.split('.')[1], 'base64url'));
    assert.equal(payload.refreshable, false);
    assert.ok(payload.exp - Date.now() / 1000 <= 600);
    assert.equal((await client.collection('users').getOne(user.id)).id, user.id);
    const refresh = await client.collection('users').authRefresh().catch((e) => e);
    assert.equal(refresh.status, 403);
    const pb = new PocketBase(server.url);
    await pb.collection('users').authWithPassword('ivan@example.com', 'first-password');
    const denied = await pb.collection('users').impersonate(user.id, 60).catch((e) => e);
    assert.equal(denied.status, 403);
    for (const [duration, code] of [
      [1.5, 'validation_invalid_value'],
      [1e30, 'validation_max_less_equal_than_required'],
      [-1, 'validation_min_greater_equal_than_required'],
      ['60', 'validation_min_greater_equal_than_required'],
    ]) {
      const bad = await admin.collection('users').impersonate(user.id, duration).catch((e) => e);
      assert.equal(bad.status, 400, String(duration));
      assert.equal(bad.response.data.duration.code, code, String(duration));
    }
  });
});

// A minimal SMTP server: accepts every message and keeps it.
function startSmtpSink() {
  const messages = [];
  const server = net.createServer((socket) => {
    let buffer = '';
    let inData = false;
    let envelope = { from: '', to: [] };
    socket.write('220 sink.test ESMTP\r\n');
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end < 0) return;
          messages.push({ ...envelope, data: buffer.slice(0, end) });
          buffer = buffer.slice(end + 5);
          inData = false;
          envelope = { from: '', to: [] };
          socket.write('250 OK queued\r\n');
          continue;
        }
        const nl = buffer.indexOf('\r\n');
        if (nl < 0) return;
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') socket.write('250-sink.test\r\n250 8BITMIME\r\n');
        else if (verb === 'HELO') socket.write('250 sink.test\r\n');
        else if (verb === 'MAIL') (envelope.from = line), socket.write('250 OK\r\n');
        else if (verb === 'RCPT') envelope.to.push(line), socket.write('250 OK\r\n');
        else if (verb === 'DATA') (inData = true), socket.write('354 go ahead\r\n');
        else if (verb === 'QUIT') socket.end('221 bye\r\n');
        else socket.write('250 OK\r\n');
      }
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ port: server.address().port, messages, close: () => server.close() })),
  );
}

describe('mail over SMTP', () => {
  let server;
  let sink;
  before(async () => {
    sink = await startSmtpSink();
    server = await startServer(['--smtp-url', `smtp://127.0.0.1:${sink.port}`]);
    const r = await runStrata(['superuser', 'upsert', 'root@example.com', 'root-password-1', '--dir', server.dir]);
    assert.equal(r.code, 0, r.stderr);
    const admin = new PocketBase(server.url);
    await admin.collection('_superusers').authWithPassword('root@example.com', 'root-password-1');
    await admin.collections.create({ name: 'users', type: 'auth', createRule: '', fields: [] });
    await admin.collection('users').create({ email: 'sam@example.com', password: 'first-password', passwordConfirm: 'first-password' });
  });
  after(async () => {
    await server?.stop();
    sink?.close();
  });

  test('a password reset mail reaches the SMTP server', async () => {
    const pb = new PocketBase(server.url);
    await pb.collection('users').requestPasswordReset('sam@example.com');
    for (let i = 0; i < 100 && sink.messages.length === 0; i++) await sleep(50);
    assert.equal(sink.messages.length, 1);
    const [m] = sink.messages;
    assert.match(m.from, /<no-reply@localhost>/);
    assert.deepEqual(m.to, ['RCPT TO:<sam@example.com>']);
    assert.match(m.data, /Subject: Strata - Reset your password/);
    const token = m.data.match(/Token: (\S+)/)[1];
    assert.equal(await pb.collection('users').confirmPasswordReset(token, 'second-password', 'second-password'), true);
  });
});
