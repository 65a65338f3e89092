/**
 * Minimal multipart/form-data reader for `POST /api/v0/add` (RFC 7578): enough for the bodies
 * kubo-rpc-client and `curl -F file=@x` send. The body is buffered up to a limit first.
 */

export interface MultipartPart {
  /** Form field name: `file`, `file-1`, `dir`... (query suffix such as `?mode=` removed). */
  field: string;
  /** Decoded `filename` parameter ("" when absent). */
  filename: string;
  contentType: string;
  body: Uint8Array;
}

export class MultipartError extends Error {
  constructor(reason: string) {
    super(`malformed multipart body: ${reason}`);
    this.name = "MultipartError";
  }
}

/** Extract the boundary from a Content-Type header value; throws MultipartError. */
export function multipartBoundary(contentType: string | undefined): string {
  const match = /^multipart\/form-data\s*;(?:.*;)?\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? "");
  const boundary = match?.[1] ?? match?.[2];
  if (boundary == null) throw new MultipartError(`Content-Type "${contentType ?? ""}" has no multipart boundary`);
  return boundary;
}

export function parseMultipart(body: Uint8Array, boundary: string): MultipartPart[] {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: MultipartPart[] = [];
  let pos = buf.indexOf(delimiter);
  if (pos < 0) throw new MultipartError(`boundary "${boundary}" not found`);
  for (;;) {
    pos += delimiter.length;
    if (buf.subarray(pos, pos + 2).toString() === "--") return parts; // closing delimiter
    if (buf.subarray(pos, pos + 2).toString() !== "\r\n") throw new MultipartError("delimiter not followed by CRLF");
    pos += 2;
    const headerEnd = buf.indexOf("\r\n\r\n", pos);
    if (headerEnd < 0) throw new MultipartError("part headers not terminated");
    const headers = parseHeaders(buf.subarray(pos, headerEnd).toString("utf8"));
    const bodyStart = headerEnd + 4;
    const next = buf.indexOf(Buffer.concat([Buffer.from("\r\n"), delimiter]), bodyStart);
    if (next < 0) throw new MultipartError("part not terminated by a boundary");
    const disposition = headers.get("content-disposition") ?? "";
    const field = (/\bname="([^"]*)"/i.exec(disposition)?.[1] ?? "").split("?")[0] ?? "";
    const rawName = /\bfilename="([^"]*)"/i.exec(disposition)?.[1] ?? "";
    let filename = rawName;
    try { filename = decodeURIComponent(rawName); } catch { /* keep as sent */ }
    parts.push({
      field,
      filename,
      contentType: headers.get("content-type") ?? "application/octet-stream",
      body: new Uint8Array(buf.buffer, buf.byteOffset + bodyStart, next - bodyStart),
    });
    pos = next + 2;
  }
}

function parseHeaders(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) out.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return out;
}
