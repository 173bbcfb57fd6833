export { CloseCode } from "./close-codes.ts";
