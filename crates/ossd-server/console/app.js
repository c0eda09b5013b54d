// The ossd web console: buckets, objects, the callback log. Plain ES modules, no build step.
// Credentials live in sessionStorage (this tab only); every call is a signed OSS request, and
// the callback log comes from ossd's JSON API (root key only), signed the same way.
import { Oss, OssError, texts } from './oss.js';

const STORE = 'ossd-console-credentials';
const MULTIPART_THRESHOLD = 4 * 1024 * 1024;
const PART_SIZE = 1024 * 1024;
const $ = sel => document.querySelector(sel);
let oss = null;

// ---------------------------------------------------------------- helpers ---

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined) el.append(c.nodeType ? c : String(c));
  return el;
}

function status(message, isError = false) {
  const s = $('#status');
  s.textContent = message;
  s.className = isError ? 'error' : '';
}

function describe(e) {
  if (e instanceof OssError) return `${e.code || 'Error'} (${e.status}): ${e.message}`;
  return e.message || String(e);
}

async function guarded(fn) {
  try {
    return await fn();
  } catch (e) {
    status(describe(e), true);
    return undefined;
  }
}

function size(n) {
  n = Number(n);
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < units.length - 1);
  return `${n.toFixed(1)} ${units[i]}`;
}

function when(ms) {
  return ms ? new Date(ms).toISOString().replace('T', ' ').replace('Z', ' UTC') : '';
}

function show(...children) {
  const view = $('#view');
  view.replaceChildren(...children);
  view.hidden = false;
  const heading = view.querySelector('h1');
  if (heading) { heading.tabIndex = -1; heading.focus(); }
}

function table(headers, rows, caption) {
  return h('table', { class: 'responsive' },
    caption ? h('caption', { class: 'muted', text: caption }) : null,
    h('thead', {}, h('tr', {}, headers.map(t => h('th', { scope: 'col', text: t })))),
    h('tbody', {}, rows));
}

function cell(label, ...content) {
  return h('td', { 'data-label': label }, ...content);
}

// ---------------------------------------------------------------- sign in ---

function signedIn() {
  const saved = sessionStorage.getItem(STORE);
  if (!saved) return false;
  try {
    const c = JSON.parse(saved);
    oss = new Oss(c);
    $('#who').textContent = `${c.accessKeyId}${c.securityToken ? ' (STS)' : ''}`;
    return true;
  } catch (e) {
    status(describe(e), true);
    return false;
  }
}

async function signIn(ev) {
  ev.preventDefault();
  const f = ev.target;
  const creds = { accessKeyId: f.ak.value.trim(), accessKeySecret: f.sk.value, securityToken: f.token.value.trim() };
  try {
    const client = new Oss(creds);
    await client.request('GET', {});
    sessionStorage.setItem(STORE, JSON.stringify(creds));
    f.reset();
    status('Signed in.');
    route();
  } catch (e) {
    status(`Sign-in failed: ${describe(e)}`, true);
  }
}

function signOut() {
  sessionStorage.removeItem(STORE);
  oss = null;
  location.hash = '#/buckets';
  status('Signed out.');
  route();
}

// ---------------------------------------------------------------- buckets ---

async function bucketsView() {
  const res = await oss.request('GET', {});
  const doc = res.xml();
  const rows = [...doc.querySelectorAll('Bucket')].map(b => {
    const name = b.querySelector('Name').textContent;
    return h('tr', {},
      cell('Name', h('a', { href: `#/b/${encodeURIComponent(name)}/`, text: name })),
      cell('Created', b.querySelector('CreationDate')?.textContent || ''),
      h('td', { class: 'actions' },
        h('button', { type: 'button', onclick: () => { location.hash = `#/cors/${encodeURIComponent(name)}`; }, text: 'CORS' }),
        h('button', { type: 'button', class: 'danger', 'aria-label': `Delete bucket ${name}`, onclick: () => deleteBucket(name), text: 'Delete' })));
  });
  const form = h('form', { id: 'create-bucket', onsubmit: createBucket, 'aria-label': 'Create a bucket' },
    h('label', {}, 'New bucket name', h('input', { name: 'name', id: 'bucket-name', required: true, pattern: '[a-z0-9][a-z0-9-]{1,61}[a-z0-9]', spellcheck: 'false' })),
    h('label', {}, 'ACL', h('select', { name: 'acl', id: 'bucket-acl' },
      ['private', 'public-read', 'public-read-write'].map(a => h('option', { value: a, text: a })))),
    h('button', { type: 'submit', class: 'primary', text: 'Create bucket' }));
  show(h('h1', { text: 'Buckets' }), form,
    rows.length ? table(['Name', 'Created', ''], rows) : h('p', { class: 'muted', text: 'No buckets yet.' }));
}

