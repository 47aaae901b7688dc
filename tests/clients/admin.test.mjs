// The admin console (/admin) in headless Chromium against a live server: skeleton rows while the
// list loads (the network slowed), sign-in, a banner created with an uploaded image appearing at
// once (optimistic) and in a second signed-in browser live, a keyboard reorder saved through the
// batch mutation, a change the server refuses (an end before the start) rolled back with the
// server's message, and a token the server no longer accepts sending the tab back to sign-in.
// Screenshots of each state go to build/.
import test from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { ARTIFACTS, BASE, EMAIL, PASSWORD, staff } from './support.mjs';

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);

/// Slows the GraphQL requests whose body mentions `needle` by `ms`.
async function slow(page, needle, ms) {
  await page.route('**/graphql', async (route) => {
    const body = route.request().postData() || '';
    if (body.includes(needle)) await new Promise((r) => setTimeout(r, ms));
    await route.continue();
  });
}

async function signIn(page) {
  await page.goto(`${BASE}/admin`);
  await page.fill('#login-email', EMAIL);
  await page.fill('#login-password', PASSWORD);
  await page.click('#login button[type=submit]');
}

function titles(page) {
  return page.$$eval('#rows tr[data-id] td.title', (cells) => cells.map((c) => c.textContent));
}

test('the admin console: skeletons, create with an image, live, reorder, rollback', async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM, headless: true, args: ['--no-sandbox'] });
  try {
    const a = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    a.on('dialog', (dialog) => dialog.accept());
    await slow(a, 'adminHeroBanners', 1500);
    await signIn(a);
    // While the list loads: skeleton rows, not "Loading...".
    await a.waitForSelector('#rows tr.skeleton-row', { timeout: 5000 });
    await a.screenshot({ path: `${ARTIFACTS}admin-skeleton.png` });
    await a.waitForSelector('#rows tr[data-id]', { timeout: 10000 });
    assert.equal(await a.$('#rows tr.skeleton-row'), null);
    await a.waitForFunction(() => document.getElementById('connection').textContent === 'Live');
    assert.equal(await a.isVisible('#login-view'), false);

    // A second staff member, on another browser (tablet width), live.
    const b = await (await browser.newContext({ viewport: { width: 820, height: 1000 } })).newPage();
    await signIn(b);
    await b.waitForSelector('#rows tr[data-id]');
    await b.waitForFunction(() => document.getElementById('connection').textContent === 'Live');

    // Create with an uploaded image: in the table at once, then saved.
    await a.click('#new-banner');
    await a.fill('#f-title', 'Monsoon live');
    await a.setInputFiles('#f-image', { name: 'monsoon.png', mimeType: 'image/png', buffer: PNG });
    await a.waitForSelector('#f-preview:not([hidden])');
    await a.click('#banner-form button[type=submit]');
    await a.waitForFunction(() => [...document.querySelectorAll('#rows td.title')].some((c) => c.textContent === 'Monsoon live'));
    await a.waitForSelector('#rows tr[data-id]:not(.pending) >> text=Monsoon live');
    await a.screenshot({ path: `${ARTIFACTS}admin-created.png` });
    const created = (await staff('{ adminHeroBanners(first: 100) { edges { node { id title imageUrl sortOrder } } } }'))
      .adminHeroBanners.edges.map((e) => e.node);
    const monsoon = created.find((n) => n.title === 'Monsoon live');
    assert.ok(monsoon && monsoon.imageUrl.startsWith('/files/banners/'), JSON.stringify(monsoon));
    // The other browser shows it without a refresh, and logs the event.
    await b.waitForSelector('#rows td.title >> text=Monsoon live', { timeout: 10000 });
    assert.match(await b.textContent('#activity'), /Banner created/);
    await b.screenshot({ path: `${ARTIFACTS}admin-live.png` });

    // Keyboard reorder: the new (last) banner moves up one place, saved in one batch.
    const before = await titles(a);
    assert.equal(before[before.length - 1], 'Monsoon live');
    await a.focus(`#rows tr[data-id="${monsoon.id}"] .handle`);
    await a.keyboard.press('Alt+ArrowUp');
    const expected = [...before.slice(0, -2), 'Monsoon live', before[before.length - 2]];
    assert.deepEqual(await titles(a), expected);
    let saved = [];
    for (let i = 0; i < 50; i++) {
      saved = (await staff('{ adminHeroBanners(first: 100) { edges { node { title } } } }')).adminHeroBanners.edges.map((e) => e.node.title);
      if (JSON.stringify(saved) === JSON.stringify(expected)) break;
      await a.waitForTimeout(100);
    }
    assert.deepEqual(saved, expected);
    await b.waitForFunction((want) => JSON.stringify([...document.querySelectorAll('#rows td.title')].map((c) => c.textContent)) === want, JSON.stringify(expected), { timeout: 10000 });

    // The server refuses (the window ends before it starts): the optimistic row goes away again
    // and the server's message is shown.
    await a.unroute('**/graphql');
    await slow(a, 'createHeroBanner', 800);
    await a.click('#new-banner');
    await a.fill('#f-title', 'Backwards window');
    await a.fill('#f-image-url', '/files/b.png');
    await a.fill('#f-starts', '2030-05-02T10:00');
    await a.fill('#f-ends', '2030-05-01T10:00');
    await a.click('#banner-form button[type=submit]');
    await a.waitForSelector('#rows tr.pending >> text=Backwards window');
    await a.waitForSelector('#notice:not([hidden])', { timeout: 10000 });
    assert.match(await a.textContent('#notice'), /endsAt.*after.*startsAt/);
    assert.ok(!(await titles(a)).includes('Backwards window'));
    await a.screenshot({ path: `${ARTIFACTS}admin-rolled-back.png` });
    const after = (await staff('{ adminHeroBanners(first: 100) { edges { node { title } } } }')).adminHeroBanners.edges;
    assert.ok(!after.some((e) => e.node.title === 'Backwards window'));

    // Toggle, then delete (confirmed): saved, and gone from the other browser too.
    await a.click(`#rows tr[data-id="${monsoon.id}"] input[type=checkbox]`);
    let active = true;
    for (let i = 0; i < 50 && active; i++) {
      const node = (await staff('query($id: ID!) { node(id: $id) { ... on AdminHeroBanner { isActive } } }', { id: monsoon.id })).node;
      active = node.isActive;
      if (active) await a.waitForTimeout(100);
    }
    assert.equal(active, false, 'the toggle was saved');
    await a.click(`#rows tr[data-id="${monsoon.id}"] [data-role=delete]`);
    await a.waitForFunction((id) => !document.querySelector(`#rows tr[data-id="${id}"]`), monsoon.id);
    await b.waitForFunction((id) => !document.querySelector(`#rows tr[data-id="${id}"]`), monsoon.id, { timeout: 10000 });
    assert.match(await b.textContent('#activity'), /Banner deleted/);

    // A token the server no longer accepts: back to the sign-in form, with a message.
    await a.evaluate(() => window.sessionStorage.setItem('techpotli.console.token', 'no.longer.valid'));
    await a.reload();
    await a.waitForSelector('#login-view:not([hidden])', { timeout: 10000 });
    assert.match(await a.textContent('#notice'), /session has expired/);
    assert.equal(await a.isVisible('#banners-view'), false);
  } finally {
    await browser.close();
  }
});
