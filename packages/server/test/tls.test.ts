import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { connectClient, startTestServer, type TestServer, tempDir } from "@tandem/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

describe("TLS", () => {
  let server: TestServer;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let cert: string;

  beforeAll(async () => {
    dir = await tempDir();
    cert = join(dir.path, "cert.pem");
    const key = join(dir.path, "key.pem");
    // A self-signed certificate for 127.0.0.1, made here so no key is ever committed.
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        key,
        "-out",
        cert,
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
      ],
      { stdio: "ignore" },
    );
    server = await startTestServer({ tlsCert: cert, tlsKey: key });
  });
  afterAll(async () => {
    await server.dispose();
    await dir.remove();
  });

  it("serves wss:// and https:// directly", async () => {
    expect(server.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+$/);
    expect(server.httpUrl).toMatch(/^https:\/\//);
    const { Agent, request } = await import("node:https");
    const status = await new Promise<number>((resolve, reject) => {
      request(
        `${server.httpUrl}/healthz`,
        { agent: new Agent({ ca: readFileSync(cert) }) },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      )
        .on("error", reject)
        .end();
    });
    expect(status).toBe(200);
  });

  it("syncs documents over wss://", async () => {
    const { default: WebSocket } = await import("ws");
    const ca = readFileSync(cert);
    class TrustingWebSocket extends WebSocket {
      constructor(address: string | URL, protocols?: string | string[]) {
        super(address, protocols, { ca });
        this.on("error", () => {});
      }
    }
    const a = connectClient(server.url, "secure", { webSocket: TrustingWebSocket });
    const b = connectClient(server.url, "secure", { webSocket: TrustingWebSocket });
    await Promise.all([a.synced(), b.synced()]);
    a.doc.getText("t").insert(0, "over tls");
    await a.stored();
    await new Promise<void>((resolve) => {
      const check = () => b.doc.getText("t").toString() === "over tls" && resolve();
      b.doc.on("update", check);
      check();
    });
    a.destroy();
    b.destroy();
  });
});