async function createBucket(ev) {
  ev.preventDefault();
  const name = ev.target.name.value.trim();
  const acl = ev.target.acl.value;
  await guarded(async () => {
    await oss.request('PUT', { bucket: name, headers: { 'x-oss-acl': acl } });
    status(`Created bucket ${name} (${acl}).`);
    await bucketsView();
  });
}

async function deleteBucket(name) {
  if (!confirm(`Delete the bucket ${name}? It must be empty.`)) return;
  await guarded(async () => {
    await oss.request('DELETE', { bucket: name });
    status(`Deleted bucket ${name}.`);
    await bucketsView();
  });
}

async function corsView(bucket) {
  let xml = '';
  try {
    xml = (await oss.request('GET', { bucket, query: { cors: '' } })).text;
  } catch (e) {
    if (!(e instanceof OssError && e.code === 'NoSuchCORSConfiguration')) throw e;
  }
  const example = '<CORSConfiguration>\n  <CORSRule>\n    <AllowedOrigin>https://app.example.com</AllowedOrigin>\n'
    + '    <AllowedMethod>GET</AllowedMethod>\n    <AllowedMethod>PUT</AllowedMethod>\n    <AllowedHeader>*</AllowedHeader>\n'
    + '    <ExposeHeader>ETag</ExposeHeader>\n  </CORSRule>\n</CORSConfiguration>';
  const area = h('textarea', { id: 'cors-xml', name: 'xml', 'aria-label': 'CORS rules (XML)', spellcheck: 'false' });
  area.value = xml || example;
  const save = async ev => {
    ev.preventDefault();
    await guarded(async () => {
      await oss.request('PUT', { bucket, query: { cors: '' }, body: area.value, headers: { 'content-type': 'application/xml' } });
      status(`Saved the CORS rules of ${bucket}.`);
    });
  };
  const remove = async () => guarded(async () => {
    await oss.request('DELETE', { bucket, query: { cors: '' } });
    status(`Removed the CORS rules of ${bucket}.`);
    await corsView(bucket);
  });
  show(h('h1', { text: `CORS rules of ${bucket}` }),
    h('p', { class: 'muted', text: xml ? 'Current rules:' : 'No rules yet; an example to start from:' }),
    h('form', { onsubmit: save }, area,
      h('button', { type: 'submit', class: 'primary', text: 'Save rules' }),
      h('button', { type: 'button', class: 'danger', onclick: remove, disabled: !xml, text: 'Remove all rules' }),
      h('a', { href: '#/buckets', text: 'Back to buckets' })));
}

// ---------------------------------------------------------------- objects ---

async function objectsView(bucket, prefix) {
  const query = { 'list-type': '2', delimiter: '/', 'max-keys': '1000', prefix, 'fetch-owner': 'false' };
  const doc = (await oss.request('GET', { bucket, query })).xml();
  const folders = texts(doc, 'CommonPrefixes > Prefix');
  const objects = [...doc.querySelectorAll('Contents')].map(c => ({
    key: c.querySelector('Key').textContent,
    size: c.querySelector('Size').textContent,
    modified: c.querySelector('LastModified').textContent,
  }));
  const base = `#/b/${encodeURIComponent(bucket)}/`;
  const crumbs = [h('a', { href: base, text: bucket })];
  let acc = '';
  for (const part of prefix.split('/').filter(Boolean)) {
    acc += `${part}/`;
    crumbs.push(' / ', h('a', { href: base + encodeURIComponent(acc), text: part }));
  }
  const rows = [
    ...folders.map(p => h('tr', {},
      cell('Name', h('a', { href: base + encodeURIComponent(p), text: `${p.slice(prefix.length)}` })),
      cell('Size', 'folder'), cell('Modified', ''), h('td', {}))),
    ...objects.map(o => h('tr', {},
      cell('Name', o.key.slice(prefix.length)),
      cell('Size', size(o.size)),
      cell('Modified', o.modified),
      h('td', { class: 'actions' },
        h('button', { type: 'button', onclick: () => download(bucket, o.key), text: 'Download', 'aria-label': `Download ${o.key}` }),
        h('button', { type: 'button', onclick: () => details(bucket, o.key), text: 'Details', 'aria-label': `Details of ${o.key}` }),
        h('button', { type: 'button', onclick: () => copyUrl(bucket, o.key), text: 'Copy URL', 'aria-label': `Copy a presigned URL of ${o.key}` }),
        h('button', { type: 'button', class: 'danger', onclick: () => deleteObject(bucket, prefix, o.key), text: 'Delete', 'aria-label': `Delete ${o.key}` })))),
  ];
  const input = h('input', { type: 'file', id: 'upload-file', multiple: true, 'aria-label': 'Files to upload' });
  const uploads = h('div', { id: 'uploads', 'aria-live': 'polite' });
  const form = h('form', {
    id: 'upload-form',
    onsubmit: async ev => {
      ev.preventDefault();
      for (const file of input.files) await uploadFile(bucket, prefix + file.name, file, uploads);
      input.value = '';
      await objectsView(bucket, prefix);
      status(`Uploaded to ${bucket}/${prefix}.`);
    },
  }, h('label', {}, `Upload into ${prefix || '/'}`, input), h('button', { type: 'submit', class: 'primary', text: 'Upload' }));
  show(h('h1', { text: `Bucket ${bucket}` }), h('nav', { class: 'crumbs', 'aria-label': 'Folder' }, crumbs), form, uploads,
    h('div', { id: 'object-detail' }),
    rows.length ? table(['Name', 'Size', 'Modified', ''], rows) : h('p', { class: 'muted', text: 'Nothing here yet.' }));
}

