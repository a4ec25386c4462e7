'use strict';
// A second system under test for natschaos: the task API of the protocol
// (jobs, /tasks, /result, cancel) on Node.js and nats.js, written apart from
// the reference API and shaped like the platform instead:
//
//   - a NATS connection per request (connect timeout, no reconnect), closed
//     when the request ends, also on error paths and when the client goes
//     away; LEAK_CONNECTIONS=1 never closes them (the bug a test must catch);
//   - the result processor runs in this process on the same NATS URL (there
//     is no second link for it), opens a connection per ack and acks last,
//     after storing the result idempotently; when a job's last result is
//     stored it deletes the job's stream before that final ack;
//   - /tasks spends a few metadata calls (account info, the advisories
//     stream, the job's stream, its consumer) and then one legacy pull of up
//     to batch_size that returns what is ready (no_wait with a short expiry);
//   - NATS unreachable, slow or failing → 503 {"error": "Task queue
//     temporarily unavailable"} within the connect and per-call timeouts.
//
// Configuration (environment): NATS_URL (nats://[user:pass@]host:port),
// LISTEN (host:port or a port; default 127.0.0.1:0), API_TOKEN, ACK_WAIT_MS,
// MAX_DELIVER, MAX_ACK_PENDING, CONNECT_TIMEOUT_MS, OP_TIMEOUT_MS,
// FETCH_EXPIRES_MS, MAX_CONCURRENT (requests served at once, the liveness
// probe included; 0 = unbounded), PROCESSOR_CONCURRENCY, JOB_ID_START,
// LEAK_CONNECTIONS, VERBOSE. It prints one line on stdout once it listens:
// "listening HOST:PORT". Logs go to stderr.

const http = require('node:http');
const {
  connect, AckPolicy, DeliverPolicy, RetentionPolicy, StringCodec, nanos,
} = require('nats');

// ---------------------------------------------------------------- settings

function intEnv(name, def, min) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    fatal(`${name}=${raw}: want an integer ≥ ${min}`);
  }
  return n;
}

function fatal(msg) {
  process.stderr.write(`nodesut: ${msg}\n`);
  process.exit(2);
}

const cfg = {
  natsURL: process.env.NATS_URL || '',
  listen: process.env.LISTEN || '127.0.0.1:0',
  token: process.env.API_TOKEN || '',
  ackWaitMs: intEnv('ACK_WAIT_MS', 30000, 1),
  maxDeliver: intEnv('MAX_DELIVER', 2, 1),
  maxAckPending: intEnv('MAX_ACK_PENDING', 1000, 1),
  connectTimeoutMs: intEnv('CONNECT_TIMEOUT_MS', 5000, 1),
  opTimeoutMs: intEnv('OP_TIMEOUT_MS', 10000, 1),
  fetchExpiresMs: intEnv('FETCH_EXPIRES_MS', 500, 1),
  maxConcurrent: intEnv('MAX_CONCURRENT', 0, 0),
  processors: intEnv('PROCESSOR_CONCURRENCY', 32, 1),
  queueSize: intEnv('RESULT_QUEUE_SIZE', 100000, 1),
  jobIdStart: intEnv('JOB_ID_START', 1, 1),
  leak: process.env.LEAK_CONNECTIONS === '1',
  verbose: process.env.VERBOSE === '1',
};

// natsOptions are the connect options of every connection: the server of
// NATS_URL, its user information as credentials (nats.js does not read them
// from a URL), and the platform's settings: a connect timeout, no reconnect,
// no servers learnt from the cluster (they would bypass the proxy).
const natsOptions = (() => {
  if (!cfg.natsURL) fatal('NATS_URL is required (nats://host:port)');
  let u;
  try {
    u = new URL(cfg.natsURL);
  } catch (err) {
    fatal(`NATS_URL: not a URL (${err.message})`);
  }
  if (u.protocol !== 'nats:' || !u.hostname) fatal('NATS_URL: want nats://host:port');
  const o = {
    servers: `${u.hostname}:${u.port || 4222}`,
    timeout: cfg.connectTimeoutMs,
    reconnect: false,
    maxReconnectAttempts: 0,
    waitOnFirstConnect: false,
    ignoreClusterUpdates: true,
    noRandomize: true,
  };
  if (u.username && u.password) {
    o.user = decodeURIComponent(u.username);
    o.pass = decodeURIComponent(u.password);
  } else if (u.username) {
    o.token = decodeURIComponent(u.username);
  }
  return o;
})();

