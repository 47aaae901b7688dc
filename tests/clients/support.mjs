// Shared by the browser suites: the live server, a staff token, and where screenshots go.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';

export const BASE = process.env.TECHPOTLI_URL;
export const TOKEN = process.env.TECHPOTLI_STAFF_TOKEN;
export const EMAIL = process.env.TECHPOTLI_STAFF_EMAIL;
export const PASSWORD = process.env.TECHPOTLI_STAFF_PASSWORD;
export const ARTIFACTS = new URL('./build/', import.meta.url).pathname;
mkdirSync(ARTIFACTS, { recursive: true });

/// A GraphQL operation as staff (over HTTP, beside the browser); returns `data`.
export async function staff(query, variables = {}) {
  const response = await fetch(`${BASE}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}
