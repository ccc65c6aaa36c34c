import { CLOUD_PLATFORM_SCOPE, type Authenticator, type Authorizer, type Principal } from './principal.js';

/** `--auth none`: every call acts as one configured principal, whatever it sends. */
export class NoAuthentication implements Authenticator {
  private readonly principal: Principal;

  constructor(member: string) {
    this.principal = { member, scopes: [CLOUD_PLATFORM_SCOPE] };
  }

  authenticate(): Principal {
    return this.principal;
  }
}

/** `--auth none`: the configured principal holds every permission. */
export class AllowEverything implements Authorizer {
  check(): void {}

  async permitted(_principal: Principal, _resource: string, permissions: readonly string[]): Promise<string[]> {
    return [...permissions];
  }
}
