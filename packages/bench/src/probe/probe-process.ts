import { LightClient } from "../adapters/light.ts";
import type { ProbeCommand, ProbeReport } from "./probe.ts";

/**
 * The probe's own process (started by probe.ts through bin/probe.mjs). It keeps one light client
 * on a small document of its own and asks the server for that document again and again: a
 * SyncStep1 with an empty state vector, timed until the SyncStep2 answer arrives. The next request
 * goes `intervalMs` after the previous one was sent, or at once if the answer took longer, so a
 * server that stalls for 300 ms shows one round trip of about 300 ms, as an event-loop delay
 * histogram would. Each round trip is filed under the phase that was current when it was sent.
 */

let client: LightClient | null = null;
let phase = "setup";
const samples: Record<string, number[]> = {};

const send = (message: ProbeReport) => process.send?.(message);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Round trips on `current` until it is replaced or closed. */
async function rounds(current: LightClient, intervalMs: number): Promise<void> {
  while (client === current) {
    const sentIn = phase;
    const sentAt = performance.now();
    let ms: number;
    try {
      ms = await current.roundTrip();
    } catch {
      return; // closed: a disconnect, or the server went away
    }
    if (client !== current) return;
    const list = samples[sentIn] ?? [];
    samples[sentIn] = list;
    list.push(ms);
    await sleep(Math.max(0, sentAt + intervalMs - performance.now()));
  }
}

function disconnect(): void {
  client?.close();
  client = null;
}

process.on("message", (command: ProbeCommand) => {
  switch (command.type) {
    case "connect": {
      disconnect();
      const current = new LightClient(command.protocol, command.url, command.docName);
      client = current;
      current.ready.then(
        () => {
          send({ type: "connected" });
          void rounds(current, command.intervalMs);
        },
        (error: Error) => send({ type: "error", message: error.message }),
      );
      break;
    }
    case "phase":
      phase = command.name;
      break;
    case "disconnect":
      disconnect();
      break;
    case "stop":
      disconnect();
      send({ type: "samples", phases: samples });
      process.disconnect?.();
      break;
  }
});
