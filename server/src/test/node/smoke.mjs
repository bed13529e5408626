// A Strata client in JavaScript: no generated code, the .proto files are loaded at run time.
// Usage: node smoke.mjs <host:port> <proto dir>
// Creates a collection, writes, flushes, awaits the ticket, searches, reads at the snapshot,
// and checks a status code. Prints "node smoke: N passed, 0 failed" or exits 1 with the reason.
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import path from 'node:path';

const [target, protoDir] = process.argv.slice(2);
if (!target || !protoDir) {
  console.error('usage: node smoke.mjs <host:port> <proto dir>');
  process.exit(2);
}

const files = ['collection', 'document', 'flush', 'snapshot', 'fork', 'admin']
  .map((f) => path.join(protoDir, 'strata', 'v1', `${f}.proto`));
const definition = protoLoader.loadSync(files, {
  includeDirs: [protoDir],
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});
const v1 = grpc.loadPackageDefinition(definition).strata.v1;
const creds = grpc.credentials.createInsecure();
const collections = new v1.CollectionService(target, creds);
const documents = new v1.DocumentService(target, creds);
const flushes = new v1.FlushService(target, creds);

function call(client, method, request, timeoutMs = 20000) {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + timeoutMs);
    client[method](request, { deadline }, (err, response) => (err ? reject(err) : resolve(response)));
  });
}

let passed = 0;
function check(condition, what) {
  if (!condition) {
    throw new Error(`check failed: ${what}`);
  }
  passed++;
}

const fork = 'main';
const collection = 'node_smoke';
try {
  const created = await call(collections, 'CreateOrGetCollection', {
    fork,
    name: collection,
    fields: [
      { name: 'title', kind: 'FIELD_KIND_TEXT' },
      { name: 'lang', kind: 'FIELD_KIND_KEYWORD' },
      { name: 'stars', kind: 'FIELD_KIND_LONG' },
    ],
  });
  check(created.collection && created.collection.name === collection, 'collection created');

  const doc = (id, title, lang, stars) => ({
    put: {
      id,
      fields: {
        title: { string_value: title },
        lang: { string_value: lang },
        stars: { int64_value: String(stars) },
      },
    },
  });
  const written = await call(documents, 'Write', {
    fork,
    collection,
    mutations: [doc('js-1', 'a fast text editor', 'js', 10), doc('js-2', 'an http library', 'js', 3)],
    durability: 'DURABILITY_SYNC',
  });
  check(Number(written.lsn) > 0, 'write answered with an LSN');

  const got = await call(documents, 'Get', { fork, collection, id: 'js-1' });
  check(got.document.fields.title.string_value === 'a fast text editor', 'read your write at the head');

  const flushed = await call(flushes, 'Flush', { fork });
  check(flushed.ticket && Number(flushed.ticket.lsn) >= Number(written.lsn), 'flush returned a ticket');
  const awaited = await call(flushes, 'AwaitFlush', { ticket: flushed.ticket });
  const snapshotId = awaited.snapshot.id;
  check(Number(awaited.snapshot.covered_lsn) >= Number(written.lsn), 'the snapshot covers the write');

  const found = await call(documents, 'Search', {
    fork,
    collection,
    query: 'editor',
    term_filters: [{ field: 'lang', values: ['js'] }],
    limit: 10,
  });
  check(found.hits.length === 1 && found.hits[0].id === 'js-1', 'search finds the editor');

  await call(documents, 'Write', {
    fork,
    collection,
    mutations: [{ delete_id: 'js-1' }],
    durability: 'DURABILITY_SYNC',
  });
  const atSnapshot = await call(documents, 'Get', { fork, collection, id: 'js-1', snapshot_id: snapshotId });
  check(atSnapshot.document.id === 'js-1', 'the snapshot still has the deleted document');

  try {
    await call(documents, 'Get', { fork, collection, id: 'js-1' });
    check(false, 'a deleted document is NOT_FOUND at the head');
  } catch (err) {
    check(err.code === grpc.status.NOT_FOUND, `deleted document gives NOT_FOUND (got ${err.code})`);
  }
  try {
    await call(collections, 'CreateOrGetCollection', { fork: '../x', name: collection, fields: [] });
    check(false, 'a bad fork name is refused');
  } catch (err) {
    check(err.code === grpc.status.INVALID_ARGUMENT, `bad fork name gives INVALID_ARGUMENT (got ${err.code})`);
  }
  console.log(`node smoke: ${passed} passed, 0 failed`);
  process.exit(0);
} catch (err) {
  console.error(`node smoke: ${passed} passed, 1 failed: ${err.message || err}`);
  process.exit(1);
}
