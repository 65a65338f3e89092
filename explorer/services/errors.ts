/** Errors the explorer's services throw; the HTTP layer maps each to a status code. */

/** A block, tx, round, address, CID or page that does not exist (HTTP 404). */
export class NotFoundError extends Error {
  constructor(readonly what: string, readonly detail: string) {
    super(`${what} not found: ${detail}`);
    this.name = "NotFoundError";
  }
}

/** Every audit slot is busy (HTTP 429 with Retry-After). */
export class TooManyAuditsError extends Error {
  constructor(readonly limit: number, readonly retryAfterSeconds: number) {
    super(
      `${limit} audit${limit === 1 ? " is" : "s are"} already running (the explorer's limit, --max-audits); ` +
        `try again in ${retryAfterSeconds} s`,
    );
    this.name = "TooManyAuditsError";
  }
}

/** Content behind a CID is larger than the explorer serves on its CID pages (HTTP 413). */
export class CidTooLargeError extends Error {
  constructor(
    readonly cid: string,
    readonly maxBytes: number,
    /** The declared size, or the bytes seen when the stream crossed the limit. */
    readonly sizeBytes: number,
    readonly declared: boolean,
  ) {
    super(
      `${cid} is ${declared ? "" : "more than "}${sizeBytes} bytes, over the explorer's limit of ${maxBytes} bytes ` +
        `for CID pages and raw downloads (start the explorer with a larger --max-cid-bytes, or fetch it with \`peerfl ipfs cat ${cid}\`)`,
    );
    this.name = "CidTooLargeError";
  }
}
