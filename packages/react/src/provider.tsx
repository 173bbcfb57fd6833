import { type ClientOptions, createClient, type TandemClient } from "@tandem/provider";
import { type ReactNode, useEffect, useRef } from "react";
import { CloseLater, RELEASE_GRACE_MS, UNCOMMITTED_HOLD_MS } from "./close-later.ts";
import { TandemContext } from "./context.ts";
import { useRerender } from "./rerender.ts";

export type TandemProviderProps =
  | {
      /** A client the app created and closes itself; the provider only hands it down. */
      client: TandemClient;
      options?: never;
      children?: ReactNode;
    }
  | {
      /**
       * createClient() options: the provider creates the client when it mounts and closes it
       * when it unmounts. Read once: to connect elsewhere, remount the provider (give it a `key`).
       */
      options: ClientOptions;
      client?: never;
      children?: ReactNode;
    };

/** Gives the components below it a Tandem client, for useDocument() and useTandemClient(). */
export function TandemProvider(props: TandemProviderProps): ReactNode {
  if (props.client) {
    return <TandemContext value={props.client}>{props.children}</TandemContext>;
  }
  return <OwnedClientProvider options={props.options}>{props.children}</OwnedClientProvider>;
}

/** A client this provider created, and the close that waits for the provider to commit. */
interface OwnedClient {
  readonly client: TandemClient;
  readonly closer: CloseLater;
  closed: boolean;
}

function ownClient(options: ClientOptions): OwnedClient {
  const client = createClient(options);
  const owned: OwnedClient = {
    client,
    closed: false,
    closer: new CloseLater(() => {
      owned.closed = true;
      void client.close();
    }),
  };
  // Until the provider commits: if this render is thrown away, the client still gets closed.
  owned.closer.schedule(UNCOMMITTED_HOLD_MS);
  return owned;
}

function OwnedClientProvider({
  options,
  children,
}: {
  options: ClientOptions;
  children?: ReactNode;
}): ReactNode {
  // A ref rather than useState(() => createClient()): StrictMode calls state initialisers twice
  // and keeps one result, while this runs once per provider (React 19 reuses the ref of the
  // first render pass). Children open documents during their render, so the client must exist
  // before any effect runs.
  const owned = useRef<OwnedClient | null>(null);
  const rerender = useRerender();
  if (owned.current === null || owned.current.closed) owned.current = ownClient(options);
  const current = owned.current;

  useEffect(() => {
    // Closed already: the provider was hidden long enough (<Activity>) for its close to run.
    // Render again, which creates a fresh client.
    if (current.closed) {
      rerender();
      return;
    }
    current.closer.cancel();
    // StrictMode's cleanup-and-setup runs before the close does, and cancels it.
    return () => current.closer.schedule(RELEASE_GRACE_MS);
  }, [current, rerender]);

  return <TandemContext value={current.client}>{children}</TandemContext>;
}
