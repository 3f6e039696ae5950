/** Entry of the operator console (/). */

import { render } from "preact";
import "../styles/base.css";
import "../styles/console.css";
import { currentLang, onLangChange } from "../i18n";
import { App } from "../views/App";

const root = document.getElementById("app")!;
document.documentElement.lang = currentLang();
const draw = (): void => render(<App />, root);
onLangChange(draw);
draw();