async function uploadFile(bucket, key, file, into) {
  const bar = h('progress', { max: String(file.size || 1), value: '0', 'aria-label': `Upload of ${key}` });
  const label = h('span', { text: `${key}: 0%` });
  const row = h('div', { class: 'upload' }, label, bar);
  into.append(row);
  const progress = sent => {
    bar.value = Math.min(sent, file.size);
    label.textContent = `${key}: ${Math.floor((100 * bar.value) / (file.size || 1))}%`;
  };
  const ok = await guarded(async () => {
    const headers = { 'content-type': file.type || 'application/octet-stream' };
    if (file.size < MULTIPART_THRESHOLD) {
      await oss.request('PUT', { bucket, key, body: file, headers, onProgress: progress });
    } else {
      await multipart(bucket, key, file, headers, progress);
    }
    progress(file.size);
    return true;
  });
  if (!ok) label.textContent = `${key}: failed`;
}

async function multipart(bucket, key, file, headers, progress) {
  const init = (await oss.request('POST', { bucket, key, query: { uploads: '' }, headers })).xml();
  const uploadId = init.querySelector('UploadId').textContent;
  const parts = [];
  try {
    for (let n = 1, offset = 0; offset < file.size; n++, offset += PART_SIZE) {
      const blob = file.slice(offset, offset + PART_SIZE);
      const res = await oss.request('PUT', {
        bucket, key, query: { partNumber: String(n), uploadId }, body: blob, onProgress: sent => progress(offset + sent),
      });
      parts.push(`<Part><PartNumber>${n}</PartNumber><ETag>${res.header('etag')}</ETag></Part>`);
    }
    const body = `<CompleteMultipartUpload>${parts.join('')}</CompleteMultipartUpload>`;
    await oss.request('POST', { bucket, key, query: { uploadId }, body, headers: { 'content-type': 'application/xml' } });
  } catch (e) {
    await oss.request('DELETE', { bucket, key, query: { uploadId } }).catch(() => {});
    throw e;
  }
}

async function download(bucket, key) {
  const name = key.split('/').pop();
  const url = await oss.presign('GET', bucket, key, 300, { 'response-content-disposition': `attachment; filename="${name.replace(/"/g, '')}"` });
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
}

async function copyUrl(bucket, key) {
  const url = await oss.presign('GET', bucket, key, 3600);
  const detail = $('#object-detail');
  const field = h('input', { id: 'presigned-url', readonly: true, value: url, 'aria-label': 'Presigned URL (valid 1 hour)' });
  detail.replaceChildren(h('h2', { text: `Presigned URL of ${key} (1 hour)` }), field);
  try {
    await navigator.clipboard.writeText(url);
    status('Copied a presigned URL (valid 1 hour) to the clipboard.');
  } catch {
    field.select();
    status('Presigned URL shown below; copy it with Ctrl+C.');
  }
}

