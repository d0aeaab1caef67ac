/**
 * Probes: `GET /health` is liveness (the process answers), `GET /health/ready` readiness (the
 * database answers within a short timeout and the service is not draining). A load balancer
 * routes by readiness; a supervisor restarts by liveness — restarting a live process because its
 * database is down would not help.
 */
import { Hono } from "hono";
import type { Database } from "../../db/client.ts";
import type { AppEnv } from "../app.ts";

/** The readiness probe's route. */
export const READINESS_ROUTE = "/health/ready";

/** How long readiness waits for the database; a probe that hangs is worse than a 503. */
export const READY_PING_TIMEOUT_MS = 2_000;

/** What readiness looks at. */
export interface HealthDeps {
  database?: Database;
  /** False while the service is still starting. */
  isReady?: () => boolean;
  /** True from SIGTERM on: readiness answers 503 at once while in-flight requests finish. */
  isDraining?: () => boolean;
}

async function databaseAnswers(database: Database): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), READY_PING_TIMEOUT_MS);
  });
  try {
    return await Promise.race([database.ping().then(() => true, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `GET /health` and `GET /health/ready`.
 *
 * @example
 * app.route("/", healthRoutes({ database, isDraining: () => draining }));
 */
export function healthRoutes(deps: HealthDeps) {
  return new Hono<AppEnv>()
    .get("/health", function liveness(c) {
      return c.json({ status: "ok" as const }, 200);
    })
    .get(READINESS_ROUTE, async function readiness(c) {
      if (deps.isDraining?.()) return c.json({ status: "draining" as const }, 503);
      if (deps.isReady && !deps.isReady()) return c.json({ status: "starting" as const }, 503);
      if (deps.database && !(await databaseAnswers(deps.database))) return c.json({ status: "database_unavailable" as const }, 503);
      return c.json({ status: "ready" as const }, 200);
    });
}
