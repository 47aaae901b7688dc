// GraphiQL, served by the server, in headless Chromium (Debian's, driven by playwright-core): a
// staff member signs in with the form above the editor and a `bannerUpdated` subscription
// receives a change made meanwhile; without signing in the page shows the server's refusal.
// Screenshots of both go to build/.
import test from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { ARTIFACTS, BASE, EMAIL, PASSWORD, staff } from './support.mjs';

const SUBSCRIPTION = 'subscription Live { bannerUpdated { bannerId action } }';

async function runInEditor(page, query) {
  await page.waitForSelector('.graphiql-query-editor .CodeMirror');
  await page.evaluate((q) => {
    document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(q);
  }, query);
  // GraphiQL picks the operation name from the edited document after a short debounce.
  await page.waitForTimeout(1000);
  await page.click('.graphiql-execute-button');
}

async function resultText(page) {
  return page.evaluate(() => {
    const pane = document.querySelector('.result-window');
    return pane ? pane.textContent : '';
  });
}

test('GraphiQL: sign in, subscribe, receive; refused without signing in', async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    headless: true,
    args: ['--no-sandbox'],
  });
  try {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${BASE}/graphiql`);
    await page.fill('#staff-email', EMAIL);
    await page.fill('#staff-password', PASSWORD);
    await page.click('#staff-sign-in');
    await page.waitForFunction(() => document.getElementById('staff-status').textContent.includes('Signed in'));
    await runInEditor(page, SUBSCRIPTION);

    const banner = (await staff('{ adminHeroBanners(first: 1) { edges { node { id } } } }'))
      .adminHeroBanners.edges[0].node.id;
    // Change the banner until the open subscription shows it (it may still be connecting).
    let text = '';
    for (let i = 0; i < 50 && !text.includes(banner); i++) {
      await staff('mutation($id: ID!, $t: String!) { updateHeroBanner(id: $id, input: { title: $t }) { id } }', {
        id: banner,
        t: `GraphiQL live ${i}`,
      });
      await page.waitForTimeout(200);
      text = await resultText(page);
    }
    await page.screenshot({ path: `${ARTIFACTS}graphiql-subscribed.png` });
    assert.ok(text.includes('bannerUpdated') && text.includes(banner), text);
    assert.ok(text.includes('UPDATED'), text);

    // A new visitor, not signed in: the server refuses the socket and the page says why.
    const anonymous = await (await browser.newContext()).newPage();
    await anonymous.goto(`${BASE}/graphiql`);
    await runInEditor(anonymous, SUBSCRIPTION);
    await anonymous.waitForFunction(() => document.getElementById('staff-status').textContent.includes('4401'));
    const refused = await resultText(anonymous);
    await anonymous.screenshot({ path: `${ARTIFACTS}graphiql-refused.png` });
    assert.ok(refused.includes('4401'), refused);
  } finally {
    await browser.close();
  }
});
