/*
 * tally.js - the webshop snippet, served by tallyd as /tally.js.
 *
 * On every page it keeps two values in first-party storage (localStorage,
 * or a first-party cookie where localStorage is blocked):
 *   - the tly click token from the landing URL, which it then removes from
 *     the address bar, and
 *   - a random device id, so that tally can recognise this browser later.
 * It exposes tally.identify({...}) and tally.checkout({...}). An email
 * address passed to either is hashed here with Web Crypto SHA-256 after
 * the normalisation tally shares with shops' backends, so the address
 * never leaves the page. Beacons go out with navigator.sendBeacon, then
 * fetch(keepalive), then an image request, whichever the browser allows.
 *
 * Configuration, read once when the script runs: data-endpoint and
 * data-shop on the script element, else window.tallyConfig.endpoint and
 * .shop set before the script loads. The endpoint defaults to the
 * directory the script was loaded from. docs/webshop.md shows the HTML.
 *
 * The file is written in ES2017 without modules or dependencies, and
 * minified with terser at build time.
 */
(function (window, document) {
    'use strict';

    var TOKEN_KEY = 'tally_tly';
    var DEVICE_KEY = 'tally_device';
    var COOKIE_MAX_AGE_S = 400 * 24 * 3600; /* the longest Chrome keeps */
    var TOKEN_PATTERN = /^[A-Za-z0-9_-]{1,256}$/;

    var script = document.currentScript;
    var globalConfig = window.tallyConfig || {};

    function setting(name) {
        var value = script && script.getAttribute('data-' + name);

        return value || globalConfig[name];
    }

    /* The script URL without its file name: where tallyd serves /b. */
    function defaultEndpoint() {
        return script && script.src ? script.src.replace(/[?#].*$/, '').replace(/\/[^/]*$/, '') : '';
    }

    var endpoint = String(setting('endpoint') || defaultEndpoint()).replace(/\/+$/, '');
    var shop = setting('shop');

    /* Values go to localStorage, because a cookie travels with every request
     * to the shop. The cookie is the fallback where localStorage throws
     * (blocked storage, some private modes). */
    function load(key) {
        try {
            var value = window.localStorage.getItem(key);
            if (value) {
                return value;
            }
        } catch (e) {
            /* fall through to the cookie */
        }
        var match = document.cookie.match(new RegExp('(?:^|; )' + key + '=([^;]*)'));
        return match ? decodeURIComponent(match[1]) : null;
    }

    function writeCookie(key, value, maxAge) {
        document.cookie = key + '=' + encodeURIComponent(value) + '; path=/; max-age=' + maxAge +
            '; SameSite=Lax' + (location.protocol === 'https:' ? '; Secure' : '');
    }

    function store(key, value) {
        try {
            window.localStorage.setItem(key, value);
            return;
        } catch (e) {
            writeCookie(key, value, COOKIE_MAX_AGE_S);
        }
    }

    function forget(key) {
        try {
            window.localStorage.removeItem(key);
        } catch (e) {
            /* the cookie below is all there is */
        }
        if (document.cookie.indexOf(key + '=') >= 0) {
            writeCookie(key, '', 0);
        }
    }

    function hex(bytes) {
        var out = '';

        for (var i = 0; i < bytes.length; i++) {
            out += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
        }
        return out;
    }

    /* Stores the tly parameter of the landing URL and removes it from the
     * address bar. Other query parameters keep their exact bytes, which
     * URLSearchParams would re-encode. Returns the token, or null. */
    function takeLandingToken() {
        var kept = [];
        var token = null;
        var pieces = location.search.slice(1).split('&');

        for (var i = 0; i < pieces.length; i++) {
            if (pieces[i].split('=')[0] === 'tly') {
                token = pieces[i].slice(4);
            } else if (pieces[i]) {
                kept.push(pieces[i]);
            }
        }
        if (token === null) {
            return null;
        }

        try {
            history.replaceState(history.state, '',
                location.pathname + (kept.length ? '?' + kept.join('&') : '') + location.hash);
        } catch (e) {
            /* the token stays visible, but is still stored */
        }
        if (!TOKEN_PATTERN.test(token)) {
            return null;
        }
        store(TOKEN_KEY, token);
        return token;
    }

    function deviceId() {
        var id = load(DEVICE_KEY);

        if (!id && window.crypto && crypto.getRandomValues) {
            id = hex(crypto.getRandomValues(new Uint8Array(16)));
            store(DEVICE_KEY, id);
        }
        return id;
    }

    /* Resolves to the email_sha256 of address: whitespace (space, tab, CR,
     * LF, VT, FF) trimmed, A-Z lower-cased, every other character kept, then
     * SHA-256 of the UTF-8 bytes in lower-case hex. Resolves to undefined
     * when there is nothing to hash or Web Crypto is missing, which it is
     * on pages not served over HTTPS (other than localhost). */
    function hashEmail(address) {
        var normalised = String(address || '')
            .replace(/^[ \t\r\n\v\f]+|[ \t\r\n\v\f]+$/g, '')
            .replace(/[A-Z]/g, function (c) { return c.toLowerCase(); });

        if (!normalised || !(window.crypto && crypto.subtle)) {
            return Promise.resolve(undefined);
        }
        return crypto.subtle.digest('SHA-256', new TextEncoder().encode(normalised))
            .then(function (digest) { return hex(new Uint8Array(digest)); });
    }

    function sendImage(fields) {
        var image = new Image(1, 1);

        image.src = endpoint + '/b.gif?' + new URLSearchParams(fields).toString();
    }

    /* Sends fields as one beacon. Returns true when a transport took it,
     * because whether tallyd accepted it is not visible to the page. */
    function send(fields) {
        var body = JSON.stringify(fields);

        try {
            if (navigator.sendBeacon && navigator.sendBeacon(endpoint + '/b', body)) {
                return true;
            }
        } catch (e) {
            /* sendBeacon throws on some blocked URLs, so try fetch */
        }
        if (window.fetch) {
            /* text/plain and no-cors keep this a simple request, which needs no
             * CORS preflight. */
            fetch(endpoint + '/b', {
                method: 'POST',
                body: body,
                keepalive: true,
                mode: 'no-cors',
                credentials: 'omit',
                headers: { 'Content-Type': 'text/plain;charset=UTF-8' }
            }).catch(function () { sendImage(fields); });
            return true;
        }
        sendImage(fields);
        return true;
    }

    /* Builds the identity fields every beacon carries. Empty values are
     * left out, never sent as empty strings. */
    function identity(type, options) {
        var fields = { type: type };
        var token = load(TOKEN_KEY);
        var device = deviceId();

        if (shop) {
            fields.shop = shop;
        }
        if (token) {
            fields.token = token;
        }
        if (device) {
            fields.device_id = device;
        }
        if (options.customerId !== undefined && options.customerId !== null && options.customerId !== '') {
            fields.customer_id = String(options.customerId);
        }
        if (options.emailSha256) {
            fields.email_sha256 = String(options.emailSha256).toLowerCase();
            return Promise.resolve(fields);
        }
        return hashEmail(options.email).then(function (digest) {
            if (digest) {
                fields.email_sha256 = digest;
            }
            return fields;
        });
    }

    /* tally.identify({customerId, email, emailSha256}): links a logged-in
     * customer (and this device) to the reader. Resolves to true when sent. */
    function identify(options) {
        return identity('identify', options || {}).then(send);
    }

    /* tally.checkout({orderId, revenue, currency, customerId, email,
     * emailSha256}): reports an order; revenue is a decimal string such as
     * "89.95". The stored click token goes with the first checkout after the
     * click and is then dropped, so later orders on this device resolve
     * through the device id to the reader's latest click. */
    function checkout(options) {
        options = options || {};
        return identity('checkout', options).then(function (fields) {
            fields.order_id = String(options.orderId);
            fields.revenue = String(options.revenue);
            fields.currency = String(options.currency || '').toUpperCase();
            forget(TOKEN_KEY);
            return send(fields);
        });
    }

    var landingToken = takeLandingToken();
    var queued = window.tally;
    var api = {
        identify: identify,
        checkout: checkout,
        /* Runs one queued call, ['checkout', {...}], so pages may queue calls
         * in window.tally = [] before this script has loaded. */
        push: function (call) {
            return api[call[0]](call[1]);
        }
    };
    window.tally = api;

    /* An identify with only the token and the device id links this device
     * to the reader of the click as soon as it lands. */
    if (landingToken) {
        identify();
    }
    if (queued && queued.length) {
        for (var i = 0; i < queued.length; i++) {
            api.push(queued[i]);
        }
    }
})(window, document);
