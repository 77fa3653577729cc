// Acknowledged writes survive a killed process: a writer loop runs while the server gets SIGKILL.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import PocketBase from 'pocketbase';
import { runStrata, sleep, startServer } from './helpers.mjs';

test('every write answered 200 is there after SIGKILL and a restart', async () => {
  let server = await startServer();
  const dir = server.dir;
  assert.equal((await runStrata(['superuser', 'upsert', 'root@example.com', 'root-password-1', '--dir', dir])).code, 0);
  const admin = new PocketBase(server.url);
  await admin.collection('_superusers').authWithPassword('root@example.com', 'root-password-1');
  await admin.collections.create({
    name: 'events',
    createRule: '',
    listRule: '',
    fields: [{ name: 'seq', type: 'number' }],
  });

  // Eight concurrent writers; the server is killed while they run.
  const acked = new Set();
  let stop = false;
  const writer = async (w) => {
    let i = 0;
    while (!stop) {
      const seq = w * 1_000_000 + i++;
      try {
        const res = await fetch(`${server.url}/api/collections/events/records`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ seq }),
        });
        if (res.status === 200) acked.add((await res.json()).id);
      } catch {
        return; // connection refused or reset: the server is gone
      }
    }
  };
  const writers = Array.from({ length: 8 }, (_, w) => writer(w));
  await sleep(1500);
  server.proc.kill('SIGKILL');
  await server.exited;
  stop = true;
  await Promise.all(writers);
  assert.ok(acked.size > 50, `only ${acked.size} writes were acknowledged`);

  // Restart on the same directory.
  server = await startServer([], dir);
  try {
    const client = new PocketBase(server.url);
    const all = await client.collection('events').getFullList({ batch: 1000, fields: 'id' });
    const present = new Set(all.map((r) => r.id));
    const lost = [...acked].filter((id) => !present.has(id));
    assert.deepEqual(lost, [], `${lost.length} of ${acked.size} acknowledged writes lost`);
  } finally {
    await server.stop();
  }
});
