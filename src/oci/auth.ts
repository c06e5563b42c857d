/**
 * Registry authentication: `WWW-Authenticate` parsing and the anonymous → Basic → Bearer flow.
 *
 * Owns: the RFC 7235 challenge parser (several challenges in one header, quoted strings with commas
 * and escapes, token68), and `RegistryAuthenticator`, which answers a registry's 401 with Basic
 * credentials or a Bearer token from the challenge's realm (docker token protocol: `service`, one
 * `scope` parameter per scope, Basic credentials or an OAuth2 refresh token, `token`/`access_token`,
 * `expires_in` default 60 s). Tokens are cached per (realm, service, scopes) and reused until shortly
 * before they expire; once a registry has asked for Bearer tokens, the token of a scope not seen before
 * is fetched ahead of that scope's first request instead of after its 401. It never loops: the
 * registry client retries a request at most once per 401.
 * Written by hand because no maintained npm package implements the docker token flow on undici.
 */
import type { Dispatcher } from 'undici';
import { OciError } from '../errors.ts';
import type { RegistryCredential, CredentialSource } from './credentials.ts';
import { CallScope, describeUrl, readBody, sendHttp, statusError, usesPlainHttp } from './http.ts';
import { systemClock } from '../time/clock.ts';

export interface Challenge {
  /** Lower-cased auth scheme, e.g. `bearer`, `basic`. */
  readonly scheme: string;
  /** Auth parameters, names lower-cased. */
  readonly params: Readonly<Record<string, string>>;
  /** The token68 form (`Negotiate abc==`), when used instead of parameters. */
  readonly token68?: string;
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68_CHAR = /[A-Za-z0-9\-._~+/]/;

/**
 * Parse one or more `WWW-Authenticate` header values (RFC 7235 §4.1, RFC 6750 §3). Malformed parts
 * are skipped rather than fatal: a registry that sends junk gets treated as sending no challenge.
 */
export function parseWwwAuthenticate(values: string | readonly string[] | undefined): Challenge[] {
  if (values === undefined) return [];
  const list = typeof values === 'string' ? [values] : values;
  return list.flatMap(parseOneHeader);
}

function parseOneHeader(input: string): Challenge[] {
  const challenges: Challenge[] = [];
  let i = 0;
  const n = input.length;
  const skipSpace = (): void => {
    while (i < n && (input[i] === ' ' || input[i] === '\t')) i++;
  };
  const skipSeparators = (): void => {
    while (i < n && (input[i] === ' ' || input[i] === '\t' || input[i] === ',')) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && TOKEN_CHAR.test(input[i]!)) i++;
    return input.slice(start, i);
  };
  const readQuoted = (): string | undefined => {
    // at the opening quote
    i++;
    let out = '';
    while (i < n) {
      const c = input[i]!;
      if (c === '\\' && i + 1 < n) {
        out += input[i + 1];
        i += 2;
      } else if (c === '"') {
        i++;
        return out;
      } else {
        out += c;
        i++;
      }
    }
    return undefined; // unterminated
  };
  /** Looking at `name BWS "="` (an auth-param, not the next challenge's scheme)? */
  const atParam = (): boolean => {
    let j = i;
    while (j < n && TOKEN_CHAR.test(input[j]!)) j++;
    if (j === i) return false;
    while (j < n && (input[j] === ' ' || input[j] === '\t')) j++;
    return input[j] === '=' && input[j + 1] !== '=';
  };

  skipSeparators();
  while (i < n) {
    const scheme = readToken();
    if (scheme === '') {
      // junk: skip to the next comma and try again
      while (i < n && input[i] !== ',') i++;
      skipSeparators();
      continue;
    }
    skipSpace();
    const params: Record<string, string> = {};
    let token68: string | undefined;
    if (i < n && input[i] !== ',' && !atParam()) {
      const start = i;
      while (i < n && TOKEN68_CHAR.test(input[i]!)) i++;
      while (i < n && input[i] === '=') i++;
      token68 = input.slice(start, i);
      skipSpace();
    } else {
      for (;;) {
        const save = i;
        skipSeparators();
        if (!atParam()) {
          i = save;
          break;
        }
        const name = readToken().toLowerCase();
        skipSpace();
        i++; // '='
        skipSpace();
        let value: string | undefined;
        if (input[i] === '"') value = readQuoted();
        else value = readToken();
        if (value === undefined) break;
        if (!(name in params)) params[name] = value;
        skipSpace();
      }
    }
    challenges.push(token68 === undefined || token68 === '' ? { scheme: scheme.toLowerCase(), params } : { scheme: scheme.toLowerCase(), params, token68 });
    // move to the next challenge
    skipSpace();
    if (i < n && input[i] !== ',') {
      while (i < n && input[i] !== ',') i++;
    }
    skipSeparators();
  }
  return challenges;
}

