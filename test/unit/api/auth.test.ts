import assert from 'node:assert/strict';
import { basicAuthMatcher, bearerTokenMatcher, decodeBasicAuthorization, parseApiTokens, parseWebhookUsers } from '../../../src/api/auth';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

describe('webhook Basic auth', () => {
  const users = parseWebhookUsers(['uem:old-secret', 'uem:new:secret:with:colons', 'uem-next:pässwörd']);

  it('parses user:password pairs, the password may contain colons', () => {
    assert.deepEqual(users, [
      { username: 'uem', password: 'old-secret' },
      { username: 'uem', password: 'new:secret:with:colons' },
      { username: 'uem-next', password: 'pässwörd' },
    ]);
    assert.deepEqual(parseWebhookUsers([':nouser', 'nopassword:', 'nocolon']), []);
  });

  it('accepts every configured pair, so credentials can rotate', () => {
    const match = basicAuthMatcher(users);
    assert.equal(match(basic('uem', 'old-secret'))?.password, 'old-secret');
    assert.equal(match(basic('uem', 'new:secret:with:colons'))?.password, 'new:secret:with:colons');
    assert.equal(match(basic('uem-next', 'pässwörd'))?.username, 'uem-next');
  });

  it('refuses a wrong password, a known password with another user, and malformed headers', () => {
    const match = basicAuthMatcher(users);
    assert.equal(match(basic('uem', 'wrong')), undefined);
    assert.equal(match(basic('uem-next', 'old-secret')), undefined);
    assert.equal(match(basic('uem', 'old-secret ')), undefined);
    assert.equal(match(undefined), undefined);
    assert.equal(match(''), undefined);
    assert.equal(match('Bearer abc'), undefined);
    assert.equal(match('Basic !!!'), undefined);
    assert.equal(match(`Basic ${Buffer.from('no-colon').toString('base64')}`), undefined);
  });

  it('refuses everyone when no pair is configured', () => {
    assert.equal(basicAuthMatcher([])(basic('uem', 'old-secret')), undefined);
  });

  it('decodes a Basic header case-insensitively', () => {
    assert.deepEqual(decodeBasicAuthorization(basic('a', 'b').replace('Basic', 'basic')), { username: 'a', password: 'b' });
  });
});

describe('management API bearer tokens', () => {
  const tokens = parseApiTokens(['viewer-token-0123456789:viewer', 'operator-token-0123456789:operator', 'bad-role-token-012345:admin', 'norole']);

  it('parses token:role, skipping unknown roles', () => {
    assert.deepEqual(tokens, [
      { token: 'viewer-token-0123456789', role: 'viewer' },
      { token: 'operator-token-0123456789', role: 'operator' },
    ]);
  });

  it('finds the token and its role; refuses unknown tokens and other schemes', () => {
    const match = bearerTokenMatcher(tokens);
    assert.equal(match('Bearer viewer-token-0123456789')?.role, 'viewer');
    assert.equal(match('bearer operator-token-0123456789')?.role, 'operator');
    assert.equal(match('Bearer viewer-token-012345678'), undefined);
    assert.equal(match('Bearer bad-role-token-012345'), undefined);
    assert.equal(match(basic('viewer-token-0123456789', 'x')), undefined);
    assert.equal(match(undefined), undefined);
  });
});
