import type { Peer, TandemDocument } from "@tandem/provider";
import { h, replaceChildren } from "../dom.ts";
import { initials } from "./colors.ts";

/** No edit for this long and a person shows as idle. */
export const IDLE_AFTER_MS = 60_000;

type PeerState = "typing" | "active" | "idle" | "away";

const STATE_TEXT: Record<PeerState, string> = {
  typing: "typing…",
  active: "active",
  idle: "idle",
  away: "away",
};

/**
 * Who is here: you first, then everyone else (the SDK gives one entry per person, however many
 * tabs they have open), each with their colour and whether they are typing, active, idle (no
 * edit for a minute) or away (their tab is in the background). The typing indicator under the
 * list names who is typing right now.
 *
 * People leave the list when the server says they left: at once when they close the tab, and
 * after the awareness timeout (30 s without a heartbeat) when their network is gone.
 */
export function createPeerList(
  document: TandemDocument,
  me: () => { name: string; color: string },
): { panel: HTMLElement; refresh(): void } {
  const count = h("span", { class: "people__count", "data-testid": "people-count" });
  const list = h("ul", { class: "people__list", "data-testid": "peer-list" });
  const typingIndicator = h("p", {
    class: "typing",
    "data-testid": "typing-indicator",
    "aria-live": "polite",
    hidden: true,
  });
  const panel = h(
    "aside",
    { class: "people", "aria-label": "People in this document", "data-testid": "people" },
    h("h2", { class: "people__title" }, "People here", count),
    list,
    typingIndicator,
  );

  const stateOf = (peer: Peer, now: number): PeerState => {
    if (peer.typing) return "typing";
    const presence = document.awareness.getStates().get(peer.clientId);
    if (presence && (presence as { away?: unknown }).away === true) return "away";
    // lastActive is the peer's clock; a little skew only shifts when "idle" appears.
    return now - peer.lastActive > IDLE_AFTER_MS ? "idle" : "active";
  };

  const refresh = () => {
    const peers = document.peers();
    const now = Date.now();
    const self = me();
    const you = entry(self.name, self.color, "you", { "data-testid": "me" });
    const others = peers.map((peer) => {
      const state = stateOf(peer, now);
      return entry(peer.name, peer.color, STATE_TEXT[state], {
        "data-testid": "peer",
        "data-peer-id": peer.id,
        "data-peer-name": peer.name,
        "data-state": state,
      });
    });
    replaceChildren(list, you, ...others);
    count.textContent = String(peers.length + 1);

    const typing = peers.filter((peer) => peer.typing).map((peer) => peer.name);
    typingIndicator.hidden = typing.length === 0;
    typingIndicator.textContent = typingSentence(typing);
  };

  document.on("peers", refresh);
  // The "away" flag is not part of the SDK's peers; idle depends on the clock.
  document.awareness.on("change", refresh);
  setInterval(refresh, 5_000);
  refresh();
  return { panel, refresh };
}

function entry(
  name: string,
  color: string,
  state: string,
  attributes: Record<string, string>,
): HTMLLIElement {
  return h(
    "li",
    { class: "peer", ...attributes },
    h(
      "span",
      { class: "avatar", style: `--avatar: ${color}`, "aria-hidden": "true" },
      initials(name),
    ),
    h("span", { class: "peer__name" }, name),
    h("span", { class: `peer__state peer__state--${state.replace(/\W/g, "")}` }, state),
  );
}

function typingSentence(names: string[]): string {
  if (names.length === 0) return "";
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return `${names[0]}, ${names[1]} and ${names.length - 2} more are typing…`;
}
