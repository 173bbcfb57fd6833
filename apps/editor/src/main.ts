import "./styles.css";
import { readConfig } from "./config.ts";
import { showDocument } from "./document-page.ts";
import { showHome } from "./home.ts";
import { routeFor } from "./router.ts";
import { registerServiceWorker } from "./sw-register.ts";

const root = document.getElementById("app");
if (!root) throw new Error("index.html has no #app element");

const config = readConfig();
registerServiceWorker();

const route = routeFor(window.location.pathname);
if (route.page === "document") {
  showDocument(root, route.name, config).catch((error: unknown) => {
    console.error("[tandem] the document could not be opened", error);
    root.textContent = `The document could not be opened: ${String(error)}`;
  });
} else {
  showHome(root);
}
