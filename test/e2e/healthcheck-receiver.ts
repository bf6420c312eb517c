/**
 * A health-check receiver for tests: a loopback HTTP server that records every request (method,
 * path, body) and answers as healthchecks.io does ("OK", 200), or with a chosen status and body.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedPing {
  method: string;
  path: string;
  body: string;
}

export interface HealthcheckReceiver {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly pings: ReceivedPing[];
  /** The next answers: status and body (default 200 "OK"). */
  answerWith(status: number, body: (path: string) => string): void;
  close(): Promise<void>;
}

export async function startHealthcheckReceiver(): Promise<HealthcheckReceiver> {
  const pings: ReceivedPing[] = [];
  let answer: { status: number; body: (path: string) => string } = { status: 200, body: () => "OK" };
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const path = request.url ?? "";
      pings.push({ method: request.method ?? "", path, body: Buffer.concat(chunks).toString("utf8") });
      response.writeHead(answer.status, { "content-type": "text/plain" });
      response.end(answer.body(path));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    pings,
    answerWith(status, body) {
      answer = { status, body };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
