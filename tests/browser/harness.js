/*
 * harness.js - the real parts behind the browser tests: a throwaway
 * redis-server on a unix socket, tallyd on a free loopback port, a small
 * RESP client to read results from Redis, and Chromium profiles.
 *
 * Chromium is Debian's /usr/bin/chromium, driven by playwright-core; no
 * browser is ever downloaded. Every wait is bounded by WAIT_MS.
 */
'use strict';

const childProcess = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const BIN = process.env.TALLY_BIN || path.join(__dirname, '../../bin');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
    '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const WAIT_MS = 10000;
const POLL_MS = 25;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/* Polls predicate (sync or async) until it returns a truthy value, which
 * it returns; fails after ms with a message naming what. */
async function waitUntil(predicate, what, ms = WAIT_MS) {
    const deadline = Date.now() + ms;

    while (Date.now() < deadline) {
        const value = await predicate();
        if (value) {
            return value;
        }
        await sleep(POLL_MS);
    }
    throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

function freePort() {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => {
            const { port } = server.address();
            server.close(() => resolve(port));
        });
    });
}

/*
 * A minimal RESP2 client: enough for HGETALL, HGET, KEYS, SMEMBERS and
 * PING on one connection, one command at a time. Written here because the
 * tests need nothing more and the npm Redis clients would add a dependency
 * tree to the lock file.
 */
class RespClient {
    constructor(socketPath) {
        this.socketPath = socketPath;
        this.buffer = Buffer.alloc(0);
        this.pending = [];
    }

    connect() {
        return new Promise((resolve, reject) => {
            this.conn = net.createConnection({ path: this.socketPath }, resolve);
            this.conn.once('error', reject);
            this.conn.on('data', (chunk) => this.onData(chunk));
        });
    }

    /* Sends one command; resolves to its reply (string, number, array or
     * null) or rejects with a Redis error reply. */
    command(...args) {
        const parts = [`*${args.length}\r\n`];
        for (const arg of args) {
            const text = String(arg);
            parts.push(`$${Buffer.byteLength(text)}\r\n${text}\r\n`);
        }
        return new Promise((resolve, reject) => {
            this.pending.push({ resolve, reject });
            this.conn.write(parts.join(''));
        });
    }

    async hgetall(key) {
        const flat = await this.command('HGETALL', key);
        const out = {};
        for (let i = 0; i < flat.length; i += 2) {
            out[flat[i]] = flat[i + 1];
        }
        return out;
    }

    onData(chunk) {
        this.buffer = Buffer.concat([this.buffer, chunk]);
        for (;;) {
            const parsed = parseReply(this.buffer, 0);
            if (parsed === null) {
                return;
            }
            this.buffer = this.buffer.subarray(parsed.end);
            const waiter = this.pending.shift();
            if (parsed.value instanceof Error) {
                waiter.reject(parsed.value);
            } else {
                waiter.resolve(parsed.value);
            }
        }
    }

    close() {
        if (this.conn) {
            this.conn.destroy();
        }
    }
}

/* Parses one RESP2 reply at offset; returns {value, end}, or null when the
 * buffer does not hold a whole reply yet. */
function parseReply(buffer, offset) {
    const lineEnd = buffer.indexOf('\r\n', offset);
    if (lineEnd < 0) {
        return null;
    }
    const kind = String.fromCharCode(buffer[offset]);
    const line = buffer.toString('utf8', offset + 1, lineEnd);
    let end = lineEnd + 2;

    switch (kind) {
    case '+':
        return { value: line, end };
    case '-':
        return { value: new Error(line), end };
    case ':':
        return { value: Number(line), end };
    case '$': {
        const len = Number(line);
        if (len < 0) {
            return { value: null, end };
        }
        if (buffer.length < end + len + 2) {
            return null;
        }
        return { value: buffer.toString('utf8', end, end + len), end: end + len + 2 };
    }
    case '*': {
        const count = Number(line);
        const items = [];
        if (count < 0) {
            return { value: null, end };
        }
        for (let i = 0; i < count; i++) {
            const item = parseReply(buffer, end);
            if (item === null) {
                return null;
            }
            items.push(item.value);
            end = item.end;
        }
        return { value: items, end };
    }
    default:
        throw new Error(`unexpected RESP reply type ${JSON.stringify(kind)}`);
    }
}

