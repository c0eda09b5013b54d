// A small OSS client for the console: every call is an ordinary OSS request signed in the
// browser (V1 header signature, HMAC-SHA1 with WebCrypto), so the console can do exactly what
// the credentials allow. Requests are path style on this server's own origin.

const SIGNED_SUBRESOURCES = new Set([
  'acl', 'uploads', 'uploadId', 'partNumber', 'cors', 'tagging', 'objectMeta', 'delete', 'location',
  'bucketInfo', 'stat', 'append', 'position', 'security-token', 'response-content-disposition',
  'response-content-type', 'callback', 'callback-var',
]);

export class OssError extends Error {
  constructor(status, code, message, requestId) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

const enc = new TextEncoder();

function b64(bytes) {
  let s = '';
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s);
}

// Path segments percent-encoded; `/` kept between them.
function encodeKey(key) {
  return key.split('/').map(encodeURIComponent).join('/');
}

export function pathOf(bucket, key) {
  if (!bucket) return '/';
  return `/${encodeURIComponent(bucket)}/${key ? encodeKey(key) : ''}`;
}

function queryString(query) {
  const parts = Object.entries(query)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => (v === '' ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`));
  return parts.length ? `?${parts.join('&')}` : '';
}

function canonicalResource(bucket, key, query) {
  let r = bucket ? `/${bucket}/${key || ''}` : '/';
  const subs = Object.keys(query).filter(k => SIGNED_SUBRESOURCES.has(k)).sort();
  subs.forEach((k, i) => {
    r += (i === 0 ? '?' : '&') + k + (query[k] === '' ? '' : `=${query[k]}`);
  });
  return r;
}

export class Oss {
  constructor({ accessKeyId, accessKeySecret, securityToken }) {
    if (!globalThis.crypto || !crypto.subtle) {
      throw new Error('This page needs a secure context (HTTPS, or http://localhost) for WebCrypto signing.');
    }
    this.ak = accessKeyId;
    this.token = securityToken || '';
    this.keyPromise = crypto.subtle.importKey('raw', enc.encode(accessKeySecret), { name: 'HMAC', hash: 'SHA-1' }, false, ['sign']);
  }

  async hmac(text) {
    return b64(await crypto.subtle.sign('HMAC', await this.keyPromise, enc.encode(text)));
  }

  async signHeaders(method, bucket, key, query, headers) {
    headers['x-oss-date'] = new Date().toUTCString();
    if (this.token) headers['x-oss-security-token'] = this.token;
    const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v).trim()]));
    const ossHeaders = Object.keys(lower).filter(k => k.startsWith('x-oss-')).sort().map(k => `${k}:${lower[k]}\n`).join('');
    const sts = [method, lower['content-md5'] || '', lower['content-type'] || '', lower['x-oss-date'], ''].join('\n')
      + ossHeaders + canonicalResource(bucket, key, query);
    headers.authorization = `OSS ${this.ak}:${await this.hmac(sts)}`;
    return headers;
  }

  // A presigned URL (V1 query signature) valid for `seconds`.
  async presign(method, bucket, key, seconds = 3600, query = {}) {
    const expires = Math.floor(Date.now() / 1000) + seconds;
    const q = { ...query };
    if (this.token) q['security-token'] = this.token;
    const sts = `${method}\n\n\n${expires}\n${canonicalResource(bucket, key, q)}`;
    const signed = { ...q, OSSAccessKeyId: this.ak, Expires: String(expires), Signature: await this.hmac(sts) };
    return `${location.origin}${pathOf(bucket, key)}${queryString(signed)}`;
  }

  // One signed request. `body` may be a string, Blob or ArrayBuffer; `onProgress(sentBytes)`
  // reports upload progress. Resolves with {status, text, header(name), xml()}; rejects with
  // OssError on any status >= 300 (and on 203 CallbackFailed).
  async request(method, { bucket, key, query = {}, headers = {}, body = null, onProgress, path } = {}) {
    const h = await this.signHeaders(method, path ? '_ossd' : bucket, path || key, query, { ...headers });
    const url = (path ? `/_ossd/${path}` : pathOf(bucket, key)) + queryString(query);
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [k, v] of Object.entries(h)) xhr.setRequestHeader(k, v);
    if (onProgress) xhr.upload.onprogress = e => onProgress(e.loaded);
    const done = new Promise((resolve, reject) => {
      xhr.onload = () => resolve();
      xhr.onerror = () => reject(new OssError(0, 'NetworkError', 'The request did not reach the server.'));
    });
    xhr.send(body);
    await done;
    const res = {
      status: xhr.status,
      text: xhr.responseText,
      header: name => xhr.getResponseHeader(name),
      rawHeaders: xhr.getAllResponseHeaders(),
      xml: () => new DOMParser().parseFromString(xhr.responseText, 'application/xml'),
      json: () => JSON.parse(xhr.responseText),
    };
    if (xhr.status >= 300 || xhr.status === 203 || xhr.status === 0) {
      let code = '';
      let message = xhr.responseText;
      if ((xhr.getResponseHeader('content-type') || '').includes('xml') && xhr.responseText) {
        const doc = res.xml();
        code = doc.querySelector('Code')?.textContent || '';
        message = doc.querySelector('Message')?.textContent || message;
      }
      throw new OssError(xhr.status, code, message, xhr.getResponseHeader('x-oss-request-id'));
    }
    return res;
  }
}

export function texts(node, selector) {
  return [...node.querySelectorAll(selector)].map(n => n.textContent);
}
