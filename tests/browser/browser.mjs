// browser.mjs drives MQTT.js inside headless Chromium against a broker's WebSocket listener and checks, with a
// Node-side MQTT.js client on plain TCP, that both transports see the same broker:
//   - QoS 0/1/2 messages of 0 B to 1 MiB cross from TCP to the browser and back, byte-exact (SHA-256 compared);
//     each with the QoS it was published with (the subscriptions grant QoS 2) and without the retain flag;
//   - a retained message published on TCP reaches a later browser subscription with the retain flag;
//   - a browser client's will reaches the TCP client, with its QoS and without the retain flag, when its page is
//     closed (a WebSocket close frame, no MQTT DISCONNECT) and when its network connection is lost: that page
//     connects through PROXY_WS_URL, a TCP proxy of the Go test that resets both sockets when CUT_URL is fetched
//     and reports what the page had sent (no close frame and no DISCONNECT may be among it).
// It runs for MQTT 3.1.1 and 5.0 in the browser. Environment: WS_URL (ws://127.0.0.1:8083/mqtt),
// TCP_URL (mqtt://127.0.0.1:1883), CHROMIUM (/usr/bin/chromium), MAX_SIZE (largest payload, default 1 MiB),
// PROXY_WS_URL and CUT_URL (set by browser_test.go; run by hand without them, the network-loss will is left out
// and a line says so, and browser_test.go fails if its proxy did not cut one connection per protocol version).
// It prints one JSON line per check and exits 0 only when every check passed.
import { chromium } from 'playwright-core';
import mqtt from 'mqtt';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';

const WS_URL = process.env.WS_URL || 'ws://127.0.0.1:8083/mqtt';
const TCP_URL = process.env.TCP_URL || 'mqtt://127.0.0.1:1883';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const PROXY_WS_URL = process.env.PROXY_WS_URL;
const CUT_URL = process.env.CUT_URL;
const MAX_SIZE = Number(process.env.MAX_SIZE || 1 << 20);
const SIZES = [0, 1, 127, 128, 16383, 16384, 65536, MAX_SIZE].filter((s, i, a) => s <= MAX_SIZE && a.indexOf(s) === i);
const RUN = `bt${process.pid}`;
const DEADLINE_MS = Number(process.env.DEADLINE_MS || 60_000);

let failures = 0;
function report(check, ok, detail = {}) {
  if (!ok) failures++;
  console.log(JSON.stringify({ check, ok, ...detail }));
}

// payload makes size deterministic pseudo-random bytes from seed; the page has a copy of the same function.
function payload(seed, size) {
  const b = new Uint8Array(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}
const sha = (b) => createHash('sha256').update(b).digest('hex');

function withTimeout(p, ms, what) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`timeout: ${what}`)), ms); })])
    .finally(() => clearTimeout(t));
}