function log(...a) {
  process.stderr.write(`nodesut: ${a.join(' ')}\n`);
}
function debug(...a) {
  if (cfg.verbose) log(...a);
}

// ------------------------------------------------------------------ NATS

const sc = StringCodec();
const UNAVAILABLE = 'Task queue temporarily unavailable';
const ADVISORIES = 'advisories';
const streamName = (id) => `job_${id}`;
const consumerName = (id) => `job-${id}-consumer`;
const subject = (id) => `job.${id}.tasks`;

// JetStream API error codes.
const ERR_STREAM_NOT_FOUND = 10059;
const ERR_CONSUMER_NOT_FOUND = 10014;
const ERR_STREAM_NAME_IN_USE = 10058;

function apiCode(err) {
  return err && err.api_error ? err.api_error.err_code : 0;
}

// withDeadline races p against ms; when the deadline wins, a value p
// resolves to later is handed to onLate (a connection that opened too late
// must still be closed).
// FETCH_GRACE_MS is how long past its expiry a pull may take to end.
const FETCH_GRACE_MS = 200;

function withDeadline(p, ms, what, onLate) {
  let timer;
  let late = false;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => {
      late = true;
      reject(new Error(`${what}: no answer within ${ms}ms`));
    }, ms);
  });
  p.then((v) => { if (late && onLate) onLate(v); }, () => {});
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

const leaked = []; // connections the leak switch kept open
let opened = 0;

// openConn opens one NATS connection for one unit of work (a request, an
// ack, a cleanup), bounded by the connect timeout.
async function openConn(name) {
  opened++;
  const nc = await withDeadline(connect({ ...natsOptions, name }), cfg.connectTimeoutMs + 50,
    'nats connect', (late) => closeConn(late));
  nc.closed().then((err) => { if (err) debug(`${name} connection closed: ${err.message}`); });
  return nc;
}

// closeConn closes a connection without waiting on a peer that may never
// answer: nats.js writes what is buffered and destroys the socket.
function closeConn(nc) {
  if (!nc || nc.isClosed()) return;
  withDeadline(nc.close(), cfg.opTimeoutMs, 'nats close').catch((err) => debug(err.message));
}

// Request is the NATS side of one HTTP request: at most one connection,
// opened on first use and closed when the request ends or the client goes
// away (never, with LEAK_CONNECTIONS=1).
class RequestConn {
  constructor(res) {
    this.nc = null;
    this.done = false;
    res.on('close', () => this.release());
  }

  async get() {
    if (this.done) throw new Error('request ended');
    if (!this.nc) {
      const nc = await openConn('nodesut-api');
      if (this.done) {
        this.nc = nc;
        this.release();
        throw new Error('request ended while connecting');
      }
      this.nc = nc;
    }
    return this.nc;
  }

  async jsm() {
    const nc = await this.get();
    // The default checkAPI asks for the account info: one more JetStream
    // call, as a nats.js application does unless told otherwise.
    return nc.jetstreamManager({ timeout: cfg.opTimeoutMs });
  }

  release() {
    this.done = true;
    if (!this.nc) return;
    if (cfg.leak) {
      leaked.push(this.nc);
    } else {
      closeConn(this.nc);
    }
    this.nc = null;
  }
}

function streamConfig(id) {
  return {
    name: streamName(id),
    subjects: [subject(id)],
    retention: RetentionPolicy.Limits,
    max_age: nanos(24 * 3600 * 1000),
  };
}

function consumerConfig(id) {
  return {
    durable_name: consumerName(id),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: subject(id),
    ack_wait: nanos(cfg.ackWaitMs),
    max_deliver: cfg.maxDeliver,
    max_ack_pending: cfg.maxAckPending,
  };
}

async function ensureAdvisories(jsm) {
  try {
    await jsm.streams.add({
      name: ADVISORIES,
      subjects: ['$JS.EVENT.ADVISORY.>'],
      retention: RetentionPolicy.Limits,
      max_age: nanos(3600 * 1000),
    });
  } catch (err) {
    if (apiCode(err) !== ERR_STREAM_NAME_IN_USE) throw err;
  }
}

