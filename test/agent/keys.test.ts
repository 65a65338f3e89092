/** Key policy: public Hardhat keys only on chain 31337, key files 0600 or stricter, where a key came from. */
import { expect } from "chai";
import { mkdtempSync, writeFileSync, chmodSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Wallet } from "ethers";
import { checkKeyPolicy, hardhatAccount, isHardhatDevAddress, readKeyFile, KeyPolicyError } from "../../node/chain/connect.ts";
import { parseAgentArgs, UsageError } from "../../node/agent/config.ts";

describe("agent keys", () => {
  let dir: string;
  const key = "0x" + "ab".repeat(32);
  const savedEnv = process.env.PEERFL_PRIVATE_KEY;
  before(() => { dir = mkdtempSync(path.join(os.tmpdir(), "peerfl-keys-")); delete process.env.PEERFL_PRIVATE_KEY; });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    if (savedEnv === undefined) delete process.env.PEERFL_PRIVATE_KEY; else process.env.PEERFL_PRIVATE_KEY = savedEnv;
  });
  afterEach(() => { delete process.env.PEERFL_PRIVATE_KEY; });

  const keyFile = (name: string, mode: number, content = key) => {
    const f = path.join(dir, name);
    writeFileSync(f, content + "\n");
    chmodSync(f, mode);
    return f;
  };

  it("derives the well-known Hardhat accounts (account 0 is 0xf39F…2266)", () => {
    expect(hardhatAccount(0).address).to.equal("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
    expect(hardhatAccount(19).address).to.equal("0x8626f6940E2eb28930eFb4CeF49B2d1F2C9C1199");
    expect(isHardhatDevAddress(hardhatAccount(200).address)).to.equal(true);
    expect(isHardhatDevAddress(Wallet.createRandom().address)).to.equal(false);
  });

  it("allows the development accounts on the local chain 31337", () => {
    expect(() => checkKeyPolicy({ chainId: 31337n, source: "hardhat-account", address: hardhatAccount(1).address })).to.not.throw();
  });

  it("refuses --account (the public mnemonic) on any other chain id, naming the chain and the way out", () => {
    expect(() => checkKeyPolicy({ chainId: 11155111n, source: "hardhat-account", address: hardhatAccount(1).address }))
      .to.throw(KeyPolicyError, /public Hardhat development account .* on chain 11155111.*31337.*--key-file/);
  });

  it("refuses a private key that is one of the development keys on another chain", () => {
    const devKey = hardhatAccount(7).privateKey;
    expect(() => checkKeyPolicy({ chainId: 1, source: "env", address: new Wallet(devKey).address })).to.throw(KeyPolicyError, "public Hardhat development key");
    expect(() => checkKeyPolicy({ chainId: 1, source: "key-file", address: Wallet.createRandom().address })).to.not.throw();
  });

  it("reads a key file of mode 0600 or 0400", () => {
    expect(readKeyFile(keyFile("k600", 0o600))).to.equal(key);
    expect(readKeyFile(keyFile("k400", 0o400, key.slice(2)))).to.equal(key);
  });

  for (const mode of [0o644, 0o640, 0o604, 0o660]) {
    it(`refuses a key file of mode 0${mode.toString(8)} with the mode and the chmod to run`, () => {
      const f = keyFile(`k${mode.toString(8)}`, mode);
      expect(() => readKeyFile(f)).to.throw(KeyPolicyError, new RegExp(`mode 0${mode.toString(8)}.*chmod 600`));
    });
  }

  it("refuses a missing key file and one that holds no key", () => {
    expect(() => readKeyFile(path.join(dir, "nope"))).to.throw(KeyPolicyError, "ENOENT");
    expect(() => readKeyFile(keyFile("garbage", 0o600, "hello"))).to.throw(KeyPolicyError, "64 hex digits");
  });

  it("takes the key from --key-file, PEERFL_PRIVATE_KEY or --private-key and says which", () => {
    const fromFile = parseAgentArgs(["--key-file", keyFile("kf", 0o600)])!;
    expect(fromFile).to.include({ privateKey: key, keySource: "key-file" });
    process.env.PEERFL_PRIVATE_KEY = key;
    expect(parseAgentArgs([])!).to.include({ privateKey: key, keySource: "env" });
    delete process.env.PEERFL_PRIVATE_KEY;
    expect(parseAgentArgs(["--private-key", key])!).to.include({ privateKey: key, keySource: "private-key-flag" });
    expect(parseAgentArgs(["--account", "4"])!).to.include({ privateKey: undefined, keySource: "hardhat-account", accountIndex: 4 });
  });

  it("turns a bad key file or two competing keys into a usage error", () => {
    expect(() => parseAgentArgs(["--key-file", keyFile("open", 0o644)])).to.throw(UsageError, "chmod 600");
    expect(() => parseAgentArgs(["--key-file", keyFile("kf2", 0o600), "--private-key", key])).to.throw(UsageError, "pass one");
    process.env.PEERFL_PRIVATE_KEY = "nothex";
    expect(() => parseAgentArgs([])).to.throw(UsageError, "PEERFL_PRIVATE_KEY must be 32 bytes of hex");
  });
});
