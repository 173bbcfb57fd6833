export { useTandemClient } from "./context.ts";
export { TandemProvider, type TandemProviderProps } from "./provider.tsx";
export { useDocument } from "./use-document.ts";
export { useStatus, useStored, useSynced } from "./use-document-state.ts";
export { usePeers } from "./use-peers.ts";
export { useYArray, useYMap, useYText } from "./use-y.ts";
