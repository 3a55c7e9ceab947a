/*
 * snippet.test.js - what /tally.js does inside a page: storage of tly and
 * the device id, email hashing, the transports and their fallbacks, and
 * the ways a shop can configure it. Beacons are read from the browser's
 * network events and, where tallyd records them, from Redis.
 */
'use strict';

const assert = require('node:assert/strict');
const path = require('node:path');
const { after, afterEach, before, test } = require('node:test');

const { launchProfile, sha256Hex, startStack, waitUntil } = require('./harness');
const { serve, startShop } = require('./shop');

/* The worked example of docs/tokens.md. */
const JANE_TYPED = '\t Jane.Doe@Example.COM\n';
const JANE_SHA256 = '86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d';
const FAKE_TLY = 'AbC-_123xyz';

let stack;
let redis;
let tally;
let opened = [];
let profileCount = 0;

before(async () => {
    stack = await startStack('tally-snippet-');
    ({ redis, tally } = stack);
});

afterEach(async () => {
    for (const closer of opened.reverse()) {
        await closer();
    }
    opened = [];
});

after(() => stack && stack.stop());

/* A profile with a fresh user-data-dir, closed after the test. An init
 * script, when given, runs in every page before the snippet. */
async function browser(initScript, userDataDir) {
    const dir = userDataDir || path.join(stack.dir, 'profiles', `p${++profileCount}`);
    const context = await launchProfile(dir);
    opened.push(() => context.close());
    if (initScript) {
        await context.addInitScript(initScript);
    }
    const page = context.pages()[0] || await context.newPage();
    const beacons = [];
    context.on('requestfinished', async (request) => {
        if (request.url().startsWith(`${tally.base}/b`)) {
            const response = await request.response();
            beacons.push({ request, status: response ? response.status() : 0 });
        }
    });
    return { context, page, beacons, dir };
}

async function shop(shopId, options = {}) {
    const s = await startShop({ tally: tally.base, shopId, customers: {}, ...options });
    opened.push(() => s.close());
    return s;
}

function bodyOf(beacon) {
    return JSON.parse(beacon.request.postData());
}

function waitForBeacon(beacons, predicate, what) {
    return waitUntil(() => beacons.find(predicate), what);
}

test('landing strips only tly', async () => {
    const s = await shop('strip');
    const { page } = await browser();
    await page.goto(`${s.url}/product`);
    const entriesBefore = await page.evaluate(() => history.length);

    await page.goto(`${s.url}/?a=%7E+b&tly=${FAKE_TLY}&z=1#frag`);
    const location = await page.evaluate(() => [location.pathname, location.search, location.hash]);
    assert.deepEqual(location, ['/', '?a=%7E+b&z=1', '#frag']);
    assert.equal(await page.evaluate(() => localStorage.getItem('tally_tly')), FAKE_TLY);
    assert.equal(await page.evaluate(() => history.length), entriesBefore + 1,
        'replaceState adds no history entry');
});

test('malformed tly stripped not stored', async () => {
    const s = await shop('malformed');
    const { page } = await browser();

    await page.goto(`${s.url}/product?tly=%3Cscript%3E`);
    assert.equal(await page.evaluate(() => location.search), '');
    assert.equal(await page.evaluate(() => localStorage.getItem('tally_tly')), null);
});

test('device id stable per profile', async () => {
    const s = await shop('device');
    const first = await browser();

    await first.page.goto(`${s.url}/?tly=${FAKE_TLY}`);
    const id = await first.page.evaluate(() => localStorage.getItem('tally_device'));
    assert.match(id, /^[0-9a-f]{32}$/);
    await first.page.goto(`${s.url}/product`);
    assert.equal(await first.page.evaluate(() => localStorage.getItem('tally_device')), id);
    await first.context.close();

    const again = await browser(null, first.dir);
    await again.page.goto(`${s.url}/product`);
    await again.page.evaluate(() => tally.identify({ customerId: 'c-1', emailSha256: 'AB'.repeat(32) }));
    const beacon = await waitForBeacon(again.beacons, (b) => b.request.method() === 'POST', 'an identify');
    assert.equal(bodyOf(beacon).device_id, id, 'the same profile keeps its device id');

    const other = await browser();
    await other.page.goto(`${s.url}/?tly=${FAKE_TLY}`);
    const otherId = await other.page.evaluate(() => localStorage.getItem('tally_device'));
    assert.match(otherId, /^[0-9a-f]{32}$/);
    assert.notEqual(otherId, id);
});

