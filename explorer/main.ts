/** Stand-alone entry: `node --import tsx explorer/main.ts [explorer flags]` or `... audit --round R`. */
import { mainAudit, mainExplorer } from "./cli.ts";

const [first, ...rest] = process.argv.slice(2);
const code = first === "audit" ? await mainAudit(rest) : await mainExplorer(first === "explorer" || first === undefined ? rest : [first, ...rest]);
process.exitCode = code;
