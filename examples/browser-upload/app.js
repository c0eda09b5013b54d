/* global OSS */
// The page's script: the three ways a browser uploads to OSS, as OSS users write them.
// `OSS` is ali-oss's browser bundle (dist/aliyun-oss-sdk.min.js), served by the app server.
'use strict';

const $ = id => document.getElementById(id);
let config = null;

async function fetchJson(url) {
  const res = await fetch(url, { cache: 'no-store' });
  const body = await res.json();
  if (!res.ok) throw new Error(`${url}: ${res.status} ${body.message || JSON.stringify(body)}`);
  return body;
}

// Temporary credentials from the app server (STS AssumeRole), in STS's own shape.
function fetchCredentials() {
  return fetchJson('/sts');
}

async function makeClient() {
  const creds = await fetchCredentials();
  const options = {
    region: config.region,
    endpoint: $('endpoint').value.trim(),
    sldEnable: $('sld-enable').checked,
    bucket: config.bucket,
    accessKeyId: creds.AccessKeyId,
    accessKeySecret: creds.AccessKeySecret,
    timeout: 60000,
  };
  if (creds.SecurityToken) {
    options.stsToken = creds.SecurityToken;
    options.refreshSTSToken = async () => {
      const fresh = await fetchCredentials();
      return {
        accessKeyId: fresh.AccessKeyId,
        accessKeySecret: fresh.AccessKeySecret,
        stsToken: fresh.SecurityToken,
      };
    };
    options.refreshSTSTokenInterval = 50 * 60 * 1000;
  }
  return new OSS(options);
}

// The upload-callback option of ali-oss: OSS (here ossd) POSTs `body` to `url` after the upload and
// hands the receiver's JSON back as `result.data`.
function callbackOption() {
  return {
    url: $('callback-url').value.trim(),
    body: config.callbackBody,
    contentType: 'application/json',
    customValue: { note: $('note').value },
  };
}

function objectKey(file) {
  return `${config.uploadPrefix}${file.name}`;
}

function setStatus(id, text, kind) {
  const el = $(id);
  el.textContent = text;
  el.className = `status ${kind || ''}`;
}

function showJson(id, value) {
  $(id).textContent = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}

// ali-oss errors carry name (e.g. CallbackFailedError), status (e.g. 203), code and requestId.
function describeError(err) {
  return {
    name: err.name,
    status: err.status,
    code: err.code,
    message: err.message,
    requestId: err.requestId,
  };
}

function chosenFile(inputId) {
  const file = $(inputId).files[0];
  if (!file) throw new Error('choose a file first');
  return file;
}

// 1. client.put(name, file, {callback})
async function putWithCallback() {
  setStatus('put-status', 'uploading...');
  showJson('put-result', '');
  $('put-error').hidden = true;
  try {
    const file = chosenFile('put-file');
    const client = await makeClient();
    const result = await client.put(objectKey(file), file, { callback: callbackOption() });
    setStatus('put-status', `uploaded ${result.name} (HTTP ${result.res.status})`, 'ok');
    showJson('put-result', result.data);
  } catch (err) {
    const e = describeError(err);
    setStatus('put-status', `${e.name} (status ${e.status})`, 'error');
    $('put-error').hidden = false;
    showJson('put-error', e);
  }
}

// 2. PostObject: a form posted straight to the bucket with a policy the app server signed.
function bucketUrl() {
  const ep = new URL($('endpoint').value.trim());
  if ($('sld-enable').checked) return `${ep.origin}/${config.bucket}`;
  return `${ep.protocol}//${config.bucket}.${ep.host}/`;
}

async function postForm(event) {
  event.preventDefault();
  setStatus('post-status', 'posting...');
  showJson('post-result', '');
  try {
    const file = chosenFile('post-file');
    const q = new URLSearchParams({
      key: objectKey(file),
      callbackUrl: $('callback-url').value.trim(),
      note: $('note').value,
    });
    const { fields } = await fetchJson(`/post-policy?${q}`);
    const holder = $('post-fields');
    holder.textContent = '';
    for (const [name, value] of Object.entries(fields)) {
      const input = document.createElement('input');
      input.type = 'hidden';
      input.name = name;
      input.value = value;
      holder.appendChild(input);
    }
    const form = $('post-form');
    form.action = bucketUrl();
    // The same multipart/form-data body a plain form submit sends (file field last), posted with
    // fetch so the page can show the answer; reading it needs the bucket's CORS rule.
    const res = await fetch(form.action, { method: 'POST', body: new FormData(form) });
    const text = await res.text();
    let shown = text;
    try {
      shown = JSON.parse(text);
    } catch (_) {
      /* an XML error or an empty 204 */
    }
    setStatus('post-status', `HTTP ${res.status}`, res.ok ? 'ok' : 'error');
    showJson('post-result', shown);
  } catch (err) {
    setStatus('post-status', `${err.name}: ${err.message}`, 'error');
  }
}

// 3. client.multipartUpload(name, file, {progress, partSize, callback})
async function multipart() {
  setStatus('mp-status', 'uploading...');
  showJson('mp-result', '');
  const bar = $('mp-progress');
  const events = [];
  window.mpProgress = events;
  bar.value = 0;
  try {
    const file = chosenFile('mp-file');
    const client = await makeClient();
    const result = await client.multipartUpload(objectKey(file), file, {
      partSize: 100 * 1024,
      parallel: 4,
      callback: callbackOption(),
      progress: p => {
        events.push(p);
        bar.value = p;
        $('mp-percent').textContent = `${Math.round(p * 100)}%`;
        $('mp-events').textContent = String(events.length);
      },
    });
    setStatus('mp-status', `uploaded ${result.name} (HTTP ${result.res.status})`, 'ok');
    showJson('mp-result', result.data);
  } catch (err) {
    const e = describeError(err);
    setStatus('mp-status', `${e.name} (status ${e.status})`, 'error');
    showJson('mp-result', e);
  }
}

async function init() {
  config = await fetchJson('/config');
  const params = new URLSearchParams(location.search);
  $('endpoint').value = params.get('endpoint') || config.endpoint;
  $('sld-enable').checked = params.get('sldEnable') === 'true';
  $('callback-url').value = params.get('callbackUrl') || config.callbackUrl;
  $('bucket').textContent = config.bucket;
  $('credentials-mode').textContent = config.credentials;
  $('prefix').textContent = config.uploadPrefix;
  $('put-btn').addEventListener('click', putWithCallback);
  $('post-form').addEventListener('submit', postForm);
  $('mp-btn').addEventListener('click', multipart);
  document.body.dataset.ready = 'true';
}

init().catch(err => {
  document.body.dataset.ready = 'error';
  setStatus('put-status', `cannot load /config: ${err.message}`, 'error');
});
