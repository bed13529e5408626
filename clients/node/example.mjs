// Strata from Node: @grpc/grpc-js, with the API's .proto files loaded at run time.
// Run from the repository root:  (cd clients/node && npm ci) && node clients/node/example.mjs
// STRATA_SERVER (default 127.0.0.1:7700), STRATA_TOKEN and STRATA_TLS_CA (PEM) as for the CLI.
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const protoDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../proto/src/main/proto');
const definition = protoLoader.loadSync(
  ['collection', 'document', 'flush'].map((f) => path.join(protoDir, 'strata', 'v1', `${f}.proto`)),
  { includeDirs: [protoDir], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true },
);
const v1 = grpc.loadPackageDefinition(definition).strata.v1;

const target = process.env.STRATA_SERVER ?? '127.0.0.1:7700';
const credentials = process.env.STRATA_TLS_CA
  ? grpc.credentials.createSsl(fs.readFileSync(process.env.STRATA_TLS_CA))
  : grpc.credentials.createInsecure();
const metadata = new grpc.Metadata();
if (process.env.STRATA_TOKEN) metadata.set('authorization', `Bearer ${process.env.STRATA_TOKEN}`);

const collections = new v1.CollectionService(target, credentials);
const documents = new v1.DocumentService(target, credentials);
const flushes = new v1.FlushService(target, credentials);

// A unary call as a promise, with a deadline (every Strata call should have one).
const call = (client, method, request, seconds = 30) =>
  new Promise((resolve, reject) =>
    client[method](request, metadata, { deadline: Date.now() + seconds * 1000 }, (err, response) =>
      err ? reject(err) : resolve(response)));

await call(collections, 'CreateOrGetCollection', {
  name: 'node_notes',
  fields: [{ name: 'body', kind: 'FIELD_KIND_TEXT' }, { name: 'tag', kind: 'FIELD_KIND_KEYWORD' }],
});
const doc = (id, body) => ({ put: { id, fields: { body: { string_value: body }, tag: { string_value: 'demo' } } } });
const written = await call(documents, 'Write', {
  collection: 'node_notes',
  mutations: [doc('n1', 'hello from Node'), doc('n2', 'snapshots and forks, hello again')],
});
console.log(`written at lsn ${written.lsn}`);

const { ticket } = await call(flushes, 'Flush', {});
const { snapshot } = await call(flushes, 'AwaitFlush', { ticket }, 120);
console.log(`ticket ${ticket.fork_id}:${ticket.seq}:${ticket.lsn} -> snapshot ${snapshot.id}`);

const found = await call(documents, 'Search', { collection: 'node_notes', query: 'hello', snapshot_id: snapshot.id });
console.log(`${found.total_hits} hits at ${found.snapshot_id}`);
for (const hit of found.hits) console.log(`  ${hit.id}  ${hit.score.toFixed(2)}  ${hit.document.fields.body.string_value}`);

try {
  await call(documents, 'Get', { collection: 'node_notes', id: 'missing' });
} catch (err) {
  console.log(`missing document: ${grpc.status[err.code]}: ${err.details}`);
}
[collections, documents, flushes].forEach((c) => c.close());