function tcpClient(id, opts = {}) {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(TCP_URL, { clientId: id, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

// The page is served from 127.0.0.1 (a secure context, so crypto.subtle exists) with MQTT.js's browser bundle.
const MQTT_JS = readFileSync(new URL('./node_modules/mqtt/dist/mqtt.min.js', import.meta.url));
function servePage() {
  return new Promise((resolve) => {
    const srv = createServer((req, res) => {
      if (req.url === '/mqtt.min.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' }).end(MQTT_JS);
      } else {
        res.writeHead(200, { 'content-type': 'text/html' })
          .end('<!doctype html><title>loopmq browser test</title><script src="/mqtt.min.js"></script>');
      }
    });
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
}
let pageURL;

// The page side: MQTT.js from its browser bundle, plus helpers the Node side calls with page.evaluate.
async function openPage(browser) {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(pageURL);
  await page.evaluate((src) => { window.payload = eval(`(${src})`); }, payload.toString());
  await page.evaluate(() => {
    window.hex = async (b) => [...new Uint8Array(await crypto.subtle.digest('SHA-256', b))]
      .map((x) => x.toString(16).padStart(2, '0')).join('');
    window.got = [];
    window.connect = (url, opts) => new Promise((resolve, reject) => {
      const c = window.mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
      window.client = c;
      window.ended = false; // not window.closed: that one is the window's own, read-only
      c.on('close', () => { window.ended = true; });
      c.on('message', async (topic, msg, packet) => {
        window.got.push({ topic, len: msg.length, sha: await window.hex(msg), retain: packet.retain, qos: packet.qos });
      });
      c.once('connect', () => resolve(true));
      c.once('error', (e) => reject(String(e)));
    });
    window.subscribe = (filter, qos) => new Promise((resolve, reject) =>
      window.client.subscribe(filter, { qos }, (err, granted) => (err ? reject(String(err)) : resolve(granted))));
    window.publish = (topic, seed, size, qos, retain = false) => new Promise((resolve, reject) =>
      window.client.publish(topic, window.payload(seed, size), { qos, retain }, (err) => (err ? reject(String(err)) : resolve(true))));
  });
  return page;
}

async function waitFor(cond, what, detail) {
  const until = Date.now() + DEADLINE_MS;
  while (Date.now() < until) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timeout waiting for ${what}${detail ? ': ' + JSON.stringify(await detail()) : ''}`);
}

async function exchange(browser, version) {
  const tag = `${RUN}/v${version}`;
  const page = await openPage(browser);
  await page.evaluate(([url, v, id]) => window.connect(url, { protocolVersion: v, clientId: id }), [WS_URL, version, `${tag}-br`]);
  const tcp = await tcpClient(`${tag}-tcp`);
  const tcpGot = [];
  tcp.on('message', (topic, msg, packet) => tcpGot.push({ topic, len: msg.length, sha: sha(msg), qos: packet.qos, retain: packet.retain }));
  const tcpSubscribe = (filter, qos) => new Promise((res, rej) => tcp.subscribe(filter, { qos }, (e, granted) => (e ? rej(e) : res(granted))));
  const grantedOK = (granted, filter, qos) => granted.length === 1 && granted[0].topic === filter && granted[0].qos === qos;
  let f = `${tag}/to-tcp/#`;
  let granted = await tcpSubscribe(f, 2);
  report(`v${version} tcp subscribe granted qos2`, grantedOK(granted, f, 2), { granted });
  f = `${tag}/to-browser/#`;
  granted = await page.evaluate((f) => window.subscribe(f, 2), f);
  report(`v${version} browser subscribe granted qos2`, grantedOK(granted, f, 2), { granted });

  const cases = [];
  for (const qos of [0, 1, 2]) for (const size of SIZES) cases.push({ qos, size, seed: qos * 1_000_003 + size + 7 });

  // TCP → browser.
  for (const c of cases) {
    await new Promise((res, rej) => tcp.publish(`${tag}/to-browser/q${c.qos}/s${c.size}`, Buffer.from(payload(c.seed, c.size)), { qos: c.qos }, (e) => (e ? rej(e) : res())));
  }
  await waitFor(async () => (await page.evaluate(() => window.got.length)) >= cases.length, `browser v${version} to receive ${cases.length} messages`, () => page.evaluate(() => window.got.map((g) => g.topic)));
  const got = await page.evaluate(() => window.got);
  for (const c of cases) {
    const topic = `${tag}/to-browser/q${c.qos}/s${c.size}`;
    const m = got.filter((g) => g.topic === topic);
    const want = sha(payload(c.seed, c.size));
    report(`v${version} tcp->browser qos${c.qos} ${c.size}B`,
      m.length === 1 && m[0].sha === want && m[0].len === c.size && m[0].qos === c.qos && m[0].retain === false,
      { received: m.length, len: m[0]?.len, qos: m[0]?.qos, retain: m[0]?.retain });
  }

  // Browser → TCP.
  for (const c of cases) {
    await page.evaluate(([t, seed, size, qos]) => window.publish(t, seed, size, qos), [`${tag}/to-tcp/q${c.qos}/s${c.size}`, c.seed, c.size, c.qos]);
  }
  await waitFor(() => tcpGot.length >= cases.length, `tcp to receive ${cases.length} messages from browser v${version}`);
  for (const c of cases) {
    const topic = `${tag}/to-tcp/q${c.qos}/s${c.size}`;
    const m = tcpGot.filter((g) => g.topic === topic);
    report(`v${version} browser->tcp qos${c.qos} ${c.size}B`,
      m.length === 1 && m[0].sha === sha(payload(c.seed, c.size)) && m[0].len === c.size && m[0].qos === c.qos && m[0].retain === false,
      { received: m.length, len: m[0]?.len, qos: m[0]?.qos, retain: m[0]?.retain });
  }

  // Retained: published on TCP, delivered to a later browser subscription with the retain flag, then cleared.
  const rt = `${tag}/retained`;
  await new Promise((res, rej) => tcp.publish(rt, Buffer.from(payload(42, 300)), { qos: 1, retain: true }, (e) => (e ? rej(e) : res())));
  granted = await page.evaluate((f) => window.subscribe(f, 1), rt);
  report(`v${version} browser subscribe granted qos1`, grantedOK(granted, rt, 1), { granted });
  await waitFor(async () => (await page.evaluate((t) => window.got.some((g) => g.topic === t), rt)), 'retained message in the browser');
  const r = (await page.evaluate(() => window.got)).filter((g) => g.topic === rt);
  report(`v${version} retained tcp->browser`, r.length === 1 && r[0].retain === true && r[0].qos === 1 && r[0].sha === sha(payload(42, 300)), { got: r });
  await new Promise((res, rej) => tcp.publish(rt, Buffer.alloc(0), { qos: 1, retain: true }, (e) => (e ? rej(e) : res())));

  // Will: a page connects with a will, then ends without DISCONNECT, once by closing the page (the browser sends a
  // WebSocket close frame), once by losing its network connection (the proxy resets it: the broker sees only RST).
  const ends = ['page closed', 'network lost'];
  if (!PROXY_WS_URL || !CUT_URL) {
    ends.pop();
    console.log(JSON.stringify({ check: `v${version} browser will -> tcp (network lost)`, left_out: 'PROXY_WS_URL and CUT_URL are not set' }));
  }
  for (const how of ends) {
    const wt = `${tag}/will/${how.replace(' ', '-')}`;
    granted = await tcpSubscribe(wt, 2);
    report(`v${version} tcp subscribe ${wt} granted qos2`, grantedOK(granted, wt, 2), { granted });
    const willPage = await openPage(browser);
    await willPage.evaluate(([url, v, id, topic]) => window.connect(url, {
      protocolVersion: v, clientId: id, keepalive: 600, will: { topic, payload: 'browser-gone', qos: 1, retain: false },
    }), [how === 'network lost' ? PROXY_WS_URL : WS_URL, version, `${tag}-will-${how.replace(' ', '-')}`, wt]);
    // A round trip through the broker after the will page's CONNECT: the will must not have been published yet.
    await new Promise((res, rej) => tcp.publish(`${tag}/to-tcp/sync`, 'sync', { qos: 1 }, (e) => (e ? rej(e) : res())));
    await waitFor(() => tcpGot.some((g) => g.topic === `${tag}/to-tcp/sync`), 'sync message');
    tcpGot.splice(tcpGot.findIndex((g) => g.topic === `${tag}/to-tcp/sync`), 1);
    report(`v${version} no will while connected (${how})`, !tcpGot.some((g) => g.topic === wt));
    if (how === 'page closed') {
      await willPage.close();
    } else {
      const cut = await (await fetch(CUT_URL)).json();
      report(`v${version} will page connection reset without close frame or DISCONNECT`,
        cut.cut === 1 && !cut.error && !cut.closeFrame && cut.packets[0] === 'CONNECT' && !cut.packets.includes('DISCONNECT'), cut);
      await waitFor(() => willPage.evaluate(() => window.ended), `browser v${version} to notice the lost connection`);
    }
    await waitFor(() => tcpGot.some((g) => g.topic === wt), `will of browser v${version} (${how})`);
    const w = tcpGot.filter((g) => g.topic === wt);
    report(`v${version} browser will -> tcp (${how})`,
      w.length === 1 && w[0].sha === sha(Buffer.from('browser-gone')) && w[0].qos === 1 && w[0].retain === false,
      { received: w.length, qos: w[0]?.qos, retain: w[0]?.retain });
    if (!willPage.isClosed()) await willPage.close();
  }

  await page.evaluate(() => new Promise((r) => window.client.end(false, {}, r)));
  await page.close();
  await new Promise((r) => tcp.end(false, {}, r));
}

async function main() {
  const srv = await servePage();
  pageURL = `http://127.0.0.1:${srv.address().port}/`;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  try {
    for (const v of [4, 5]) await withTimeout(exchange(browser, v), 2 * DEADLINE_MS, `exchange v${v}`);
  } finally {
    await browser.close();
    srv.close();
  }
}

main().then(() => {
  console.log(JSON.stringify({ done: true, failures }));
  process.exit(failures === 0 ? 0 : 1);
}, (e) => {
  console.log(JSON.stringify({ done: false, error: String(e && e.stack || e) }));
  process.exit(1);
});
