// The start-up floor: plain node answering /live on the admin port, nothing else loaded.
import { createServer } from 'node:http';

createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
