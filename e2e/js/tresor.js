// What the test files share: the environment the Go test passes, an agent
// that pins every name to the loopback address the server listens on
// (*.localhost does not resolve here), and the administrator's credential.
import https from "node:https";
import crypto from "node:crypto";
import { ClientSecretCredential } from "@azure/identity";

export const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through 'go test ./e2e'`);
  return v;
};

export const agent = new https.Agent({
  keepAlive: true,
  lookup: (hostname, options, cb) =>
    options && options.all ? cb(null, [{ address: "127.0.0.1", family: 4 }]) : cb(null, "127.0.0.1", 4),
});

export const credential = new ClientSecretCredential(
  env("AZURE_TENANT_ID"),
  env("AZURE_CLIENT_ID"),
  env("AZURE_CLIENT_SECRET"),
  { authorityHost: env("AZURE_AUTHORITY_HOST"), agent, disableInstanceDiscovery: true },
);

export const unique = (prefix) => `${prefix}-${crypto.randomBytes(4).toString("hex")}`;

// waitFor polls cond until it holds or the time is up.
export async function waitFor(cond, what, ms = 15000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