test('email hashed in the page', async () => {
    const s = await shop('hashing');
    const { page, beacons } = await browser();

    await page.goto(`${s.url}/`);
    await page.evaluate((typed) => tally.identify({ customerId: 'c-7', email: typed }), JANE_TYPED);
    await page.evaluate(() => tally.identify({ customerId: 'c-8', email: 'MÜLLER@example.de' }));
    await waitUntil(() => beacons.length === 2, 'two identify beacons');

    const [jane, muller] = beacons.map(bodyOf).sort((a, b) => a.customer_id.localeCompare(b.customer_id));
    assert.equal(jane.email_sha256, JANE_SHA256);
    assert.equal(muller.email_sha256, sha256Hex('mÜller@example.de'), 'only A-Z is lower-cased');
    for (const beacon of beacons) {
        assert.ok(!beacon.request.postData().includes('@'), 'no address leaves the page');
    }
});

test('checkout sends order and uses up tly', async () => {
    const s = await shop('order');
    const { page, beacons } = await browser();

    await page.goto(`${s.url}/?tly=${FAKE_TLY}`);
    await page.evaluate(() => tally.checkout({ orderId: 77, revenue: 12.5, currency: 'eur', customerId: 'c-9' }));
    const beacon = await waitForBeacon(beacons, (b) => bodyOf(b).type === 'checkout', 'a checkout');
    assert.equal(beacon.request.resourceType(), 'ping', 'sent with navigator.sendBeacon');
    assert.equal(beacon.request.headers()['content-type'], 'text/plain;charset=UTF-8');
    assert.equal(beacon.status, 204);
    assert.deepEqual(bodyOf(beacon), {
        type: 'checkout', shop: 'order', token: FAKE_TLY, customer_id: 'c-9',
        device_id: await page.evaluate(() => localStorage.getItem('tally_device')),
        order_id: '77', revenue: '12.5', currency: 'EUR',
    });
    assert.equal(await page.evaluate(() => localStorage.getItem('tally_tly')), null);

    const order = await waitUntil(async () => {
        const record = await redis.client.hgetall('o:{order}:77');
        return record.revenue ? record : null;
    }, 'order 77 in Redis');
    assert.equal(order.revenue, '1250');
    assert.equal(order.currency, 'EUR');
});

test('cookie used when localStorage blocked', async () => {
    const s = await shop('cookie');
    const { page, beacons } = await browser(() => {
        Object.defineProperty(window, 'localStorage', {
            get() { throw new DOMException('storage is blocked', 'SecurityError'); },
        });
    });

    await page.goto(`${s.url}/?tly=${FAKE_TLY}`);
    const cookie = await page.evaluate(() => document.cookie);
    assert.match(cookie, new RegExp(`(^|; )tally_tly=${FAKE_TLY}(;|$)`));
    assert.match(cookie, /(^|; )tally_device=[0-9a-f]{32}(;|$)/);

    await page.goto(`${s.url}/product`);
    await page.evaluate(() => tally.checkout({ orderId: 'k-1', revenue: '1.00', currency: 'EUR' }));
    const beacon = await waitForBeacon(beacons, (b) => bodyOf(b).type === 'checkout', 'a checkout');
    assert.equal(bodyOf(beacon).token, FAKE_TLY);
    assert.match(bodyOf(beacon).device_id, /^[0-9a-f]{32}$/);
    assert.doesNotMatch(await page.evaluate(() => document.cookie), /tally_tly=/);
});

