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

// webhook starts an Event Grid webhook on loopback that answers the
// validation handshake and collects every event it is sent, deserialized
// by @azure/eventgrid, with the request's headers.
export async function webhook() {
  const { EventGridDeserializer } = await import("@azure/eventgrid");
  const http = await import("node:http");
  const deserializer = new EventGridDeserializer();
  const hook = { received: [], validations: [] };
  const server = http.createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    const events = await deserializer.deserializeEventGridEvents(body);
    if (req.headers["aeg-event-type"] === "SubscriptionValidation") {
      hook.validations.push(events[0]);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ validationResponse: events[0].data.validationCode }));
      return;
    }
    for (const event of events) hook.received.push({ event, headers: req.headers });
    res.writeHead(200);
    res.end();
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  hook.url = `http://127.0.0.1:${server.address().port}/hook`;
  hook.close = () => server.close();
  return hook;
}

// armOptions point an @azure/arm-* client at tresor's ARM. Older clients
// (@azure/core-client) read the token scope from credentialScopes, newer
// ones (@azure-rest/core-client) from credentials.scopes; each ignores the
// other.
export const armOptions = () => {
  const scopes = [`${env("TRESOR_ARM_AUDIENCE")}/.default`];
  return { endpoint: env("TRESOR_ARM_ENDPOINT"), credentialScopes: scopes, credentials: { scopes }, agent };
};

// eventGrid returns an @azure/arm-eventgrid client for tresor's ARM.
export async function eventGrid() {
  const { EventGridManagementClient } = await import("@azure/arm-eventgrid");
  return new EventGridManagementClient(credential, env("AZURE_SUBSCRIPTION_ID"), armOptions());
}

// arm sends a request to tresor's ARM with the administrator's ARM token,
// for what no installed client covers (resource groups, tresor's clock
// API), and returns the status and the parsed body. It refuses any status
// but 200 and 201.
export async function arm(method, path, body) {
  const { token } = await credential.getToken(`${env("TRESOR_ARM_AUDIENCE")}/.default`);
  const url = new URL(env("TRESOR_ARM_ENDPOINT") + path);
  const res = await new Promise((resolve, reject) => {
    const req = https.request(url, {
      method,
      agent,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode, text }));
    });
    req.on("error", reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
  if (res.status !== 200 && res.status !== 201) {
    throw new Error(`${method} ${path} = ${res.status}: ${res.text}`);
  }
  return JSON.parse(res.text || "null");
}
