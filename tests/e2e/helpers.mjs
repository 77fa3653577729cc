// Starts the real strata binary on a free port with a temporary data directory.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const BIN = process.env.STRATA_BIN ?? path.resolve('build/strata');

// `dir`: an existing data directory to reuse (a restart); a new temporary one by default.
export async function startServer(args = [], dir = mkdtempSync(path.join(tmpdir(), 'strata-e2e-'))) {
  const proc = spawn(BIN, ['serve', '--http', '127.0.0.1:0', '--dir', dir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout = [];
  let stderr = '';
  let partial = '';
  proc.stdout.on('data', (chunk) => {
    partial += chunk.toString();
    const lines = partial.split('\n');
    partial = lines.pop();
    stdout.push(...lines);
  });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`strata did not start: ${stderr}`)), 10000);
    proc.stderr.on('data', (chunk) => {
      stderr += chunk.toString();
      const m = stderr.match(/Server started at http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    proc.on('exit', () => reject(new Error(`strata exited: ${stderr}`)));
  });
  return {
    port,
    dir,
    url: `http://127.0.0.1:${port}`,
    proc,
    stdout,
    stderr: () => stderr,
    exited,
    // SIGTERM, then the exit status; removes the data directory.
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const result = await exited;
      rmSync(dir, { recursive: true, force: true });
      return result;
    },
  };
}

// A raw TCP connection for exact bytes: pipelining, malformed requests, limits.
export class RawConnection {
  constructor(port) {
    this.socket = net.connect(port, '127.0.0.1');
    this.buffer = Buffer.alloc(0);
    this.closed = false;
    this.waiters = [];
    this.socket.on('data', (d) => {
      this.buffer = Buffer.concat([this.buffer, d]);
      this.wake();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    this.socket.on('error', () => {});
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
  }
  wake() {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }
  async waitFor(predicate, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) return false;
      await new Promise((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, Math.max(1, deadline - Date.now()));
      });
    }
    return true;
  }
  write(data) {
    this.socket.write(data);
  }
  // One response, framed by Content-Length; null on timeout.
  async readResponse({ timeoutMs = 5000, head = false } = {}) {
    const ok = await this.waitFor(() => this.tryParse(head) !== null || this.closed, timeoutMs);
    if (!ok) return null;
    const r = this.tryParse(head);
    if (!r) return null;
    this.buffer = this.buffer.subarray(r.consumed);
    return r.response;
  }
  tryParse(head) {
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0) return null;
    const lines = this.buffer.subarray(0, end).toString().split('\r\n');
    const status = Number(lines[0].split(' ')[1]);
    const headers = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    const length = head ? 0 : Number(headers['content-length'] ?? 0);
    if (this.buffer.length < end + 4 + length) return null;
    const body = this.buffer.subarray(end + 4, end + 4 + length).toString();
    return { consumed: end + 4 + length, response: { status, headers, body } };
  }
  async waitClosed(timeoutMs = 5000) {
    return this.waitFor(() => this.closed, timeoutMs);
  }
  close() {
    this.socket.destroy();
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Runs a strata command (not serve) to completion; resolves to {code, stdout, stderr}.
export function runStrata(args) {
  return new Promise((resolve) => {
    const proc = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    proc.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

// A server with a superuser, and a `pocketbase` client signed in as it; `users` named here get
// an account (name@example.com, password "right-password") in a new auth collection `users`
// (`usersCollection` sets its options) and a signed-in client each.
export async function startWithAdmin({ args = [], users = [], usersCollection = {} } = {}) {
  const { default: PocketBase } = await import('pocketbase');
  const server = await startServer(args);
  const r = await runStrata(['superuser', 'upsert', 'root@example.com', 'root-password-1', '--dir', server.dir]);
  if (r.code !== 0) throw new Error(`superuser upsert failed: ${r.stderr}`);
  const admin = new PocketBase(server.url);
  await admin.collection('_superusers').authWithPassword('root@example.com', 'root-password-1');
  const clients = {};
  if (users.length > 0) {
    await admin.collections.create({ name: 'users', type: 'auth', createRule: '', ...usersCollection });
    for (const name of users) {
      await admin.collection('users').create({
        email: `${name}@example.com`,
        password: 'right-password',
        passwordConfirm: 'right-password',
        ...(usersCollection.fields?.some((f) => f.name === 'name') ? { name } : {}),
      });
      const pb = new PocketBase(server.url);
      await pb.collection('users').authWithPassword(`${name}@example.com`, 'right-password');
      clients[name] = pb;
    }
  }
  return { server, admin, users: clients };
}
