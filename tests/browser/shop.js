/*
 * shop.js - a small test webshop and a webmail page, each a Node HTTP
 * server on a free loopback port.
 *
 * The shop has the pages a real one installs the snippet on: landing page,
 * login, account, product, checkout and order confirmation. Every page
 * loads /tally.js from tallyd. Sessions and orders live in memory. The
 * confirmation page renders the order into its tally.checkout call, as a
 * shop's server-side template would. Pages keep the promise a tally call
 * returns in window.tallyCall, so a test can wait for the beacon.
 */
'use strict';

const crypto = require('crypto');
const http = require('http');

const PRICE = '89.95';
const CURRENCY = 'EUR';

/* Starts an HTTP server for handler on 127.0.0.1; resolves to its base
 * URL, the list of request URLs it saw and a close function. */
function serve(handler) {
    const requests = [];
    const server = http.createServer((req, res) => {
        requests.push(req.url);
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (chunk) => { body += chunk; });
        req.on('end', () => {
            try {
                handler(req, res, body);
            } catch (e) {
                res.writeHead(500, { 'Content-Type': 'text/plain' });
                res.end(String(e.stack));
            }
        });
    });
    return new Promise((resolve) => {
        server.listen(0, '127.0.0.1', () => resolve({
            url: `http://127.0.0.1:${server.address().port}`,
            requests,
            close: () => new Promise((done) => {
                server.closeAllConnections();
                server.close(done);
            }),
        }));
    });
}

function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/* JSON for an inline script: "<" escaped so no value can close the tag. */
function scriptJson(value) {
    return JSON.stringify(value).replace(/</g, '\\u003c');
}

function sendHtml(res, html, headers = {}) {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', ...headers });
    res.end(html);
}

function redirect(res, location, headers = {}) {
    res.writeHead(303, { Location: location, ...headers });
    res.end();
}

function cookies(req) {
    const out = {};
    for (const piece of (req.headers.cookie || '').split(';')) {
        const eq = piece.indexOf('=');
        if (eq > 0) {
            out[piece.slice(0, eq).trim()] = piece.slice(eq + 1).trim();
        }
    }
    return out;
}

/*
 * Starts the shop. options:
 *   tally        tallyd's base URL, where the pages load /tally.js
 *   shopId       the shop id the snippet sends
 *   customers    {email: customerId} of the accounts that can log in
 *   shareEmail   whether checkout passes the buyer's email to tally
 *                (default true)
 *   snippetTag   function(tally, shopId) returning the <script> HTML, to
 *                test other ways of installing the snippet
 */
async function startShop(options) {
    const sessions = new Map();
    const orders = new Map();
    let orderCount = 0;
    const shareEmail = options.shareEmail !== false;
    const snippetTag = options.snippetTag ||
        ((tally, shopId) => `<script src="${tally}/tally.js" data-shop="${shopId}"></script>`);

    function page(title, body, script = '') {
        return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)} - Test Shop</title>
