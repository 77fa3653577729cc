// Seeds the records benchmark: the same users and posts into Strata's database (whose tables
// Strata created from bench/schema.json) and into the Express peer's database.
//
//   node bench/seed.mjs STRATA_DB PEER_DB COUNT OUT_DIR
// Writes OUT_DIR/ids.txt (a sample of post ids) and OUT_DIR/cursor.txt (the cursor after the
// first half of the posts in -created order, the same for both servers).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(new URL('./peers/express/package.json', import.meta.url));
const Database = require('better-sqlite3');

const [strataDb, peerDb, countArg, outDir] = process.argv.slice(2);
const COUNT = Number(countArg ?? 100000);
const USERS = 1000;

// mulberry32: a small deterministic generator, so that every run seeds the same data.
let seed = 42;
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
const newId = () => Array.from({ length: 15 }, () => alphabet[Math.floor(rand() * 36)]).join('');
const words = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor'.split(' ');
const text = (n) => Array.from({ length: n }, () => words[Math.floor(rand() * words.length)]).join(' ');

const users = Array.from({ length: USERS }, (_, i) => ({ id: newId(), email: `user${i}@example.com` }));
const start = Date.UTC(2025, 0, 1);
const posts = Array.from({ length: COUNT }, (_, i) => {
  const r = rand();
  return {
    id: newId(),
    author: users[Math.floor(rand() * USERS)].id,
    title: text(6),
    body: text(40),
    status: r < 0.6 ? 'active' : r < 0.85 ? 'draft' : 'archived',
    like_count: Math.floor(rand() * 1000),
    created: new Date(start + i * 1000).toISOString().replace('T', ' '),
  };
});

const strata = new Database(strataDb);
strata.pragma('journal_mode = WAL');
strata.transaction(() => {
  const u = strata.prepare('INSERT INTO users (id, email, tokenKey, password, verified) VALUES (?, ?, ?, ?, 1)');
  for (const x of users) u.run(x.id, x.email, newId() + newId() + newId(), '');
  const p = strata.prepare(
    'INSERT INTO posts (id, author, title, body, status, like_count, created) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  for (const x of posts) p.run(x.id, x.author, x.title, x.body, x.status, x.like_count, x.created);
})();
strata.close();

const peer = new Database(peerDb);
peer.pragma('journal_mode = WAL');
peer.exec(`
  CREATE TABLE IF NOT EXISTS posts (id TEXT PRIMARY KEY NOT NULL, author TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '', body TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT '',
    like_count NUMERIC NOT NULL DEFAULT 0, created TEXT NOT NULL DEFAULT '');
  CREATE INDEX IF NOT EXISTS idx_posts_status_created ON posts (status, created);
  CREATE INDEX IF NOT EXISTS idx_posts_created ON posts (created, id);`);
peer.transaction(() => {
  const p = peer.prepare(
    'INSERT INTO posts (id, author, title, body, status, like_count, created) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  for (const x of posts) p.run(x.id, x.author, x.title, x.body, x.status, x.like_count, x.created);
})();
peer.close();

const sample = [];
for (let i = 0; i < 10000; i++) sample.push(posts[Math.floor(rand() * COUNT)].id);
writeFileSync(path.join(outDir, 'ids.txt'), sample.join('\n') + '\n');
const ordered = [...posts].sort((a, b) => (a.created === b.created ? (a.id < b.id ? 1 : -1) : a.created < b.created ? 1 : -1));
const mid = ordered[Math.floor(COUNT / 2)];
writeFileSync(path.join(outDir, 'cursor.txt'), Buffer.from(JSON.stringify([mid.created, mid.id])).toString('base64url'));
console.log(`seeded ${USERS} users and ${COUNT} posts`);
