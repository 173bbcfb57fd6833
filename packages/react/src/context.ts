import type { TandemClient } from "@tandem/provider";
import { createContext, useContext } from "react";

/** The client of the nearest TandemProvider; null outside of one. */
export const TandemContext = createContext<TandemClient | null>(null);
TandemContext.displayName = "TandemContext";

/** The client of the nearest <TandemProvider>. Throws outside of one, saying so. */
export function useTandemClient(): TandemClient {
  const client = useContext(TandemContext);
  if (client === null) {
    throw new Error(
      "@tandem/react: no Tandem client here. Wrap the component in <TandemProvider client={...}> " +
        "or <TandemProvider options={{ url }}>",
    );
  }
  return client;
}
