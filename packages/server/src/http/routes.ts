import type { IncomingMessage, ServerResponse } from "node:http";

export interface HealthState {
  /** Ready: the store takes writes and the server is not shutting down; else why not. */
  ready(): { ready: boolean; reason?: string };
}

/** A route answers a request, or returns false to let the next route try. */
export type Route = (request: IncomingMessage, response: ServerResponse) => boolean;

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    // Never read as anything but JSON (a browser sniffing it as HTML would run what it echoes).
    "x-content-type-options": "nosniff",
  });
  response.end(text);
}

const pathOf = (request: IncomingMessage): string => (request.url ?? "/").split("?")[0] ?? "/";

/** GET /healthz: the process is alive. GET /readyz: it can take traffic (else 503). */
export function healthRoutes(health: HealthState): Route {
  return (request, response) => {
    const path = pathOf(request);
    if (path !== "/healthz" && path !== "/readyz") return false;
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.setHeader("allow", "GET, HEAD");
      sendJson(response, 405, { error: "method not allowed" });
      return true;
    }
    if (path === "/healthz") {
      sendJson(response, 200, { status: "ok" });
      return true;
    }
    const { ready, reason } = health.ready();
    sendJson(
      response,
      ready ? 200 : 503,
      ready ? { status: "ready" } : { status: "not ready", reason },
    );
    return true;
  };
}

/** Runs the routes in order; a request no route takes gets 404. */
export function handleHttp(routes: readonly Route[]) {
  return (request: IncomingMessage, response: ServerResponse): void => {
    for (const route of routes) if (route(request, response)) return;
    // The path is not echoed: it is whatever bytes the client chose.
    sendJson(response, 404, { error: "not found" });
  };
}

/** The text a scrape answers, and its content type (metrics/registry.ts). */
export interface MetricsSource {
  readonly contentType: string;
  scrape(): Promise<string>;
}

/** GET /metrics: the Prometheus text exposition. */
export function metricsRoute(metrics: MetricsSource): Route {
  return (request, response) => {
    if (pathOf(request) !== "/metrics") return false;
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.setHeader("allow", "GET, HEAD");
      sendJson(response, 405, { error: "method not allowed" });
      return true;
    }
    metrics.scrape().then(
      (text) => {
        response.writeHead(200, {
          "content-type": metrics.contentType,
          "content-length": Buffer.byteLength(text),
          "cache-control": "no-store",
        });
        response.end(request.method === "HEAD" ? undefined : text);
      },
      () => sendJson(response, 500, { error: "metrics unavailable" }),
    );
    return true;
  };
}