// ------------------------------------------------------------------- jobs

const STARTED = 'STARTED';
const servesTasks = (s) => s === STARTED || s === 'RETRY';
const terminal = (s) => s === 'SUCCESS' || s === 'FAILURE' || s === 'REVOKED';

const jobs = new Map();
let nextId = cfg.jobIdStart;

function jobView(j) {
  return {
    id: j.id,
    name: j.name,
    pipeline_slug: j.pipeline,
    status: j.status,
    progress: { stored: j.storedIds.length, total: j.total },
    stored_ids: j.storedIds,
  };
}

// createJob reserves an id whose stream does not exist yet (ids restart in
// every process; a stream of the same name belongs to someone else and is
// left alone), creates the advisories stream and the job's stream.
async function createJob(conn, spec) {
  const jsm = await conn.jsm();
  await ensureAdvisories(jsm);
  for (let tries = 0; tries < 1000; tries++) {
    const id = nextId++;
    try {
      await jsm.streams.info(streamName(id));
      debug(`stream ${streamName(id)} exists already: not ours, skipping id ${id}`);
      continue;
    } catch (err) {
      if (apiCode(err) !== ERR_STREAM_NOT_FOUND) throw err;
    }
    await jsm.streams.add(streamConfig(id));
    const j = {
      id, name: spec.name, pipeline: spec.pipeline, total: spec.total,
      status: spec.startNow ? STARTED : 'CREATED',
      processed: new Set(), results: new Map(), stored: new Set(), storedIds: [], errors: 0,
    };
    jobs.set(id, j);
    return j;
  }
  throw new Error('no free job id');
}

// reserve is the NATS part of /tasks: the metadata calls, then one pull of
// up to n messages that returns what is ready.
async function reserve(conn, j, n) {
  const jsm = await conn.jsm();
  try {
    await jsm.streams.info(ADVISORIES);
  } catch (err) {
    if (apiCode(err) !== ERR_STREAM_NOT_FOUND) throw err;
    await ensureAdvisories(jsm);
  }
  try {
    await jsm.streams.info(streamName(j.id));
  } catch (err) {
    if (apiCode(err) === ERR_STREAM_NOT_FOUND) return []; // never recreated
    throw err;
  }
  try {
    await jsm.consumers.info(streamName(j.id), consumerName(j.id));
  } catch (err) {
    if (apiCode(err) === ERR_STREAM_NOT_FOUND) return [];
    if (apiCode(err) !== ERR_CONSUMER_NOT_FOUND) throw err;
    try {
      await jsm.consumers.add(streamName(j.id), consumerConfig(j.id));
    } catch (err2) {
      if (apiCode(err2) === ERR_STREAM_NOT_FOUND) return []; // deleted in between
      throw err2;
    }
  }
  const nc = await conn.get();
  const js = nc.jetstream({ timeout: cfg.opTimeoutMs });
  const iter = js.fetch(streamName(j.id), consumerName(j.id), {
    batch: n, expires: cfg.fetchExpiresMs, no_wait: true,
  });
  const tasks = [];
  const collect = (async () => {
    for await (const m of iter) {
      const t = toTask(m);
      if (t) tasks.push(t);
    }
  })();
  // The pull ends at its expiry, or sooner; a connection that stops
  // answering may keep the iterator open: bound it close to the expiry, so
  // that a pull cut by a half-open NATS answers 503 well inside the
  // worker's timeout (expiry + op timeout ran past it under a blackhole).
  try {
    await withDeadline(collect, cfg.fetchExpiresMs + FETCH_GRACE_MS, 'fetch');
  } catch (err) {
    iter.stop();
    if (tasks.length > 0) {
      log(`fetch from ${streamName(j.id)} ended with an error after ${tasks.length} tasks: ${err.message}`);
      return tasks; // reserved already: hand them out rather than orphan them
    }
    if (/consumer deleted/i.test(err.message)) return [];
    throw err;
  }
  if (tasks.length === 0 && nc.isClosed()) throw new Error('nats connection closed during fetch');
  return tasks;
}

function idOf(v) {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return '';
}

