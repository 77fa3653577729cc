// The reference peer of the records benchmark: the benchmarked PocketBase-style endpoints of a
// `posts` collection on Express and better-sqlite3, written to be as fast as Express allows —
// one worker process per core (node:cluster), prepared statements, WAL with synchronous=FULL so
// that an acknowledged create is durable, as Strata's is.
//
//   PORT=8091 DB=/path/peer.db node server.js
import cluster from 'node:cluster';
import crypto from 'node:crypto';
import os from 'node:os';
import Database from 'better-sqlite3';
import express from 'express';

const PORT = Number(process.env.PORT ?? 8091);
const DB = process.env.DB ?? 'peer.db';
const WORKERS = Number(process.env.WORKERS ?? os.availableParallelism());

if (cluster.isPrimary) {
  for (let i = 0; i < WORKERS; i++) cluster.fork();
  cluster.on('exit', (w, code) => code !== 0 && console.error(`worker ${w.process.pid} exited with ${code}`));
} else {
  const db = new Database(DB);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');

  const columns = 'id, author, title, body, status, like_count, created';
  const view = db.prepare(`SELECT ${columns} FROM posts WHERE id = ?`);
  const listByStatus = db.prepare(
    `SELECT ${columns} FROM posts WHERE status = ? ORDER BY created DESC, id DESC LIMIT ? OFFSET ?`,
  );
  const countByStatus = db.prepare('SELECT count(*) AS n FROM posts WHERE status = ?');
  const afterCursor = db.prepare(
    `SELECT ${columns} FROM posts WHERE created <= ? AND (created < ? OR (created = ? AND id < ?)) ORDER BY created DESC, id DESC LIMIT ?`,
  );
  const insert = db.prepare(
    'INSERT INTO posts (id, author, title, body, status, like_count, created) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const statuses = new Set(['active', 'draft', 'archived']);

  const record = (row) => ({ collectionId: 'posts', collectionName: 'posts', ...row });
  const now = () => new Date().toISOString().replace('T', ' ');
  const newId = () => {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
    const bytes = crypto.randomBytes(15);
    let id = '';
    for (const b of bytes) id += alphabet[b % alphabet.length];
    return id;
  };
  const bad = (res, message, data = {}) => res.status(400).json({ data, message, status: 400 });

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use(express.json({ limit: '1mb' }));

  app.get('/api/collections/posts/records/:id', (req, res) => {
    const row = view.get(req.params.id);
    if (!row) return res.status(404).json({ data: {}, message: "The requested resource wasn't found.", status: 404 });
    res.json(record(row));
  });

  // The benchmarked list shapes: filter=status='…', sort=-created, page/perPage, skipTotal, cursor.
  app.get('/api/collections/posts/records', (req, res) => {
    const perPage = Math.min(Math.max(Number(req.query.perPage ?? 30) || 30, 1), 1000);
    if (req.query.cursor !== undefined) {
      let created = '\uffff';
      let id = '';
      if (req.query.cursor) {
        try {
          [created, id] = JSON.parse(Buffer.from(req.query.cursor, 'base64url').toString());
        } catch {
          return bad(res, 'Invalid cursor.');
        }
      }
      const rows = afterCursor.all(created, created, created, id, perPage + 1);
      const more = rows.length > perPage;
      if (more) rows.pop();
      const last = rows.at(-1);
      return res.json({
        items: rows.map(record),
        page: 1,
        perPage,
        totalItems: -1,
        totalPages: -1,
        nextCursor: more ? Buffer.from(JSON.stringify([last.created, last.id])).toString('base64url') : null,
      });
    }
    const m = /^status\s*=\s*'([a-z]+)'$/.exec(req.query.filter ?? '');
    if (!m) return bad(res, 'Only the benchmarked filter is implemented.');
    const page = Math.max(Number(req.query.page ?? 1) || 1, 1);
    const rows = listByStatus.all(m[1], perPage, (page - 1) * perPage);
    const skipTotal = req.query.skipTotal === '1' || req.query.skipTotal === 'true';
    const total = skipTotal ? -1 : countByStatus.get(m[1]).n;
    res.json({
      items: rows.map(record),
      page,
      perPage,
      totalItems: total,
      totalPages: skipTotal ? -1 : Math.ceil(total / perPage),
    });
  });

  app.post('/api/collections/posts/records', (req, res) => {
    const b = req.body ?? {};
    const errors = {};
    if (typeof b.title !== 'string' || b.title === '') errors.title = { code: 'validation_required', message: 'Cannot be blank.' };
    if (b.status !== undefined && !statuses.has(b.status)) errors.status = { code: 'validation_invalid_value', message: 'Invalid value' };
    if (Object.keys(errors).length) return bad(res, 'Failed to create record.', errors);
    const row = {
      id: newId(),
      author: typeof b.author === 'string' ? b.author : '',
      title: b.title,
      body: typeof b.body === 'string' ? b.body : '',
      status: b.status ?? '',
      like_count: Number(b.like_count ?? 0) || 0,
      created: now(),
    };
    insert.run(row.id, row.author, row.title, row.body, row.status, row.like_count, row.created);
    res.json(record(row));
  });

  app.listen(PORT, '127.0.0.1');
}