interface CachedToken {
  readonly authorization: string;
  readonly expiresAt: number;
}

export interface AuthenticatorOptions {
  /** Registry host `host[:port]` (as used for credential lookup). */
  readonly registry: string;
  readonly credentials: CredentialSource;
  readonly dispatcher: Dispatcher;
  readonly plainHttpRegistries?: readonly string[];
  readonly userAgent: string;
  /** Clock, for tests of expiry. */
  readonly now?: () => number;
}

/** Default lifetime when the token response has no `expires_in` (docker token spec). */
export const DEFAULT_TOKEN_LIFETIME_SECONDS = 60;
const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;

/** Stop reusing a token this long before it expires (a fifth of its lifetime, at most 30 s). */
function refreshMargin(lifetimeMs: number): number {
  return Math.min(30_000, lifetimeMs / 5);
}

function basicHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

/**
 * Holds what one registry host asked for (Basic or Bearer) and the tokens obtained for it.
 * `authorizationFor(scope)` gives the header to send up front; `answerChallenge` is called after a 401.
 */
export class RegistryAuthenticator {
  readonly #options: AuthenticatorOptions;
  readonly #now: () => number;
  readonly #tokens = new Map<string, CachedToken>();
  /** Token requests in flight, so concurrent 401s for the same scope share one request. */
  readonly #pending = new Map<string, Promise<CachedToken>>();
  /** The last Bearer challenge seen (realm + service), so later requests can get tokens up front. */
  #bearer: { realm: string; service: string | undefined } | undefined;
  #basic = false;
  /** Requests sent to token realms (for tests and metrics). */
  tokenRequests = 0;

  /** The registry host this authenticator answers for. */
  readonly registry: string;

  constructor(options: AuthenticatorOptions) {
    this.#options = options;
    this.registry = options.registry.toLowerCase();
    this.#now = options.now ?? systemClock.now;
  }