function toTask(m) {
  let p;
  try {
    p = JSON.parse(sc.decode(m.data));
  } catch (err) {
    log(`task payload is not JSON; not handed out (${m.reply})`);
    return null;
  }
  const imageId = idOf(p && p.image_id) || idOf(p && p.id);
  if (!imageId) {
    log(`task payload has no id; not handed out (${m.reply})`);
    return null;
  }
  return { id: idOf(p.id) || imageId, image_id: imageId, image_url: p.image_url || '', reply_subject: m.reply };
}

// cancelJob marks the job REVOKED first, then deletes its stream (with its
// consumer); a failed delete is only logged, as the platform does.
async function cancelJob(conn, j) {
  if (terminal(j.status)) return;
  j.status = 'REVOKED';
  try {
    const jsm = await conn.jsm();
    await deleteStream(jsm, j.id);
  } catch (err) {
    log(`cancel job ${j.id}: delete stream: ${err.message}`);
  }
}

async function deleteStream(jsm, id) {
  try {
    await jsm.streams.delete(streamName(id));
  } catch (err) {
    if (apiCode(err) !== ERR_STREAM_NOT_FOUND) throw err;
  }
}

// -------------------------------------------------------- result processor

const queue = [];
const idle = []; // resolvers of processors waiting for work

function enqueue(items) {
  if (queue.length + items.length > cfg.queueSize) return false;
  queue.push(...items);
  while (idle.length > 0 && queue.length > 0) idle.shift()();
  return true;
}

async function processorLoop() {
  for (;;) {
    if (queue.length === 0) {
      await new Promise((resolve) => idle.push(resolve));
      continue;
    }
    const it = queue.shift();
    try {
      await processResult(it);
    } catch (err) {
      log(`result ${it.task} of job ${it.job}: ${err.message} (not acked: NATS redelivers it)`);
    }
  }
}

// processResult: (1) mark processed, (2) save idempotently, (3) mark
// stored, and when that completes the job clean its NATS resources up,
// (4) ack last, on a connection of its own.
async function processResult(it) {
  const j = jobs.get(it.job);
  if (j) {
    j.processed.add(it.task);
    if (!j.results.has(it.task)) j.results.set(it.task, it.result);
    if (!j.stored.has(it.task)) {
      j.stored.add(it.task);
      j.storedIds.push(it.task);
      if (it.isError) j.errors++;
      if (j.storedIds.length >= j.total && servesTasks(j.status)) {
        j.status = j.errors * 2 > j.total ? 'FAILURE' : 'SUCCESS';
        await cleanup(j);
      }
    }
  }
  await ack(it.reply);
}

async function cleanup(j) {
  let nc;
  try {
    nc = await openConn('nodesut-processor');
    const jsm = await nc.jetstreamManager({ timeout: cfg.opTimeoutMs, checkAPI: false });
    await deleteStream(jsm, j.id);
    debug(`job ${j.id} ${j.status}: stream deleted`);
  } catch (err) {
    log(`cleanup of finished job ${j.id}: ${err.message}`);
  } finally {
    closeConn(nc);
  }
}

async function ack(reply) {
  const nc = await openConn('nodesut-ack');
  try {
    nc.publish(reply, sc.encode('+ACK'));
    await withDeadline(nc.flush(), cfg.opTimeoutMs, 'flush ack');
  } finally {
    closeConn(nc);
  }
}

// ------------------------------------------------------------------- HTTP

class HTTPError extends Error {
  constructor(status, msg) {
    super(msg);
    this.status = status;
  }
}

function send(res, status, body) {
  if (res.headersSent || res.destroyed) return;
  const data = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) });
  res.end(data);
}

const MAX_BODY = 16 << 20;
const MAX_BATCH = 10000;

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new HTTPError(413, 'body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function jsonBody(req) {
  const text = await readBody(req);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HTTPError(400, `bad JSON body: ${err.message}`);
  }
}

function authorized(req) {
  if (!cfg.token) return true;
  const h = req.headers.authorization || '';
  return h.startsWith('Token ') && h.slice(6).trim() === cfg.token;
}

function requireAuth(req) {
  if (!authorized(req)) throw new HTTPError(401, 'invalid token');
}

