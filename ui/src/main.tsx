// The entry point: the controller over the real backend, the App rendered, then started.
import { render } from "preact";

import * as backend from "./backend";
import { createController } from "./app";
import { App } from "./components/App";
import { AppContext } from "./context";
import "./styles.css";

const controller = createController(backend);
const root = document.getElementById("app");
if (root) {
  render(
    <AppContext.Provider value={controller}>
      <App />
    </AppContext.Provider>,
    root,
  );
}
void controller.actions.start();
