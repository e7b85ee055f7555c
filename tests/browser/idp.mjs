// A real OpenID provider for Tessera's tests: the certified `oidc-provider`
// package on loopback, with its development login form (any login and
// password; the login becomes the account) standing in for a host
// product's sign-in.
//
// Accounts: the login is the `sub`; the email is the login itself when it
// holds an `@` (else `<login>@example.com`), verified unless the login
// starts with `unverified`; the name is the part before the `@`.
//
// Run as a script (`node idp.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI`)
// it prints `{"issuer": …}` on one line when it listens, for tests in
// other languages; or import `startIdp`.

import Provider from "oidc-provider";
import { fileURLToPath } from "node:url";

export function account(login) {
  const email = login.includes("@") ? login : `${login}@example.com`;
  return {
    sub: login,
    email,
    email_verified: !login.startsWith("unverified"),
    name: email.split("@")[0],
  };
}

/** Starts the provider on 127.0.0.1:`port`; resolves to { issuer, close }. */
export async function startIdp({ port, clientId, clientSecret, redirectUri }) {
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    }],
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
    // Scope claims in the ID token too (as Google, Okta, Entra ID send
    // them), not only from the userinfo endpoint.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
    cookies: { keys: ["tessera-test-idp-cookie-key"] },
    async findAccount(_ctx, id) {
      return { accountId: id, async claims() { return account(id); } };
    },
  });
  // Its warnings about development keys and settings are for production.
  provider.on("server_error", (_ctx, err) => console.error("idp server_error", err));
  const server = provider.listen(port, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  return {
    issuer,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [port, clientId, clientSecret, redirectUri] = process.argv.slice(2);
  const idp = await startIdp({ port: Number(port), clientId, clientSecret, redirectUri });
  console.log(JSON.stringify({ issuer: idp.issuer }));
}
