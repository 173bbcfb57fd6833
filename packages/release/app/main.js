// A browser page on the installed SDK. The whole SDK stays in the bundle (the namespace is
// published on window), so the build measures all of it, not only what one page uses.
import * as tandem from "@tandem/provider";

const client = tandem.createClient({ url: `ws://${location.host}` });
const page = client.open("page", { user: { id: "visitor", name: "Visitor" } });
page.on("status", (status) => {
  document.getElementById("status").textContent = status;
});
window.tandem = tandem;
