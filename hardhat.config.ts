import { createRequire } from "node:module";
import type { HardhatUserConfig } from "hardhat/config";
import hardhatToolboxMochaEthers from "@nomicfoundation/hardhat-toolbox-mocha-ethers";

const require = createRequire(import.meta.url);
// Compile offline with solc-js from the `solc` npm package: Hardhat's default is to download
// a native solc, which cannot work on machines without internet access.
const solcVersion: string = require("solc/package.json").version;
const solcPath: string = require.resolve("solc/soljson.js");

const config: HardhatUserConfig = {
  plugins: [hardhatToolboxMochaEthers],
  solidity: {
    profiles: {
      default: {
        version: solcVersion,
        path: solcPath,
        settings: { optimizer: { enabled: true, runs: 200 }, viaIR: false },
      },
    },
  },
  paths: {
    sources: "./contracts",
    // Hardhat runs the Solidity tests and the contract tests; every other suite runs under plain
    // Mocha (scripts/run-tests.mjs), because the toolbox's chai matchers replace closeTo with an
    // integer-only version.
    tests: { mocha: "./test/contracts", solidity: "./test/solidity" },
  },
  networks: {
    // `hardhat node`: blocks mined within the same second may share a timestamp, so chain time (and
    // with it every phase deadline) follows the wall clock instead of running ahead one second per block.
    // Both networks enforce the EIP-170 / EIP-3860 code-size limits of public chains: FederatedTask
    // fits them by running its large, rarely called logic in a facet (contracts/FederatedTaskFacet.sol).
    default: { type: "edr-simulated", chainType: "l1" },
    node: { type: "edr-simulated", chainType: "l1", allowBlocksWithSameTimestamp: true },
    localhost: { type: "http", chainType: "l1", url: process.env.PEERFL_RPC_URL ?? "http://127.0.0.1:8545" },
  },
  test: {
    mocha: { timeout: 120_000 },
    solidity: {
      // Invariant campaigns: 256 runs of 100 calls each. The handler catches only the protocol's
      // expected custom errors (by selector) and re-throws anything else, and failOnRevert turns
      // such a re-thrown revert (a panic, an unexpected error) into a failed invariant.
      invariant: { runs: 256, depth: 100, failOnRevert: true },
      fuzz: { runs: 256 },
    },
  },
};

export default config;
