// STS temporary credentials: ali-oss's STS class against ossd's AssumeRole, then OSS clients
// with {accessKeyId, accessKeySecret, stsToken} inside and outside the role's and the
// session's policies; expiry, tampering, restarts, a second node, `ossd sts assume-role`.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import OSS from 'ali-oss';

import { OSSD_BIN, VARIANTS, expectOssError, makeClient, uniqueBucket } from './helpers.mjs';
import { OssdServerExtra } from './ossd_extra.mjs';

const ACCOUNT = '1234567890123456';
const SECRET = `node-sts-${randomBytes(12).toString('hex')}`;
const tmp = mkdtempSync(join(tmpdir(), 'ossd-sts-node-'));
const bucketA = uniqueBucket('sts-a');
const bucketB = uniqueBucket('sts-b');
const arn = name => `acs:ram::${ACCOUNT}:role/${name}`;

// "uploader" may read, write and list bucket A only; "reader" may only read it.
function configText({ secret = SECRET } = {}) {
  const lines = ['[sts]'];
  if (secret) lines.push(`secret = "${secret}"`);
  lines.push(
    'min_duration_seconds = 1',
    '',
    '[[sts.roles]]',
    'name = "uploader"',
    `arn = "${arn('uploader')}"`,
    'max_duration_seconds = 7200',
    `policy = '''${JSON.stringify({
      Version: '1',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['oss:PutObject', 'oss:GetObject', 'oss:ListObjects', 'oss:DeleteObject'],
          Resource: [`acs:oss:*:*:${bucketA}`, `acs:oss:*:*:${bucketA}/*`],
        },
        { Effect: 'Deny', Action: 'oss:DeleteObject', Resource: `acs:oss:*:*:${bucketA}/keep/*` },
      ],
    })}'''`,
    '',
    '[[sts.roles]]',
    'name = "reader"',
    `arn = "${arn('reader')}"`,
    '[sts.roles.policy]',
    'Version = "1"',
    '[[sts.roles.policy.Statement]]',
    'Effect = "Allow"',
    'Action = ["oss:GetObject"]',
    `Resource = ["acs:oss:*:*:${bucketA}/*"]`,
    '',
  );
  return lines.join('\n');
}

function writeConfig(name, opts) {
  const path = join(tmp, name);
  writeFileSync(path, configText(opts));
  return path;
}

const sharedConfig = writeConfig('shared.toml');
let server;

function stsClient(srv, opts = {}) {
  return new OSS.STS({
    accessKeyId: opts.ak || srv.ak,
    accessKeySecret: opts.sk || srv.sk,
    endpoint: srv.ipEndpoint,
  });
}

// An OSS client for temporary credentials, in one of helpers' variants.
function tempClient(srv, creds, variant = VARIANTS[0], bucket = bucketA) {
  const opts = {
    accessKeyId: creds.AccessKeyId,
    accessKeySecret: creds.AccessKeySecret,
    stsToken: creds.SecurityToken,
    region: 'oss-cn-hangzhou',
    authorizationV4: !!variant.v4,
    retryMax: 0,
    timeout: 60000,
    bucket,
  };
  if (variant.style === 'ip') {
    opts.endpoint = srv.ipEndpoint;
  } else {
    opts.endpoint = srv.localhostEndpoint;
    opts.sldEnable = true;
  }
  return new OSS(opts);
}

async function assume(srv, role = 'uploader', { policy, duration = 900, session = 'node-test' } = {}) {
  const r = await stsClient(srv).assumeRole(arn(role), policy, duration, session);
  return r.credentials;
}

// STS errors from ali-oss's STS class carry {status, code}.
async function expectStsError(promise, status, code) {
  let err = null;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected ${status} ${code}, but the call succeeded`);
  assert.deepEqual({ status: err.status, code: err.code }, { status, code }, err.message);
  return err;
}

// A raw AssumeRole POST signed like ali-oss does, with any Format (ali-oss always asks JSON).
async function rawAssumeRole(srv, extra) {
  const sts = stsClient(srv);
  const params = {
    Action: 'AssumeRole',
    RoleArn: arn('uploader'),
    RoleSessionName: 'raw',
    Version: '2015-04-01',
    AccessKeyId: srv.ak,
    SignatureMethod: 'HMAC-SHA1',
    SignatureVersion: '1.0',
    SignatureNonce: randomBytes(8).toString('hex'),
    Timestamp: new Date().toISOString(),
    ...extra,
  };
  params.Signature = sts._getSignature('POST', params, srv.sk);
  return fetch(srv.ipEndpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
}

before(async () => {
  server = new OssdServerExtra({ dataDir: join(tmp, 'data-1'), extraArgs: ['--config', sharedConfig] });
  await server.start();
  const root = makeClient(server, VARIANTS[0]);
  await root.putBucket(bucketA);
  await root.putBucket(bucketB);
  root.useBucket(bucketB);
  await root.put('other.txt', Buffer.from('b'));
});

after(async () => {
  if (server) await server.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('AssumeRole', () => {
  test('ali-oss STS.assumeRole returns STS-shaped credentials', async () => {
    const before = Date.now();
    const r = await stsClient(server).assumeRole(arn('uploader'), undefined, 1800, 'alice');
    assert.equal(r.res.status, 200);
    const c = r.credentials;
    assert.deepEqual(Object.keys(c).sort(), ['AccessKeyId', 'AccessKeySecret', 'Expiration', 'SecurityToken']);
    assert.match(c.AccessKeyId, /^STS\.[A-Za-z0-9]{20,}$/);
    assert.ok(c.AccessKeySecret.length >= 30);
    assert.match(c.Expiration, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const lifetime = Date.parse(c.Expiration) - before;
    assert.ok(lifetime > 1790e3 && lifetime < 1810e3, `lifetime ${lifetime}`);
  });

  test('JSON and XML answers carry AssumedRoleUser and Credentials', async () => {
    let r = await rawAssumeRole(server, { Format: 'JSON' });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /application\/json/);
    const j = await r.json();
    assert.match(j.RequestId, /\S+/);
    assert.equal(j.AssumedRoleUser.Arn, `${arn('uploader')}/raw`);
    assert.match(j.AssumedRoleUser.AssumedRoleId, /^\d+:raw$/);
    assert.match(j.Credentials.AccessKeyId, /^STS\./);

    r = await rawAssumeRole(server, {});
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /xml/);
    const xml = await r.text();
    assert.match(xml, /<AssumeRoleResponse>/);
    assert.match(xml, /<AssumedRoleUser><AssumedRoleId>\d+:raw<\/AssumedRoleId><Arn>acs:ram::\d+:role\/uploader\/raw<\/Arn>/);
    for (const tag of ['AccessKeyId', 'AccessKeySecret', 'SecurityToken', 'Expiration']) {
      assert.match(xml, new RegExp(`<Credentials>.*<${tag}>[^<]+</${tag}>.*</Credentials>`, 's'));
    }

    r = await rawAssumeRole(server, { RoleArn: 'nope' });
    assert.equal(r.status, 400);
    assert.match(await r.text(), /<Error>.*<Code>InvalidParameter.RoleArn<\/Code>/s);
  });

  test('STS errors: signature, key, role, duration, policy, session name, replayed nonce', async () => {
    const bad = stsClient(server, { sk: 'wrong-secret' });
    await expectStsError(bad.assumeRole(arn('uploader')), 400, 'SignatureDoesNotMatch');
    const unknown = stsClient(server, { ak: 'LTAIunknownkey', sk: 'x' });
    await expectStsError(unknown.assumeRole(arn('uploader')), 404, 'InvalidAccessKeyId.NotFound');
    const sts = stsClient(server);
    await expectStsError(sts.assumeRole(arn('nobody')), 404, 'EntityNotExist.Role');
    await expectStsError(sts.assumeRole(arn('uploader'), undefined, 7201), 400, 'InvalidParameter.DurationSeconds');
    await expectStsError(sts.assumeRole(arn('reader'), undefined, 3601), 400, 'InvalidParameter.DurationSeconds');
    await expectStsError(sts.assumeRole(arn('uploader'), { Version: '1', Statement: 'x' }), 400, 'InvalidParameter.PolicyGrammar');
    await expectStsError(sts.assumeRole(arn('uploader'), undefined, 900, 'bad name!'), 400, 'InvalidParameter.RoleSessionName');
    const nonce = randomBytes(8).toString('hex');
    assert.equal((await rawAssumeRole(server, { Format: 'JSON', SignatureNonce: nonce })).status, 200);
    const replay = await rawAssumeRole(server, { Format: 'JSON', SignatureNonce: nonce });
    assert.equal(replay.status, 400);
    assert.equal((await replay.json()).Code, 'SignatureNonceUsed');
  });

  test('temporary credentials cannot assume roles', async () => {
    const c = await assume(server);
    const tempSts = new OSS.STS({ accessKeyId: c.AccessKeyId, accessKeySecret: c.AccessKeySecret, endpoint: server.ipEndpoint });
    await expectStsError(tempSts.assumeRole(arn('uploader')), 400, 'MissingSecurityToken');
  });
});

for (const variant of VARIANTS) {
  describe(`temporary credentials, ali-oss ${variant.name}`, () => {
    test('within the role policy: put, get, head, list, delete', async () => {
      const c = await assume(server);
      const client = tempClient(server, c, variant);
      const key = `${variant.name}/in.txt`;
      assert.equal((await client.put(key, Buffer.from('inside'))).res.status, 200);
      assert.equal((await client.get(key)).content.toString(), 'inside');
      assert.equal((await client.head(key)).status, 200);
      const listed = await client.list({ prefix: `${variant.name}/` });
      assert.deepEqual(listed.objects.map(o => o.name), [key]);
      const v2 = await client.listV2({ prefix: `${variant.name}/` });
      assert.deepEqual(v2.objects.map(o => o.name), [key]);
      assert.equal((await client.delete(key)).res.status, 204);
    });

    test('outside the role policy: another bucket, another action, an explicit Deny', async () => {
      const c = await assume(server);
      const other = tempClient(server, c, variant, bucketB);
      let e = await expectOssError(other.get('other.txt'), { status: 403, code: 'AccessDenied' });
      assert.match(e.message, /should be authorized by RAM/);
      await expectOssError(other.put('x', Buffer.from('x')), { status: 403, code: 'AccessDenied' });
      const client = tempClient(server, c, variant);
      await expectOssError(client.putBucketACL(bucketA, 'public-read'), { status: 403, code: 'AccessDenied' });
      await expectOssError(client.listBuckets(), { status: 403, code: 'AccessDenied' });
      await client.put('keep/x', Buffer.from('x'));
      e = await expectOssError(client.delete('keep/x'), { status: 403, code: 'AccessDenied' });
      assert.equal(e.ecCode, '0003-00000201');
      // The reader role may read but not write.
      const reader = tempClient(server, await assume(server, 'reader'), variant);
      assert.equal((await reader.get('keep/x')).content.toString(), 'x');
      await expectOssError(reader.put('keep/y', Buffer.from('y')), { status: 403, code: 'AccessDenied' });
      await expectOssError(reader.list(), { status: 403, code: 'AccessDenied' });
    });

    test('a session policy narrows the role (prefix, action, list prefix)', async () => {
      const dir = `${variant.name}-${randomBytes(3).toString('hex')}`;
      const policy = {
        Version: '1',
        Statement: [
          { Effect: 'Allow', Action: ['oss:PutObject', 'oss:GetObject'], Resource: `acs:oss:*:*:${bucketA}/${dir}/*` },
          {
            Effect: 'Allow',
            Action: 'oss:ListObjects',
            Resource: `acs:oss:*:*:${bucketA}`,
            Condition: { StringLike: { 'oss:Prefix': `${dir}/*` } },
          },
          // Wider than the role: the intersection still excludes bucket B.
          { Effect: 'Allow', Action: 'oss:*', Resource: `acs:oss:*:*:${bucketB}/*` },
        ],
      };
      const c = await assume(server, 'uploader', { policy });
      const client = tempClient(server, c, variant);
      await client.put(`${dir}/a.txt`, Buffer.from('a'));
      assert.equal((await client.get(`${dir}/a.txt`)).content.toString(), 'a');
      assert.deepEqual((await client.list({ prefix: `${dir}/` })).objects.map(o => o.name), [`${dir}/a.txt`]);
      let e = await expectOssError(client.put('elsewhere.txt', Buffer.from('x')), { status: 403, code: 'AccessDenied' });
      assert.equal(e.message, "Access denied by authorizer's policy.");
      await expectOssError(client.delete(`${dir}/a.txt`), { status: 403, code: 'AccessDenied' });
      await expectOssError(client.list({ prefix: 'other/' }), { status: 403, code: 'AccessDenied' });
      await expectOssError(client.list(), { status: 403, code: 'AccessDenied' });
      e = await expectOssError(tempClient(server, c, variant, bucketB).get('other.txt'), { status: 403, code: 'AccessDenied' });
      assert.match(e.message, /should be authorized by RAM/);
    });

    test('tampered token and the root key with a token are refused', async () => {
      const c = await assume(server);
      const [payload, sig] = c.SecurityToken.split('.');
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
      claims.policies = [{ Version: '1', Statement: [{ Effect: 'Allow', Action: 'oss:*', Resource: '*' }] }];
      const forged = `${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${sig}`;
      const client = tempClient(server, { ...c, SecurityToken: forged }, variant, bucketB);
      await expectOssError(client.get('other.txt'), { status: 403, code: 'InvalidAccessKeyId' });
      const swapped = tempClient(server, { ...c, AccessKeyId: 'STS.someoneelse' }, variant);
      await expectOssError(swapped.put('x', Buffer.from('x')), { status: 403, code: 'InvalidAccessKeyId' });
      const root = tempClient(server, { AccessKeyId: server.ak, AccessKeySecret: server.sk, SecurityToken: c.SecurityToken }, variant);
      await expectOssError(root.put('x', Buffer.from('x')), { status: 403, code: 'InvalidAccessKeyId' });
    });

    if (variant.style === 'localhost') {
      test('presigned URLs carry the token (security-token / x-oss-security-token)', async () => {
        const c = await assume(server);
        const client = tempClient(server, c, variant);
        const key = `${variant.name}/presigned.txt`;
        await client.put(key, Buffer.from('presigned'));
        const url = client.signatureUrl(key, { expires: 300 });
        assert.match(url, /security-token=/);
        let r = await fetch(url);
        assert.equal(r.status, 200, await r.clone().text());
        assert.equal(await r.text(), 'presigned');
        const v4 = await client.signatureUrlV4('GET', 300, undefined, key);
        assert.match(v4, /x-oss-security-token=/);
        r = await fetch(v4);
        assert.equal(r.status, 200, await r.clone().text());
        // Outside the policy, the presigned URL is refused too.
        const outside = tempClient(server, c, variant, bucketB).signatureUrl('other.txt', { expires: 300 });
        r = await fetch(outside);
        assert.equal(r.status, 403);
        assert.match(await r.text(), /<Code>AccessDenied<\/Code>/);
      });
    }
  });
}

describe('token lifetime and sharing', () => {
  test('an expired token answers SecurityTokenExpired', async () => {
    const c = await assume(server, 'uploader', { duration: 1 });
    const client = tempClient(server, c);
    await new Promise(r => setTimeout(r, 2100));
    await expectOssError(client.put('late.txt', Buffer.from('x')), { status: 403, code: 'SecurityTokenExpired' });
  });

  test('tokens survive a restart (shared secret) and work on a second node with the same config', async () => {
    const c = await assume(server, 'uploader', { duration: 3600 });
    await tempClient(server, c).put('restart/a.txt', Buffer.from('before'));
    await server.restart();
    assert.equal((await tempClient(server, c).get('restart/a.txt')).content.toString(), 'before');

    // A second node: its own data dir, the same root key and configuration (and secret).
    const second = new OssdServerExtra({ dataDir: join(tmp, 'data-2'), ak: server.ak, sk: server.sk, extraArgs: ['--config', sharedConfig] });
    await second.start();
    try {
      const root2 = makeClient(second, VARIANTS[0]);
      await root2.putBucket(bucketA);
      const client2 = tempClient(second, c);
      await client2.put('second.txt', Buffer.from('node 2'));
      assert.equal((await client2.get('second.txt')).content.toString(), 'node 2');
      // Credentials issued by the second node work on the first.
      const c2 = await assume(second);
      assert.equal((await tempClient(server, c2).get('restart/a.txt')).content.toString(), 'before');
    } finally {
      await second.stop();
    }

    // A node with another secret does not accept the token.
    const foreign = new OssdServerExtra({
      dataDir: join(tmp, 'data-3'),
      ak: server.ak,
      sk: server.sk,
      extraArgs: ['--config', sharedConfig, '--sts-secret', `another-${SECRET}`],
    });
    await foreign.start();
    try {
      await makeClient(foreign, VARIANTS[0]).putBucket(bucketA);
      await expectOssError(tempClient(foreign, c).put('x', Buffer.from('x')), { status: 403, code: 'InvalidAccessKeyId' });
    } finally {
      await foreign.stop();
    }
  });

  test('without a configured secret the generated key in the data dir survives restarts', async () => {
    const config = writeConfig('no-secret.toml', { secret: null });
    const srv = new OssdServerExtra({ dataDir: join(tmp, 'data-gen'), extraArgs: ['--config', config] });
    await srv.start();
    try {
      await makeClient(srv, VARIANTS[0]).putBucket(bucketA);
      const c = await assume(srv);
      await tempClient(srv, c).put('gen.txt', Buffer.from('generated key'));
      await srv.restart();
      assert.equal((await tempClient(srv, c).get('gen.txt')).content.toString(), 'generated key');
      // The shared-secret node does not know this key.
      await expectOssError(tempClient(server, c).get('restart/a.txt'), { status: 403, code: 'InvalidAccessKeyId' });
    } finally {
      await srv.stop();
    }
  });

  test('ossd sts assume-role issues credentials offline that the server accepts', async () => {
    const policy = JSON.stringify({ Version: '1', Statement: [{ Effect: 'Allow', Action: 'oss:GetObject', Resource: '*' }] });
    const out = execFileSync(
      OSSD_BIN,
      ['sts', 'assume-role', '--role', 'uploader', '--duration', '1200', '--session', 'cli', '--policy', policy,
        '--config', sharedConfig, '--data', join(tmp, 'data-cli')],
      { env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OSSD_'))) },
    ).toString();
    const j = JSON.parse(out);
    assert.equal(j.AssumedRoleUser.Arn, `${arn('uploader')}/cli`);
    const lifetime = Date.parse(j.Credentials.Expiration) - Date.now();
    assert.ok(lifetime > 1190e3 && lifetime <= 1200e3, `lifetime ${lifetime}`);
    const client = tempClient(server, j.Credentials);
    assert.equal((await client.get('restart/a.txt')).content.toString(), 'before');
    await expectOssError(client.put('cli.txt', Buffer.from('x')), { status: 403, code: 'AccessDenied' });
  });
});

test('own tools: the raw AssumeRole signer matches an independent HMAC-SHA1', () => {
  const sts = new OSS.STS({ accessKeyId: 'a', accessKeySecret: 's' });
  const sig = sts._getSignature('POST', { B: '2', A: 'x y' }, 's');
  const expected = createHmac('sha1', 's&').update('POST&%2F&A%3Dx%2520y%26B%3D2').digest('base64');
  assert.equal(sig, expected);
});
