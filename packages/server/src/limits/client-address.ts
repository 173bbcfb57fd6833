import type { IncomingMessage } from "node:http";

const normalize = (address: string): string => address.replace(/^::ffff:/, "");

/**
 * The client's address: the socket's peer, unless that peer is a trusted proxy, in which case
 * the right-most X-Forwarded-For entry that is not itself a trusted proxy. X-Forwarded-For from
 * anyone else is ignored: a client could write anything there.
 */
export function clientAddress(request: IncomingMessage, trustedProxies: readonly string[]): string {
  const peer = normalize(request.socket.remoteAddress ?? "unknown");
  if (!trustedProxies.includes(peer)) return peer;
  const header = request.headers["x-forwarded-for"];
  const hops = (Array.isArray(header) ? header.join(",") : (header ?? ""))
    .split(",")
    .map((hop) => normalize(hop.trim()))
    .filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i] as string;
    if (!trustedProxies.includes(hop)) return hop;
  }
  return peer;
}