function jobOf(idText) {
  const j = /^[0-9]+$/.test(idText) ? jobs.get(Number(idText)) : undefined;
  if (!j) throw new HTTPError(404, 'job not found');
  return j;
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

// parseResultItem validates one item of a /result body.
function parseResultItem(raw) {
  if (!isObject(raw)) throw new Error('not an object');
  const reply = raw.reply_subject;
  if (typeof reply !== 'string' || reply === '') throw new Error('reply_subject is required');
  if (!reply.startsWith('$JS.ACK.') || reply.split('.').length < 9) {
    throw new Error('reply_subject: not a JetStream ack subject');
  }
  const r = raw.result;
  if (!isObject(r)) throw new Error('result must be an object');
  if (r.error !== undefined && r.error !== null) {
    const task = idOf(r.image_id);
    if (!task) throw new Error('an error result needs image_id');
    return { reply, task, result: r, isError: true };
  }
  if (typeof r.pipeline !== 'string' || r.pipeline === '') throw new Error('a result needs pipeline (or error and image_id)');
  if (!Array.isArray(r.source_images) || r.source_images.length === 0) throw new Error('source_images must not be empty');
  const task = idOf(r.source_images[0] && r.source_images[0].id);
  if (!task) throw new Error('source_images[0].id is required');
  if (r.detections !== undefined && !Array.isArray(r.detections)) throw new Error('detections must be a list');
  if (r.total_time !== undefined && typeof r.total_time !== 'number') throw new Error('total_time must be a number');
  return { reply, task, result: r, isError: false };
}

const routes = [
  ['GET', /^\/api\/v2\/$/, async (req, res) => send(res, 200, { jobs: '/api/v2/jobs/' })],

  ['GET', /^\/api\/v2\/jobs\/$/, async (req, res, m, url) => {
    requireAuth(req);
    const q = url.searchParams;
    const truthy = (v) => ['1', 'true', 'yes', 'on'].includes(String(v || '').toLowerCase());
    const slugs = (q.get('pipeline__slug__in') || '').split(',').map((s) => s.trim()).filter(Boolean);
    const results = [];
    for (const j of [...jobs.values()].sort((a, b) => a.id - b.id)) {
      // As the platform does, incomplete includes jobs not yet started and
      // jobs being cancelled.
      if (truthy(q.get('incomplete_only')) && !['CREATED', 'STARTED', 'RETRY', 'CANCELING'].includes(j.status)) continue;
      if (slugs.length > 0 && !slugs.includes(j.pipeline)) continue;
      results.push(truthy(q.get('ids_only')) ? { id: j.id, pipeline_slug: j.pipeline } : jobView(j));
    }
    send(res, 200, { count: results.length, results });
  }],

  ['POST', /^\/api\/v2\/jobs\/$/, async (req, res, m, url, conn) => {
    const b = await jsonBody(req);
    if (!isObject(b) || !Number.isInteger(b.total) || b.total < 1) throw new HTTPError(400, 'total must be an integer ≥ 1');
    if (b.dispatch_mode !== undefined && b.dispatch_mode !== 'async_api') {
      throw new HTTPError(400, `dispatch_mode ${JSON.stringify(b.dispatch_mode)} is not supported (async_api)`);
    }
    requireAuth(req);
    const spec = {
      name: typeof b.name === 'string' ? b.name : '',
      pipeline: b.pipeline_slug || b.pipeline || 'default',
      total: b.total,
      startNow: b.start_now === true,
    };
    let j;
    try {
      j = await createJob(conn, spec);
    } catch (err) {
      log(`create job: ${err.message}`);
      throw new HTTPError(503, UNAVAILABLE);
    }
    send(res, 201, { id: j.id, status: j.status });
  }],

  ['GET', /^\/api\/v2\/jobs\/([^/]+)\/$/, async (req, res, m) => {
    const j = jobOf(m[1]);
    requireAuth(req);
    send(res, 200, jobView(j));
  }],

  ['POST', /^\/api\/v2\/jobs\/([^/]+)\/tasks\/$/, async (req, res, m, url, conn) => {
    const b = await jsonBody(req);
    if (!isObject(b) || !Number.isInteger(b.batch_size) || b.batch_size < 1 || b.batch_size > MAX_BATCH) {
      throw new HTTPError(400, `batch_size must be an integer in [1, ${MAX_BATCH}]`);
    }
    const j = jobOf(m[1]);
    requireAuth(req);
    if (!servesTasks(j.status)) {
      send(res, 200, { tasks: [] }); // the terminal-job guard: no NATS at all
      return;
    }
    let tasks;
    try {
      tasks = await reserve(conn, j, b.batch_size);
    } catch (err) {
      log(`reserve from job ${j.id}: ${err.message}`);
      throw new HTTPError(503, UNAVAILABLE);
    }
    send(res, 200, { tasks });
  }],

  ['POST', /^\/api\/v2\/jobs\/([^/]+)\/result\/$/, async (req, res, m) => {
    // As the platform does: the job (404) and the token (401) before the body.
    const j = jobOf(m[1]);
    requireAuth(req);
    const b = await jsonBody(req);
    if (!isObject(b) || !Array.isArray(b.results)) throw new HTTPError(400, 'results must be a list');
    const items = b.results.map((raw, i) => {
      try {
        return { job: j.id, ...parseResultItem(raw) };
      } catch (err) {
        throw new HTTPError(400, `results[${i}]: ${err.message}`);
      }
    });
    if (!enqueue(items)) throw new HTTPError(503, 'Result queue temporarily unavailable');
    send(res, 200, {
      status: 'accepted',
      job_id: j.id,
      results_queued: items.length,
      tasks: items.map((it) => ({ reply_subject: it.reply, status: 'queued', task_id: it.task })),
    });
  }],

  ['POST', /^\/api\/v2\/jobs\/([^/]+)\/cancel\/$/, async (req, res, m, url, conn) => {
    const j = jobOf(m[1]);
    requireAuth(req);
    await cancelJob(conn, j);
    send(res, 200, { id: j.id, status: j.status });
  }],
];

// A bounded pool of request slots, like a pool of synchronous workers: the
// liveness probe queues for a slot too.
let busy = 0;
const waiting = [];

function acquire(res) {
  if (cfg.maxConcurrent === 0 || busy < cfg.maxConcurrent) {
    busy++;
    return Promise.resolve(true);
  }
  return new Promise((resolve) => {
    const w = { resolve, res };
    waiting.push(w);
    res.on('close', () => {
      const i = waiting.indexOf(w);
      if (i >= 0) {
        waiting.splice(i, 1);
        resolve(false);
      }
    });
  });
}

function releaseSlot() {
  if (cfg.maxConcurrent === 0) return;
  const w = waiting.shift();
  if (w) {
    w.resolve(true); // the slot passes on
  } else {
    busy--;
  }
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://localhost');
  let route;
  let match;
  let methodKnown = false;
  for (const [method, re, fn] of routes) {
    const m = re.exec(url.pathname);
    if (!m) continue;
    methodKnown = true;
    if (method === req.method) {
      route = fn;
      match = m;
      break;
    }
  }
  if (!route) {
    send(res, methodKnown ? 405 : 404, { error: methodKnown ? 'method not allowed' : 'not found' });
    return;
  }
  if (!(await acquire(res))) return;
  const conn = new RequestConn(res);
  try {
    await route(req, res, match, url, conn);
  } catch (err) {
    if (err instanceof HTTPError) {
      send(res, err.status, { error: err.message });
    } else {
      log(`${req.method} ${url.pathname}: ${err.stack || err}`);
      send(res, 500, { error: 'internal error' });
    }
  } finally {
    conn.release();
    releaseSlot();
  }
}

process.on('unhandledRejection', (err) => log(`unhandled rejection: ${err && err.stack ? err.stack : err}`));

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => log(`handler: ${err.stack || err}`));
});
server.keepAliveTimeout = 65000;

for (let i = 0; i < cfg.processors; i++) {
  processorLoop();
}

const [host, port] = cfg.listen.includes(':')
  ? [cfg.listen.slice(0, cfg.listen.lastIndexOf(':')), cfg.listen.slice(cfg.listen.lastIndexOf(':') + 1)]
  : ['127.0.0.1', cfg.listen];
server.on('error', (err) => fatal(`listen ${cfg.listen}: ${err.message}`));
server.listen(Number(port), host || '127.0.0.1', () => {
  const a = server.address();
  process.stdout.write(`listening ${a.address}:${a.port}\n`);
  log(`serving on ${a.address}:${a.port}, NATS ${natsOptions.servers}${cfg.leak ? ', LEAKING every request connection' : ''}`);
});

function shutdown() {
  server.close();
  for (const nc of leaked) closeConn(nc);
  log(`stopping: ${opened} connections opened, ${leaked.length} leaked`);
  setTimeout(() => process.exit(0), 200).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
