// A trace collector stand-in: answers 200 on /v1/traces and throws the spans away, counting them
// by request only, so exporting costs sidelight what it would against a real collector.
import { createServer } from 'node:http';

let batches = 0;
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (req.url === '/v1/traces') batches++;
    res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': '0' });
    res.end();
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => {
  console.log(JSON.stringify({ batches }));
  process.exit(0);
});