/* Stops a child process with SIGTERM, and with SIGKILL after ms. */
function stopProcess(proc, ms = WAIT_MS) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
        return Promise.resolve();
    }
    return new Promise((resolve) => {
        const timer = setTimeout(() => proc.kill('SIGKILL'), ms);
        proc.once('exit', () => {
            clearTimeout(timer);
            resolve();
        });
        proc.kill('SIGTERM');
    });
}

/* Starts redis-server on a unix socket in dir, without persistence. */
async function startRedis(dir) {
    const socket = path.join(dir, 'redis.sock');
    const proc = childProcess.spawn('redis-server', [
        '--port', '0', '--unixsocket', socket, '--dir', dir, '--save', '',
        '--appendonly', 'no', '--logfile', path.join(dir, 'redis.log'),
    ], { stdio: 'ignore' });
    const client = new RespClient(socket);

    await waitUntil(async () => {
        try {
            await client.connect();
            return (await client.command('PING')) === 'PONG';
        } catch (e) {
            return false;
        }
    }, 'redis-server to answer PING');
    return {
        url: `unix://${socket}`,
        client,
        stop: async () => {
            client.close();
            await stopProcess(proc);
        },
    };
}

function tallyctl(args) {
    return childProcess.execFileSync(path.join(BIN, 'tallyctl'), args, { encoding: 'utf8' }).trim();
}

/* Starts tallyd on a free loopback port with fresh keys in dir. */
async function startTallyd(dir, redisUrl) {
    const keys = path.join(dir, 'keys.conf');
    fs.writeFileSync(keys, tallyctl(['keygen']), { mode: 0o600 });
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const logPath = path.join(dir, 'tallyd.log');
    const log = fs.openSync(logPath, 'w');
    const proc = childProcess.spawn(path.join(BIN, 'tallyd'), [
        '--listen', `127.0.0.1:${port}`, '--redis', redisUrl, '--keys', keys,
        '--state-dir', path.join(dir, 'state'), '--threads', '2',
    ], { stdio: ['ignore', log, log] });

    await waitUntil(async () => {
        if (proc.exitCode !== null) {
            throw new Error(`tallyd exited with ${proc.exitCode}: ${fs.readFileSync(logPath, 'utf8')}`);
        }
        try {
            return (await fetch(`${base}/healthz`)).status === 200;
        } catch (e) {
            return false;
        }
    }, 'tallyd to serve /healthz');

    const mint = (kind, campaign, message, email, extra = []) => tallyctl([
        '--keys', keys, 'url', kind, '--base', base, '--campaign', campaign,
        '--message', message, '--email', email, ...extra,
    ]);
    return {
        base,
        logPath,
        openUrl: (campaign, message, email) => mint('open', campaign, message, email),
        clickUrl: (campaign, message, email, destination) =>
            mint('click', campaign, message, email, ['--to', destination]),
        stop: async () => {
            await stopProcess(proc);
            fs.closeSync(log);
        },
    };
}

/* Launches a Chromium profile in its own user-data-dir: one simulated
 * device. Launching again with the same dir is the same device later. */
function launchProfile(userDataDir, options = {}) {
    return chromium.launchPersistentContext(userDataDir, {
        executablePath: CHROMIUM,
        headless: true,
        args: CHROMIUM_ARGS,
        ...options,
    });
}

/* Starts redis-server and tallyd in a new scratch directory. Returns
 * {dir, redis, tally, stop}, where stop ends both and removes the
 * directory. A failed start cleans up before it throws. */
async function startStack(prefix) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    const stack = { dir, redis: null, tally: null };

    stack.stop = async () => {
        if (stack.tally) {
            await stack.tally.stop();
        }
        if (stack.redis) {
            await stack.redis.stop();
        }
        fs.rmSync(dir, { recursive: true, force: true });
    };
    try {
        stack.redis = await startRedis(dir);
        stack.tally = await startTallyd(dir, stack.redis.url);
    } catch (e) {
        await stack.stop();
        throw e;
    }
    return stack;
}

function sha256Hex(text) {
    return crypto.createHash('sha256').update(text).digest('hex');
}

module.exports = {
    launchProfile, sha256Hex, sleep, startStack, waitUntil, WAIT_MS,
};