test('fetch used without sendBeacon', async () => {
    const s = await shop('fetch');
    const { page, beacons } = await browser(() => {
        Object.defineProperty(Navigator.prototype, 'sendBeacon', { value: undefined });
    });

    await page.goto(`${s.url}/`);
    await page.evaluate(() => tally.checkout({ orderId: 'f-1', revenue: '3.00', currency: 'EUR' }));
    const beacon = await waitForBeacon(beacons, () => true, 'a beacon');
    assert.equal(beacon.request.resourceType(), 'fetch');
    assert.equal(beacon.request.method(), 'POST');
    assert.equal(bodyOf(beacon).order_id, 'f-1');
    await waitUntil(async () => (await redis.client.hgetall('o:{fetch}:f-1')).currency === 'EUR',
        'order f-1 in Redis');
});

test('fetch used when sendBeacon refuses', async () => {
    const s = await shop('refused');
    const { page, beacons } = await browser(() => {
        Object.defineProperty(Navigator.prototype, 'sendBeacon', { value: () => false });
    });

    await page.goto(`${s.url}/`);
    await page.evaluate(() => tally.checkout({ orderId: 'r-1', revenue: '3.00', currency: 'EUR' }));
    const beacon = await waitForBeacon(beacons, () => true, 'a beacon');
    assert.equal(beacon.request.resourceType(), 'fetch');
    assert.equal(bodyOf(beacon).order_id, 'r-1');
});

test('image used without sendBeacon and fetch', async () => {
    const s = await shop('image');
    const { page, beacons } = await browser(() => {
        Object.defineProperty(Navigator.prototype, 'sendBeacon', { value: undefined });
        Object.defineProperty(window, 'fetch', { value: undefined });
    });

    await page.goto(`${s.url}/?tly=${FAKE_TLY}`);
    await page.evaluate(() => tally.checkout({ orderId: 'i-1', revenue: '3.00', currency: 'EUR' }));
    const beacon = await waitForBeacon(beacons,
        (b) => new URL(b.request.url()).searchParams.get('type') === 'checkout', 'an image beacon');
    const url = new URL(beacon.request.url());
    assert.equal(url.pathname, '/b.gif');
    assert.equal(beacon.request.method(), 'GET');
    assert.deepEqual(Object.fromEntries(url.searchParams), {
        type: 'checkout', shop: 'image', token: FAKE_TLY,
        device_id: await page.evaluate(() => localStorage.getItem('tally_device')),
        order_id: 'i-1', revenue: '3.00', currency: 'EUR',
    });
    assert.equal(beacon.status, 200);
    await waitUntil(async () => (await redis.client.hgetall('o:{image}:i-1')).currency === 'EUR',
        'order i-1 in Redis');
});

test('global config and queued calls', async () => {
    /* The page serves its own copy of tally.js, so the beacon reaches
     * tallyd only through window.tallyConfig.endpoint. */
    const script = Buffer.from(await (await fetch(`${tally.base}/tally.js`)).arrayBuffer());
    const site = await serve((req, res) => {
        if (req.url === '/static/tally.js') {
            res.writeHead(200, { 'Content-Type': 'application/javascript' });
            res.end(script);
            return;
        }
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        res.end(`<!doctype html><html><head><script>
window.tallyConfig = { endpoint: ${JSON.stringify(tally.base)}, shop: 'global' };
window.tally = window.tally || [];
tally.push(['checkout', { orderId: 'q-1', revenue: '5.00', currency: 'EUR' }]);
</script><script async src="/static/tally.js"></script></head><body>queued</body></html>`);
    });
    opened.push(() => site.close());
    const { page, beacons } = await browser();

    await page.goto(`${site.url}/`);
    const beacon = await waitForBeacon(beacons, () => true, 'the queued checkout');
    assert.equal(bodyOf(beacon).shop, 'global');
    assert.equal(bodyOf(beacon).order_id, 'q-1');
    await waitUntil(async () => (await redis.client.hgetall('o:{global}:q-1')).revenue === '500',
        'order q-1 in Redis');
    assert.equal(await page.evaluate(() => typeof tally.checkout), 'function');
});