async function details(bucket, key) {
  await guarded(async () => {
    const head = await oss.request('HEAD', { bucket, key });
    const wanted = ['content-type', 'content-length', 'etag', 'last-modified', 'x-oss-object-type', 'x-oss-hash-crc64ecma', 'cache-control', 'content-disposition'];
    const meta = [];
    for (const name of wanted) if (head.header(name)) meta.push([name, head.header(name)]);
    // Same origin: every response header is readable, user metadata included.
    for (const line of head.rawHeaders.split('\r\n')) {
      const i = line.indexOf(':');
      if (line.toLowerCase().startsWith('x-oss-meta-')) meta.push([line.slice(0, i), line.slice(i + 1).trim()]);
    }
    const tagsDoc = (await oss.request('GET', { bucket, key, query: { tagging: '' } })).xml();
    const tags = [...tagsDoc.querySelectorAll('Tag')].map(t => [t.querySelector('Key').textContent, t.querySelector('Value').textContent]);
    const detail = $('#object-detail');
    detail.replaceChildren(
      h('h2', { text: `Details of ${key}` }),
      h('dl', { id: 'object-meta' }, meta.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })])),
      h('h2', { text: 'Tags' }),
      tags.length ? h('dl', { id: 'object-tags' }, tags.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })]))
        : h('p', { class: 'muted', text: 'No tags.' }));
    detail.querySelector('h2').tabIndex = -1;
    detail.querySelector('h2').focus();
  });
}

async function deleteObject(bucket, prefix, key) {
  if (!confirm(`Delete ${key}?`)) return;
  await guarded(async () => {
    await oss.request('DELETE', { bucket, key });
    status(`Deleted ${key}.`);
    await objectsView(bucket, prefix);
  });
}

// -------------------------------------------------------------- callbacks ---

async function callbacksView(params) {
  const query = {};
  for (const k of ['bucket', 'outcome']) if (params.get(k)) query[k] = params.get(k);
  // datetime-local values carry no zone; the form labels them UTC.
  if (params.get('since')) query.since_ms = String(Date.parse(`${params.get('since')}Z`));
  if (params.get('until')) query.until_ms = String(Date.parse(`${params.get('until')}Z`));
  const { entries } = (await oss.request('GET', { path: 'api/callbacks', query })).json();
  const form = h('form', {
    id: 'callback-filters',
    'aria-label': 'Filter the callback log',
    onsubmit: ev => {
      ev.preventDefault();
      const p = new URLSearchParams();
      for (const [k, v] of new FormData(ev.target)) if (v) p.set(k, v);
      location.hash = `#/callbacks?${p}`;
    },
  },
  h('label', {}, 'Bucket', h('input', { name: 'bucket', id: 'filter-bucket', value: params.get('bucket') || '', spellcheck: 'false' })),
  h('label', {}, 'Outcome', h('select', { name: 'outcome', id: 'filter-outcome' },
    [['', 'any'], ['200', '200 (answered)'], ['203', '203 (failed)'], ['pending', 'pending']].map(([v, t]) =>
      h('option', { value: v, text: t, selected: (params.get('outcome') || '') === v })))),
  h('label', {}, 'Since (UTC)', h('input', { name: 'since', id: 'filter-since', type: 'datetime-local', value: params.get('since') || '' })),
  h('label', {}, 'Until (UTC)', h('input', { name: 'until', id: 'filter-until', type: 'datetime-local', value: params.get('until') || '' })),
  h('button', { type: 'submit', class: 'primary', text: 'Filter' }));
  const rows = entries.map(e => h('tr', {},
    cell('When', when(e.created_ms)),
    cell('Outcome', h('span', { class: `outcome-${e.outcome}`, text: e.outcome })),
    cell('Object', `${e.bucket}/${e.object}`),
    cell('Operation', e.operation),
    cell('Message', e.message),
    h('td', { class: 'actions' }, h('a', { href: `#/callback/${encodeURIComponent(e.request_id)}`, text: 'Details', 'aria-label': `Details of ${e.request_id}` }))));
  show(h('h1', { text: 'Callback log' }), form,
    rows.length ? table(['When', 'Outcome', 'Object', 'Operation', 'Message', ''], rows, `${rows.length} deliveries, newest first`)
      : h('p', { class: 'muted', text: 'No callback deliveries match.' }));
}

