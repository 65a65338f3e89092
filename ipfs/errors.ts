/** Errors of the IPFS data plane. Each names the CID (or address) that caused it. */

/** A string that does not parse as a CID (v0 base58btc or v1 multibase). */
export class InvalidCidError extends Error {
  constructor(readonly input: string, reason: string) {
    super(`invalid CID "${input}": ${reason}`);
    this.name = "InvalidCidError";
  }
}

/** The content was not found (locally or from connected peers) within the time allowed. */
export class GetTimeoutError extends Error {
  constructor(readonly cid: string, readonly timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms fetching ${cid} (no connected peer provided it)`);
    this.name = "GetTimeoutError";
  }
}

/** The caller aborted the fetch through its own AbortSignal. */
export class GetAbortedError extends Error {
  constructor(readonly cid: string) {
    super(`fetch of ${cid} was aborted by the caller`);
    this.name = "GetAbortedError";
  }
}

/** The content is larger than the caller allows; thrown before it is fully buffered. */
export class ContentTooLargeError extends Error {
  constructor(
    readonly cid: string,
    readonly maxBytes: number,
    /** The root's declared file size, or the bytes seen when the stream crossed the limit. */
    readonly sizeBytes: number,
    readonly declared: boolean,
  ) {
    super(
      declared
        ? `${cid} declares ${sizeBytes} bytes, more than the limit of ${maxBytes}`
        : `${cid} exceeded the limit of ${maxBytes} bytes while streaming (${sizeBytes} bytes received)`,
    );
    this.name = "ContentTooLargeError";
  }
}

/** The CID is valid but does not point at a UnixFS file or raw block (e.g. a directory). */
export class NotAFileError extends Error {
  constructor(readonly cid: string, readonly kind: string) {
    super(`${cid} is a ${kind}, not a file`);
    this.name = "NotAFileError";
  }
}

/** A libp2p address outside loopback was refused (dial or inbound) by the connection gater. */
export class NonLoopbackAddressError extends Error {
  constructor(readonly multiaddr: string) {
    super(`refusing non-loopback address ${multiaddr} (pass allowNonLoopback to permit it)`);
    this.name = "NonLoopbackAddressError";
  }
}

/** A Kubo RPC endpoint answered with an error. */
export class KuboRpcError extends Error {
  constructor(readonly apiUrl: string, readonly command: string, reason: string) {
    super(`Kubo RPC ${command} at ${apiUrl} failed: ${reason}`);
    this.name = "KuboRpcError";
  }
}
