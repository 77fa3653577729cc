// The realtime benchmark's reference: a Socket.IO server (WebSocket transport) whose clients join
// a room per topic; each POST /publish (a JSON record, as a write would produce) is broadcast to
// the room as {"action":"create","record":…}, serialized once per broadcast as Socket.IO does.
//
//   PORT=… node server.js
import http from 'node:http';
import { Server } from 'socket.io';

const port = Number(process.env.PORT ?? 3001);
const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/publish') {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const record = JSON.parse(body);
      io.to('notes/*').emit('notes/*', { action: 'create', record });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(record));
    });
    return;
  }
  if (req.url === '/health') {
    res.writeHead(200);
    res.end('ok');
    return;
  }
  res.writeHead(404);
  res.end();
});
const io = new Server(server, { transports: ['websocket'], serveClient: false });
io.on('connection', (socket) => {
  socket.on('subscribe', (topic, ack) => {
    socket.join(topic);
    ack?.('ok');
  });
});
server.listen(port, '127.0.0.1', () => console.log(`listening on ${port}`));