function callbackDetail(e) {
  const attempts = (e.attempts || []).map(a => h('tr', {},
    cell('URL', a.url), cell('Status', a.status ?? '-'), cell('Latency', `${a.latency_ms} ms`),
    cell('Answer bytes', a.response_bytes), cell('Error', a.error || '')));
  return [
    h('dl', { id: 'callback-summary' },
      h('dt', { text: 'Request id' }), h('dd', { text: e.request_id }),
      h('dt', { text: 'Object' }), h('dd', { text: `${e.bucket}/${e.object}` }),
      h('dt', { text: 'Operation' }), h('dd', { text: e.operation }),
      h('dt', { text: 'Outcome' }), h('dd', {}, h('span', { id: 'callback-outcome', class: `outcome-${e.outcome}`, text: e.outcome })),
      h('dt', { text: 'Created' }), h('dd', { text: when(e.created_ms) }),
      h('dt', { text: 'Finished' }), h('dd', { text: when(e.finished_ms) }),
      h('dt', { text: 'Message' }), h('dd', { id: 'callback-message', text: e.message }),
      h('dt', { text: 'URLs' }), h('dd', { text: (e.urls || []).join(' ; ') }),
      h('dt', { text: 'Public key URL' }), h('dd', { text: e.key_url })),
    h('h2', { text: 'Why' }),
    (e.hints || []).length ? h('ul', { class: 'hints', id: 'callback-hints' }, e.hints.map(t => h('li', { text: t })))
      : h('p', { class: 'muted', text: 'Nothing to explain.' }),
    h('h2', { text: 'Attempts' }),
    attempts.length ? table(['URL', 'Status', 'Latency', 'Answer bytes', 'Error'], attempts) : h('p', { class: 'muted', text: 'None recorded.' }),
    h('h2', { text: `Body sent (${e.body_type || ''})` }), h('pre', { id: 'callback-body', text: e.body }),
    e.answer !== undefined ? [h('h2', { text: 'Receiver answer' }), h('pre', { id: 'callback-answer', text: e.answer })] : null,
  ];
}

async function callbackView(id) {
  const e = (await oss.request('GET', { path: `api/callbacks/${encodeURIComponent(id)}` })).json();
  const holder = h('div', { id: 'callback-detail' }, callbackDetail(e));
  const replay = async () => guarded(async () => {
    status('Replaying...');
    const r = (await oss.request('POST', { path: `api/callbacks/${encodeURIComponent(id)}/replay` })).json();
    holder.replaceChildren(...callbackDetail(r).flat(Infinity).filter(Boolean));
    status(`Replayed: outcome ${r.outcome}.`);
  });
  show(h('h1', { text: `Callback ${id}` }),
    h('p', {}, h('button', { type: 'button', class: 'primary', id: 'replay', onclick: replay, text: 'Replay (signed anew, same body)' }),
      ' ', h('a', { href: '#/callbacks', text: 'Back to the log' })),
    holder);
}

// ------------------------------------------------------------------ route ---

// route() calls started, and the newest one that finished: only the newest call marks the page
// ready, and an older call that finishes after it (having drawn a stale view) draws it again.
let routes = 0;
let routed = 0;

async function route() {
  const signed = signedIn();
  $('#nav').hidden = !signed;
  $('#sign-in').hidden = signed;
  if (!signed) {
    $('#view').hidden = true;
    $('#ak').focus();
    return;
  }
  const shown = location.hash;
  const hash = shown.slice(1) || '/buckets';
  const [path, search] = hash.split('?');
  const parts = path.split('/').slice(1);
  const run = ++routes;
  document.body.dataset.ready = 'false';
  await guarded(async () => {
    if (parts[0] === 'b' && parts[1]) await objectsView(decodeURIComponent(parts[1]), decodeURIComponent(parts.slice(2).join('/')));
    else if (parts[0] === 'cors' && parts[1]) await corsView(decodeURIComponent(parts[1]));
    else if (parts[0] === 'callbacks') await callbacksView(new URLSearchParams(search || ''));
    else if (parts[0] === 'callback' && parts[1]) await callbackView(decodeURIComponent(parts[1]));
    else await bucketsView();
  });
  // Ready means "the view of this hash is on screen": a link or form changes the hash at once
  // but renders on the later hashchange, so a reader compares data-route with location.hash
  // (and a slower, older render finishing last does not claim readiness).
  if (run !== routes) {
    if (routed === routes) route();
    return;
  }
  routed = run;
  document.body.dataset.route = shown;
  document.body.dataset.ready = 'true';
}

$('#sign-in-form').addEventListener('submit', signIn);
$('#sign-out').addEventListener('click', signOut);
window.addEventListener('hashchange', () => { status(''); route(); });
route();
