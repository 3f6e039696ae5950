/** Entry of the customer simulator (/simulator/, embedded mode only). */

import { render } from "preact";
import "../styles/base.css";
import "../styles/simulator.css";
import { currentLang, onLangChange } from "../i18n";
import { SimulatorApp } from "./SimulatorApp";

const root = document.getElementById("app")!;
document.documentElement.lang = currentLang();
const draw = (): void => render(<SimulatorApp />, root);
onLangChange(draw);
draw();