<style>body{font:16px sans-serif;margin:2em;max-width:40em}
nav a{margin-right:1em}.order{border:1px solid #888;padding:1em;border-radius:6px}</style>
${snippetTag(options.tally, options.shopId)}
</head><body>
<nav><a href="/">Home</a><a href="/product">Product</a><a href="/login">Log in</a></nav>
<h1>${escapeHtml(title)}</h1>
${body}
${script ? `<script>${script}</script>` : ''}
</body></html>`;
    }

    function session(req) {
        return sessions.get(cookies(req).sid) || null;
    }

    const routes = {
        'GET /': (req, res) => sendHtml(res, page('Spring collection',
            '<p>Fresh arrivals.</p><p><a id="to-product" href="/product">See the rain jacket</a></p>')),

        'GET /login': (req, res) => sendHtml(res, page('Log in',
            `<form method="post" action="/login">
<label>Email <input id="email" name="email" type="email"></label>
<button id="log-in" type="submit">Log in</button></form>`)),

        'POST /login': (req, res, body) => {
            const email = new URLSearchParams(body).get('email') || '';
            const customerId = options.customers[email.trim().toLowerCase()];
            if (!customerId) {
                sendHtml(res, page('Log in', '<p>Unknown account.</p>'));
                return;
            }
            const sid = crypto.randomBytes(12).toString('hex');
            sessions.set(sid, { customerId, email });
            redirect(res, '/account', { 'Set-Cookie': `sid=${sid}; Path=/; HttpOnly; SameSite=Lax` });
        },

        /* The page right after a login, which identifies the customer to tally. */
        'GET /account': (req, res) => {
            const who = session(req);
            if (!who) {
                redirect(res, '/login');
                return;
            }
            sendHtml(res, page('Your account', `<p>Welcome back.</p><p><a href="/product">Shop</a></p>`,
                `window.tallyCall = tally.identify(${scriptJson({ customerId: who.customerId, email: who.email })});`));
        },

        'GET /product': (req, res) => sendHtml(res, page('Rain jacket',
            `<p>${PRICE} ${CURRENCY}</p><p><a id="buy" href="/checkout">Buy now</a></p>`)),

        'GET /checkout': (req, res) => {
            const who = session(req);
            const guest = who ? '' :
                '<label>Email <input id="email" name="email" type="email"></label>';
            sendHtml(res, page('Checkout', `<form method="post" action="/checkout">
<p>Rain jacket, ${PRICE} ${CURRENCY}</p>${guest}
<button id="place-order" type="submit">Place order</button></form>`));
        },

        'POST /checkout': (req, res, body) => {
            const who = session(req);
            orderCount += 1;
            const orderId = `${options.shopId}-${orderCount}`;
            orders.set(orderId, {
                orderId,
                revenue: PRICE,
                currency: CURRENCY,
                customerId: who ? who.customerId : undefined,
                email: who ? who.email : new URLSearchParams(body).get('email') || undefined,
            });
            redirect(res, `/confirmation?order=${encodeURIComponent(orderId)}`);
        },

        'GET /confirmation': (req, res) => {
            const orderId = new URL(req.url, 'http://shop').searchParams.get('order');
            const order = orders.get(orderId);
            if (!order) {
                res.writeHead(404, { 'Content-Type': 'text/plain' });
                res.end('no such order\n');
                return;
            }
            const call = { ...order };
            if (!shareEmail) {
                delete call.email;
            }
            sendHtml(res, page('Thank you for your order', `<div class="order">
<p>Order <strong id="order-id">${escapeHtml(order.orderId)}</strong></p>
<p>Rain jacket: ${PRICE} ${CURRENCY}</p>
<p>A confirmation is on its way to your inbox.</p></div>`,
            `window.tallyCall = tally.checkout(${scriptJson(call)});`));
        },
    };

    const server = await serve((req, res, body) => {
        const pathname = new URL(req.url, 'http://shop').pathname;
        const route = routes[`${req.method} ${pathname}`];
        if (!route) {
            res.writeHead(404, { 'Content-Type': 'text/plain' });
            res.end('not found\n');
            return;
        }
        route(req, res, body);
    });
    return { ...server, orders };
}

/* Starts a webmail server whose /message page is the rendered email: the
 * open pixel and one tracked link, as tallyctl minted them. */
function startWebmail(pixelUrl, clickUrl) {
    const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Spring sale</title></head><body>
<p>Hello, our spring collection is here.</p>
<p><a id="cta" href="${escapeHtml(clickUrl)}">Shop the spring sale</a></p>
<img id="pixel" src="${escapeHtml(pixelUrl)}" width="1" height="1" alt="">
</body></html>`;

    return serve((req, res) => sendHtml(res, html));
}

module.exports = { serve, startShop, startWebmail, PRICE, CURRENCY };
