// Plain CommonJS with no syntax newer than ES5-ish, so that even an old Node can run it and
// print a clear message instead of a stack trace from deep inside Hardhat or Helia.
"use strict";
var major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  console.error(
    "peerfl needs Node.js >= 22 (Hardhat 3 and Helia require it); this is Node " + process.versions.node + ".\n" +
    "Use the project wrapper, which provisions a project-local Node 22 from the npm registry:\n" +
    "    ./peerfl setup        # once\n" +
    "    ./peerfl test         # or: ./peerfl demo, ./peerfl npm run <script>\n"
  );
  process.exit(1);
}
