// Relay against the live server: the compiled storefront and staff documents run in ONE store
// (a staff app shows both kinds of record side by side). Relay warns (in development builds) when
// two records share an ID with different types — "Expected __typename to be consistent" — and
// this test fails on any warning, then checks every record's ID names its own type.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { Environment, Network, RecordSource, Store, fetchQuery } = require('relay-runtime');

const BASE = process.env.TECHPOTLI_URL;
const TOKEN = process.env.TECHPOTLI_STAFF_TOKEN;

function environment(warnings) {
  const network = Network.create(async (params, variables) => {
    const response = await fetch(`${BASE}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ query: params.text, variables }),
    });
    const body = await response.json();
    if (body.errors) warnings.push(`server errors: ${JSON.stringify(body.errors)}`);
    return body;
  });
  return new Environment({ network, store: new Store(new RecordSource()) });
}

function capture(warnings) {
  const original = { error: console.error, warn: console.warn };
  console.error = (...args) => warnings.push(args.join(' '));
  console.warn = (...args) => warnings.push(args.join(' '));
  return () => Object.assign(console, original);
}

function load(env, query, variables) {
  return fetchQuery(env, query, variables, { fetchPolicy: 'network-only' }).toPromise();
}

function typeOfId(id) {
  return Buffer.from(id, 'base64url').toString('utf8').split(':')[0];
}

test('store and staff records live in one Relay store without conflicts', async () => {
  const warnings = [];
  const restore = capture(warnings);
  try {
    const env = environment(warnings);
    const store = require('./relay/__generated__/documentsStoreQuery.graphql.js');
    const staff = require('./relay/__generated__/documentsStaffQuery.graphql.js');
    const storeData = await load(env, store, { first: 5 });
    const staffData = await load(env, staff, { first: 5 });
    // The same products, seen by the store and by staff.
    const storeIds = storeData.products.edges.map((e) => e.node.id);
    const staffIds = staffData.adminProducts.edges.map((e) => e.node.id);
    assert.equal(storeIds.length, 5);
    assert.equal(staffIds.length, 5);
    // Refetch through node(id) with the generated refetch queries, store and staff side.
    const productRefetch = require('./relay/__generated__/ProductRefetchQuery.graphql.js');
    const adminRefetch = require('./relay/__generated__/AdminProductRefetchQuery.graphql.js');
    const again = await load(env, productRefetch, { id: storeIds[0] });
    assert.ok(again.node, 'the product refetched through node(id)');
    // The staff record of the very product the store listed first: two records, one product.
    const staffId = Buffer.from(`Admin${Buffer.from(storeIds[0], 'base64url')}`).toString('base64url');
    const adminAgain = await load(env, adminRefetch, { id: staffId });
    assert.ok(adminAgain.node, 'the staff product refetched through node(id)');
    const bannerRefetch = require('./relay/__generated__/AdminHeroBannerRefetchQuery.graphql.js');
    const bannerId = staffData.adminHeroBanners.edges[0].node.id;
    const banner = await load(env, bannerRefetch, { id: bannerId });
    assert.ok(banner.node, 'the staff banner refetched through node(id)');
    const source = env.getStore().getSource();
    assert.equal(source.get(bannerId).__typename, 'AdminHeroBanner');
    assert.equal(source.get(storeIds[0]).__typename, 'Product');
    assert.equal(source.get(staffId).__typename, 'AdminProduct');
    assert.equal(source.get(storeIds[0]).handle, source.get(staffId).handle);

    const records = env.getStore().getSource().toJSON();
    for (const [dataId, record] of Object.entries(records)) {
      if (dataId.startsWith('client:') || !record || !record.__typename || !record.id) continue;
      assert.equal(typeOfId(record.id), record.__typename, `record ${dataId} is a ${record.__typename}`);
    }
    assert.ok(Object.values(records).some((r) => r && r.__typename === 'Product'));
    assert.ok(Object.values(records).some((r) => r && r.__typename === 'AdminProduct'));
  } finally {
    restore();
  }
  assert.deepEqual(warnings, [], 'Relay warned');
});