  /**
   * Asked each time, not cached here: rotated pull secrets take effect at once, and a source that is
   * expensive to query (the Kubernetes API) caches for itself.
   */
  #credentials(): Promise<RegistryCredential | undefined> {
    return this.#options.credentials.credentialsFor(this.#options.registry);
  }

  #cacheKey(realm: string, service: string | undefined, scopes: readonly string[]): string {
    return JSON.stringify([realm, service ?? '', [...scopes].sort()]);
  }

  /**
   * The Authorization header to send before any challenge, if one is known to be needed. Once the
   * registry has asked for Bearer tokens, a scope with no token yet (a repository not read before)
   * gets one here, before its first request (when `callScope` bounds the token request): one round
   * trip less than being refused first, and concurrent first requests share the one token request.
   */
  async authorizationFor(scope: string, callScope?: CallScope, what = scope): Promise<string | undefined> {
    if (this.#basic) {
      const credential = await this.#credentials();
      return credential?.kind === 'basic' ? basicHeader(credential.username, credential.password.reveal()) : undefined;
    }
    if (this.#bearer) {
      const { realm, service } = this.#bearer;
      const cached = this.#tokens.get(this.#cacheKey(realm, service, [scope]));
      if (cached && cached.expiresAt > this.#now()) return cached.authorization;
      if (callScope !== undefined) return this.#tokenFor(realm, service, scope, [scope], callScope, what);
    }
    return undefined;
  }

  /** A fresh token for `scopes` (one request however many callers ask at once), kept for `scope`. */
  async #tokenFor(realm: string, service: string | undefined, scope: string, scopes: readonly string[], callScope: CallScope, what: string): Promise<string> {
    const key = this.#cacheKey(realm, service, scopes);
    let pending = this.#pending.get(key);
    if (pending === undefined) {
      pending = this.#fetchToken(realm, service, scopes, callScope, what).finally(() => this.#pending.delete(key));
      this.#pending.set(key, pending);
    }
    const token = await pending;
    this.#tokens.set(this.#cacheKey(realm, service, [scope]), token);
    return token.authorization;
  }

  /**
   * Answer a 401: pick the Bearer or Basic challenge and return a fresh Authorization header.
   * `sent` is the Authorization the refused request carried (never handed back).
   * Throws UNAUTHORIZED when there is nothing to answer with (no usable challenge, no credentials).
   */
  async answerChallenge(challenges: readonly Challenge[], scope: string, callScope: CallScope, what: string, sent?: string): Promise<string> {
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params.realm);
    if (bearer) {
      const realm = bearer.params.realm!;
      const service = bearer.params.service;
      this.#bearer = { realm, service };
      // A concurrent request may have fetched a token since this one was sent: use it, unless it is
      // the very token the registry just refused.
      const fresh = this.#tokens.get(this.#cacheKey(realm, service, [scope]));
      if (fresh && fresh.expiresAt > this.#now() && fresh.authorization !== sent) return fresh.authorization;
      const challengeScopes = (bearer.params.scope ?? '').split(' ').filter(Boolean);
      return this.#tokenFor(realm, service, scope, [...new Set([scope, ...challengeScopes])], callScope, what);
    }
    if (challenges.some((c) => c.scheme === 'basic')) {
      const credential = await this.#credentials();
      if (credential?.kind !== 'basic') {
        throw new OciError('UNAUTHORIZED', `${what}: the registry asks for Basic credentials and none are configured for ${this.#options.registry}`);
      }
      this.#basic = true;
      return basicHeader(credential.username, credential.password.reveal());
    }
    const schemes = challenges.map((c) => c.scheme).join(', ') || 'none';
    throw new OciError('UNAUTHORIZED', `${what}: HTTP 401 with no usable challenge (schemes: ${schemes})`);
  }

  async #fetchToken(realmText: string, service: string | undefined, scopes: readonly string[], callScope: CallScope, what: string): Promise<CachedToken> {
    let realm: URL;
    try {
      realm = new URL(realmText);
    } catch {
      throw new OciError('PROTOCOL', `${what}: Bearer challenge has an invalid realm`);
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') throw new OciError('PROTOCOL', `${what}: token realm must be http(s), got ${realm.protocol}`);
    const credential = await this.#credentials();
    // Never send credentials in clear text, except to loopback or explicitly plain-HTTP hosts.
    const mayUseCredentials = realm.protocol === 'https:' || usesPlainHttp(realm.host, this.#options.plainHttpRegistries);
    const realmText_ = describeUrl(realm);
    const headers: Record<string, string> = { 'user-agent': this.#options.userAgent, accept: 'application/json' };
    let method: 'GET' | 'POST' = 'GET';
    let body: Buffer | undefined;
    const url = new URL(realm);
    if (credential?.kind === 'identity-token' && mayUseCredentials) {
      method = 'POST';
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: credential.token.reveal(), client_id: 'modelgate' });
      if (service !== undefined) form.set('service', service);
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      body = Buffer.from(form.toString());
      headers['content-type'] = 'application/x-www-form-urlencoded';
    } else {
      if (service !== undefined) url.searchParams.set('service', service);
      for (const s of scopes) url.searchParams.append('scope', s);
      if (credential?.kind === 'basic' && mayUseCredentials) headers.authorization = basicHeader(credential.username, credential.password.reveal());
    }
    const tokenWhat = `token request to ${realmText_} (for ${what})`;
    this.tokenRequests++;
    const response = await sendHttp(
      this.#options.dispatcher,
      { method, url, headers, body, signal: callScope.signal, headersTimeoutMs: callScope.timeoutMs, bodyTimeoutMs: callScope.timeoutMs },
      callScope,
    );
    if (response.status === 401 || response.status === 403) {
      await statusError(response, tokenWhat);
      throw new OciError('UNAUTHORIZED', `${tokenWhat}: HTTP ${response.status}, credentials ${credential ? 'rejected' : 'required'}`);
    }
    if (response.status !== 200) throw await statusError(response, tokenWhat);
    const bytes = await readBody(response, MAX_TOKEN_RESPONSE_BYTES, tokenWhat, callScope);
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new OciError('PROTOCOL', `${tokenWhat}: answer is not JSON`);
    }
    const token = typeof doc.token === 'string' && doc.token !== '' ? doc.token : typeof doc.access_token === 'string' ? doc.access_token : '';
    if (token === '') throw new OciError('PROTOCOL', `${tokenWhat}: answer has neither "token" nor "access_token"`);
    const lifetimeSeconds = typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : DEFAULT_TOKEN_LIFETIME_SECONDS;
    const lifetimeMs = lifetimeSeconds * 1000;
    return { authorization: `Bearer ${token}`, expiresAt: this.#now() + lifetimeMs - refreshMargin(lifetimeMs) };
  }
}
