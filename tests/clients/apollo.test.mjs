// Apollo Client against a PERSISTED_QUERIES_ONLY server: the manifest that
// @apollo/generate-persisted-query-manifest built from apollo/*.graphql was registered with
// `techpotli register-queries`; the client sends only hashes, over GET (the CDN-cacheable form),
// and is served before and after the server's Redis is flushed and while it is down.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { generatePersistedQueryIdsFromManifest } from '@apollo/persisted-query-lists';

const BASE = process.env.TECHPOTLI_PQ_URL;
const REDIS_PORT = process.env.TECHPOTLI_PQ_REDIS_PORT;
const manifest = JSON.parse(readFileSync(new URL('./build/persisted-query-manifest.json', import.meta.url)));
const document = (name) => gql(readFileSync(new URL(`./apollo/${name}.graphql`, import.meta.url), 'utf8'));

function client(requests) {
  const recordingFetch = (url, init) => {
    requests.push({ method: (init && init.method) || 'GET', url: String(url) });
    return fetch(url, init);
  };
  const link = new PersistedQueryLink({
    ...generatePersistedQueryIdsFromManifest({ loadManifest: () => Promise.resolve(manifest) }),
    useGETForHashedQueries: true,
  }).concat(new HttpLink({ uri: `${BASE}/graphql`, fetch: recordingFetch }));
  return new ApolloClient({ link, cache: new InMemoryCache() });
}

const HOME = document('StoreHome');
const PRODUCT = document('ProductPage');

async function storefront(label) {
  const requests = [];
  const c = client(requests);
  const home = await c.query({ query: HOME, fetchPolicy: 'network-only' });
  assert.ok(home.data.products.edges.length > 0, `${label}: products`);
  const handle = home.data.products.edges[0].node.handle;
  const page = await c.query({ query: PRODUCT, variables: { handle }, fetchPolicy: 'network-only' });
  assert.equal(page.data.product.handle, handle);
  assert.ok(page.data.product.variants.length > 0, `${label}: variants`);
  // Hashes only, over GET: no document text ever leaves the client.
  assert.equal(requests.length, 2, `${label}: ${JSON.stringify(requests)}`);
  for (const r of requests) {
    assert.equal(r.method, 'GET', `${label}: ${r.url}`);
    assert.ok(r.url.includes('persistedQuery'), r.url);
    assert.ok(!new URL(r.url).searchParams.has('query'), `${label}: document sent: ${r.url}`);
  }
}

function redis(...args) {
  return execFileSync('redis-cli', ['-p', REDIS_PORT, ...args], { encoding: 'utf8' });
}

test('persisted queries from the manifest run over GET, with Redis, flushed and down', async () => {
  assert.ok(manifest.operations.length >= 2);
  await storefront('warm');
  redis('FLUSHALL');
  await storefront('after FLUSHALL');
  try {
    redis('SHUTDOWN', 'NOSAVE');
  } catch {
    // redis-cli reports the lost connection of a successful SHUTDOWN.
  }
  assert.throws(() => redis('PING'), 'Redis is down');
  await storefront('Redis down');
});

test('an operation outside the manifest is refused', async () => {
  const response = await fetch(`${BASE}/graphql?` + new URLSearchParams({ query: '{ regions { id } }' }));
  const body = await response.json();
  assert.equal(body.errors[0].extensions.code, 'PERSISTED_QUERY_NOT_ALLOWED');
});
