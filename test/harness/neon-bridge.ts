import type { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import type { Socket } from "bun";
import type { NeonSocketOptions } from "../../src/db/client.ts";
import { createBlankPglite } from "../../src/db/testing.ts";

/**
 * Neon's driver speaks the Postgres wire protocol over a WebSocket to a proxy that opens the TCP
 * connection. This harness is that proxy on loopback, in front of a PGlite served over TCP by
 * `@electric-sql/pglite-socket`, so the real `@neondatabase/serverless` Pool can be tested.
 */
export interface NeonBridge {
  /** A postgres:// URL (with a throwaway password) that reaches the PGlite through the relay. */
  url: string;
  /** `neonConfig` settings for `openDatabase({ neon })`. */
  neon: NeonSocketOptions;
  pglite: PGlite;
  relayPort: number;
  pgPort: number;
  /** WebSocket connections the relay has accepted so far. */
  readonly connections: number;
  /** WebSocket connections open right now. */
  readonly openConnections: number;
  /** Closes every open relay connection (both sides), as a network failure would; ends a pause. */
  dropConnections(): number;
  /** Holds client bytes instead of forwarding them (a stalled network), until `dropConnections`. */
  pause(): void;
  stop(): Promise<void>;
}

const TERMINATE = [0x58, 0, 0, 0, 4];
const isTerminate = (bytes: Uint8Array) => bytes.length === 5 && TERMINATE.every((b, i) => bytes[i] === b);

interface Pipe {
  host: string;
  port: number;
  tcp: Socket | undefined;
  pending: Uint8Array[];
  closed: boolean;
}

/**
 * Starts PGlite (pgvector available, nothing migrated unless `pglite` is given) behind
 * pglite-socket and a WebSocket→TCP relay, both on 127.0.0.1 with OS-assigned ports.
 *
 * @example
 * const bridge = await startNeonBridge();
 * const database = await openDatabase({ databaseUrl: bridge.url, neon: bridge.neon, maxConnections: 1, dataDir, telemetry, log });
 * await bridge.stop();
 */
export async function startNeonBridge(options: { pglite?: PGlite } = {}): Promise<NeonBridge> {
  const pglite = options.pglite ?? (await createBlankPglite());
  // pglite-socket multiplexes connections onto PGlite's one session at the message level, so two
  // connections in transactions at once would interleave: clients use a Pool of 1. The server
  // accepts a few connections so a closing pool and its successor can overlap for a moment.
  const pgServer = new PGLiteSocketServer({ db: pglite, host: "127.0.0.1", port: 0, maxConnections: 8 });
  await pgServer.start();
  const pgPort = Number(pgServer.getServerConn().split(":").pop());

  const open = new Set<{ ws: Bun.ServerWebSocket<Pipe>; pipe: Pipe }>();
  let connections = 0;
  let paused = false;

  const relay = Bun.serve<Pipe>({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request, server) {
      const address = new URL(request.url).searchParams.get("address") ?? "";
      const match = /^(.+):(\d+)$/.exec(address);
      if (!match) return new Response("address=host:port required", { status: 400 });
      const pipe: Pipe = { host: match[1]!, port: Number(match[2]), tcp: undefined, pending: [], closed: false };
      const upgraded = server.upgrade(request, { data: pipe });
      if (!upgraded) return new Response("websocket upgrade expected", { status: 426 });
      return undefined;
    },
    websocket: {
      async open(ws) {
        connections++;
        const entry = { ws, pipe: ws.data };
        open.add(entry);
        try {
          const tcp = await Bun.connect({
            hostname: ws.data.host,
            port: ws.data.port,
            socket: {
              data(_socket, data) {
                if (ws.readyState === 1) ws.sendBinary(data);
              },
              close() {
                open.delete(entry);
                if (ws.readyState === 1) ws.close();
              },
              error() {
                if (ws.readyState === 1) ws.close();
              },
            },
          });
          entry.pipe.tcp = tcp;
          if (entry.pipe.closed) {
            tcp.end();
            return;
          }
          for (const chunk of entry.pipe.pending) tcp.write(chunk);
          entry.pipe.pending = [];
        } catch {
          open.delete(entry);
          ws.close(1011, "target unreachable");
        }
      },
      message(ws, message) {
        const bytes = typeof message === "string" ? new TextEncoder().encode(message) : new Uint8Array(message);
        // A Postgres server hangs up after Terminate ('X'); pglite-socket does not, and the
        // driver waits for that before its pool.end() lets go of the socket.
        if (isTerminate(bytes)) {
          ws.data.tcp?.end();
          ws.close();
          return;
        }
        if (ws.data.tcp && !paused) ws.data.tcp.write(bytes);
        else ws.data.pending.push(bytes);
      },
      close(ws) {
        ws.data.closed = true;
        ws.data.tcp?.end();
        for (const entry of open) if (entry.pipe === ws.data) open.delete(entry);
      },
    },
  });

  const relayPort = relay.port!;
  return {
    url: `postgres://bridge_user:bridge-secret-pw@127.0.0.1:${pgPort}/postgres`,
    neon: {
      wsProxy: (host, port) => `127.0.0.1:${relayPort}/?address=${host}:${port}`,
      useSecureWebSocket: false,
      pipelineTLS: false,
      pipelineConnect: false,
    },
    pglite,
    relayPort,
    pgPort,
    get connections() {
      return connections;
    },
    get openConnections() {
      return open.size;
    },
    pause() {
      paused = true;
    },
    dropConnections() {
      paused = false;
      let dropped = 0;
      for (const entry of [...open]) {
        entry.pipe.tcp?.terminate();
        entry.ws.terminate();
        open.delete(entry);
        dropped++;
      }
      return dropped;
    },
    async stop() {
      for (const entry of [...open]) {
        entry.pipe.tcp?.terminate();
        entry.ws.terminate();
      }
      open.clear();
      await relay.stop(true);
      await pgServer.stop();
      if (!options.pglite) await pglite.close();
    },
  };
}
